"""What the dashboard reads: runs (filtered), a run's report, alerts, agents.

The dashboard only reads, through a :class:`RunSource`. :class:`RecorderSource` reads a
:class:`podium.report.ReportRecorder` registered on engines of the same process (an
application serving its own dashboard); the run store's source reads what every process
recorded. Filters from a query string are checked here, so a bad one is a clear message
before anything is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import attrs

from podium.engine.engine import Engine
from podium.report.live import ReportRecorder
from podium.report.run_report import RunReport
from podium.values.alerts import Alert

#: The statuses a run can have, as filters accept them.
STATUSES = ("running", "succeeded", "failed", "budget_exceeded", "timed_out", "cancelled", "interrupted")
DEFAULT_LIMIT = 200


@attrs.frozen
class RunFilters:
    """Which runs to list: of a workflow, with a status, started in [since, until), newest ``limit``."""

    workflow: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT

    def matches(self, report: RunReport) -> bool:
        return (
            (self.workflow is None or report.workflow == self.workflow)
            and (self.status is None or report.status == self.status)
            and (self.since is None or report.started_at >= self.since)
            and (self.until is None or report.started_at < self.until)
        )

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        found = {
            "workflow": self.workflow,
            "status": self.status,
            "since": self.since.date().isoformat() if self.since else None,
            "until": (self.until - timedelta(days=1)).date().isoformat() if self.until else None,
        }
        return {key: value for key, value in found.items() if value}


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a date: use YYYY-MM-DD (e.g. 2026-01-31)") from None


def parse_filters(params: Mapping[str, str]) -> RunFilters:
    """Filters from query parameters ``workflow``, ``status``, ``since``, ``until`` (dates,
    both included) and ``limit``; empty values mean no filter. A filter that cannot be
    used raises :class:`ValueError` saying which and why."""
    unknown = sorted(set(params) - {"workflow", "status", "since", "until", "limit"})
    if unknown:
        raise ValueError(f"unknown filter {unknown[0]!r}: use workflow, status, since, until or limit")
    values = {key: value.strip() for key, value in params.items() if value.strip()}
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise ValueError(f"status={status!r} is not a run status: one of {', '.join(STATUSES)}")
    since = until = None
    if "since" in values:
        since = datetime.combine(_day("since", values["since"]), time.min, UTC)
    if "until" in values:
        until = datetime.combine(_day("until", values["until"]) + timedelta(days=1), time.min, UTC)
    if since is not None and until is not None and until <= since:
        raise ValueError(f"until={values['until']!r} is before since={values['since']!r}")
    limit = DEFAULT_LIMIT
    if "limit" in values:
        try:
            limit = int(values["limit"])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 10_000:
            raise ValueError(f"limit={values['limit']!r} must be a whole number from 1 to 10000")
    return RunFilters(values.get("workflow"), status, since, until, limit)


@attrs.frozen
class AgentState:
    """An agent as the dashboard lists it: its breaker's state (``closed``, ``open``,
    ``half_open``; ``None`` without a breaker) and what it says, and its pool's use."""

    name: str
    provider: str
    model: str
    breaker: str | None = None
    breaker_detail: str = ""
    pool: str = ""

    @classmethod
    def from_description(cls, row: Mapping[str, Any]) -> AgentState:
        """From a managed agent's ``describe()`` (what ``podium agents --json`` prints)."""
        breaker = row.get("breaker") or {}
        detail = ""
        if breaker.get("state"):
            detail = f"{breaker.get('failures', 0)}/{breaker.get('threshold', '?')} failures"
            if breaker.get("last_error"):
                detail += f"; last: {breaker['last_error']}"
        pool = row.get("pool")
        return cls(
            name=str(row["name"]),
            provider=str(row.get("provider", "")),
            model=str(row.get("model", "")),
            breaker=breaker.get("state"),
            breaker_detail=detail,
            pool=f"{pool['in_use']}/{pool['size']} in use, {pool['waiting']} waiting" if pool else "",
        )


class RunSource(Protocol):
    """Where the dashboard reads from. Every method may raise; the page then says so."""

    #: Names the source on the pages (a store URL without its password, ...).
    name: str

    async def runs(self, filters: RunFilters) -> list[RunReport]:
        """The runs matching ``filters``, newest first."""
        ...

    async def report(self, run_id: str) -> RunReport | None:
        """A run's report (live while it runs), or ``None`` for an unknown id."""
        ...

    async def workflows(self) -> list[str]:
        """The workflows that have runs, for the filter's choices."""
        ...

    async def alerts(self, limit: int) -> list[Alert]:
        """The most recent alerts, newest first."""
        ...

    async def agents(self) -> list[AgentState] | None:
        """The agents and their breakers, or ``None`` when the source does not know them."""
        ...


class RecorderSource:
    """Reads a :class:`ReportRecorder` (and the alerts it saw) in this process, and, given
    the engine, its agents with their breakers and pools as they are now."""

    def __init__(self, recorder: ReportRecorder, engine: Engine | None = None) -> None:
        self.recorder = recorder
        self.name = "this process"
        self._engine = engine

    async def runs(self, filters: RunFilters) -> list[RunReport]:
        reports = [self.recorder.report(run_id) for run_id in reversed(self.recorder.run_ids())]
        return [r for r in reports if filters.matches(r)][: filters.limit]

    async def report(self, run_id: str) -> RunReport | None:
        return self.recorder.report(run_id) if run_id in self.recorder.run_ids() else None

    async def workflows(self) -> list[str]:
        return sorted({self.recorder.report(run_id).workflow for run_id in self.recorder.run_ids()})

    async def alerts(self, limit: int) -> list[Alert]:
        return list(reversed(self.recorder.alerts))[:limit]

    async def agents(self) -> list[AgentState] | None:
        if self._engine is None:
            return None
        registry = self._engine.agents
        return [
            AgentState.from_description(await registry.managed(name).describe()) for name in sorted(registry)
        ]
