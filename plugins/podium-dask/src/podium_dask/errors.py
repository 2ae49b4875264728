"""What podium-dask raises."""

from __future__ import annotations

import podium


class NotSerializable(podium.DefinitionError, TypeError):
    """A stage's function or an argument cannot be pickled, so it cannot go to a worker.

    Raised when the attempt is submitted; another attempt cannot fix it, so it is never retried.
    """


class WorkerLost(podium.PodiumError):
    """The Dask worker running a stage attempt died (killed, out of memory, its machine lost).

    Retried by the stage's :class:`podium.Retry` like any other failure of an attempt.
    """


class ClusterUnreachable(podium.ConfigError):
    """The configured Dask scheduler cannot be reached: the engine does not start."""
