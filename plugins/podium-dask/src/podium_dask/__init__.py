"""podium-dask: stage bodies, and whole workflows, on a Dask distributed cluster.

Installed, this module is loaded through the ``dask`` entry point and registers the
executor ``dask``: a stage with ``executor="dask"`` (or a workflow or engine whose default
executor it is) runs its body on a Dask worker, while scheduling, caching, budgets,
events and tracing stay in the engine. Configure the cluster in ``[plugins.dask]``
(:class:`DaskSettings`): a scheduler ``address``, or a LocalCluster the engine starts and
stops. :func:`cluster_runs` runs whole workflows on the workers instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import podium
from podium_dask.context import WorkerContext
from podium_dask.errors import ClusterUnreachable, NotSerializable, WorkerLost
from podium_dask.executor import DaskExecutor
from podium_dask.settings import DaskSettings

if TYPE_CHECKING:
    from podium_dask.workflows import ClusterRuns, cluster_runs

__version__ = "0.1.0"

__all__ = [
    "ClusterRuns",
    "ClusterUnreachable",
    "DaskExecutor",
    "DaskSettings",
    "NotSerializable",
    "WorkerContext",
    "WorkerLost",
    "__version__",
    "cluster_runs",
    "executor_for",
]


@podium.hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register("dask", DaskSettings)


@podium.hookimpl
def podium_register_executors(register: Callable[[str, podium.Executor], None]) -> None:
    register("dask", DaskExecutor())


@podium.hookimpl
def podium_engine_started(engine: podium.Engine) -> Awaitable[None] | None:
    executor = executor_for(engine)
    if executor is None:
        return None
    executor.cluster.settings = engine.config.section("dask")
    settings = engine.config.settings
    if "dask" in settings.plugins or settings.executor == "dask":
        # Configured: connect now, so an unreachable scheduler fails the start, not a stage.
        return _connected(executor)
    return None  # installed but not configured: a LocalCluster starts on the first dask stage


@podium.hookimpl
def podium_engine_stopping(engine: podium.Engine) -> Awaitable[None] | None:
    executor = executor_for(engine)
    return None if executor is None else executor.cluster.close()


def executor_for(engine: podium.Engine) -> DaskExecutor | None:
    """The engine's ``dask`` executor (its ``cluster.client`` is the Dask client), if any."""
    executor = engine.executors.get("dask")
    return executor if isinstance(executor, DaskExecutor) else None


async def _connected(executor: DaskExecutor) -> None:
    await executor.cluster.connect()


def __getattr__(name: str) -> Any:
    # Whole-workflow mode imports distributed: loaded when first asked for, not with the plugin.
    if name in ("ClusterRuns", "cluster_runs"):
        from podium_dask import workflows

        return getattr(workflows, name)
    raise AttributeError(f"module 'podium_dask' has no attribute {name!r}")
