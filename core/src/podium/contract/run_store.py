"""The run store contract: what a store from ``podium_run_store`` offers the kernel.

A run store keeps a record per run, per stage visit and per agent call
(:mod:`podium.values.records`), the alerts raised, agents' circuit breaker changes, and
each workflow definition's fingerprint. The engine writes through it as runs go (a
stage's visit is committed before its dependents start, so a killed run can be
resumed); ``podium runs``, ``resume``, ``stats``, ``alerts``, ``cost``, ``report`` and
``ui`` read it. Podium's own store is SQLite (``sqlite:///path``); a plugin adds another
(PostgreSQL, say) by answering ``podium_run_store`` for its URL scheme with an object
implementing :class:`RunStore`.

Every method is a coroutine and may raise on a broken store: the engine then warns once
and goes on without recording (a run never fails because of its store), and a command
reading the store reports the error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from podium.values.alerts import Alert
from podium.values.records import AgentCallRecord, BreakerChange, RunFilter, RunRecord, VisitRecord


@runtime_checkable
class RunStore(Protocol):
    """A place that keeps runs, their stage visits, agent calls and alerts.

    ``url`` names it in messages (no password); ``serializer`` is how it keeps values
    (``"json"``, or ``"pickle"`` for a trusted store), so a reader knows whether a
    pickled value may be loaded from it.
    """

    url: str
    serializer: str

    async def open(self) -> list[str]:
        """Create or migrate the store; mark runs whose process died as interrupted.

        Returns the ids of the runs it found interrupted now. Raises
        :class:`podium.RunStoreError` when the store cannot be used (a file written by a
        newer Podium, a path that is a directory, ...).
        """
        ...

    async def close(self) -> None:
        """Write what is pending and release the store."""
        ...

    async def start_run(
        self, run: RunRecord, definition: Mapping[str, Any], visits: Sequence[VisitRecord] = ()
    ) -> None:
        """Record a run that starts (status ``running``), its definition's fingerprint, and
        the visits it starts with (the results a resume reused), all in one transaction."""
        ...

    async def commit_visit(self, visit: VisitRecord, calls: Sequence[AgentCallRecord]) -> None:
        """Durably record a stage visit and the agent calls made in it; return once committed."""
        ...

    async def finish_run(
        self, run: RunRecord, visits: Sequence[VisitRecord], calls: Sequence[AgentCallRecord]
    ) -> None:
        """Record how a run ended, with every visit (``seq`` gives their order) and the
        agent calls not yet committed."""
        ...

    async def heartbeat(self, run_ids: Sequence[str]) -> None:
        """Mark these runs as still running now."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or ``None``."""
        ...

    async def runs(self, where: RunFilter) -> list[RunRecord]:
        """The runs matching ``where``, newest first."""
        ...

    async def visits(self, run_id: str) -> list[VisitRecord]:
        """Every visit of a run, in ``seq`` order, with values."""
        ...

    async def stage_samples(self, where: RunFilter) -> list[tuple[str, str, str, float]]:
        """``(workflow, stage, status, duration_s)`` of every visit of the runs matching
        ``where``: what KPIs need of them, without building records."""
        ...

    async def agent_calls(self, where: RunFilter) -> list[AgentCallRecord]:
        """The agent calls of the runs matching ``where``."""
        ...

    async def call_samples(self, where: RunFilter) -> list[tuple[str, str, bool]]:
        """``(workflow, agent, failed)`` of every agent call of the runs matching ``where``."""
        ...

    async def definition(self, definition_hash: str) -> dict[str, Any] | None:
        """A definition fingerprint recorded by :meth:`start_run`, or ``None``."""
        ...

    async def record_alert(self, alert: Alert) -> None:
        """Keep an alert that was raised."""
        ...

    async def alerts(self, where: RunFilter) -> list[Alert]:
        """Alerts raised (``since``, ``workflow``, ``limit`` apply), newest first."""
        ...

    async def record_breaker_change(self, change: BreakerChange) -> None:
        """Keep a change of an agent's circuit breaker."""
        ...

    async def breaker_states(self) -> list[BreakerChange]:
        """Each agent's latest breaker change (its state as last recorded), by agent name."""
        ...

    async def prune(self, before: float) -> int:
        """Delete runs that ended before ``before`` (epoch seconds), with their visits, calls
        and alerts, and older breaker changes (each agent's latest is kept); returns how
        many runs were deleted. Running runs are kept."""
        ...


__all__ = ["RunStore"]
