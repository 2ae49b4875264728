"""What a run report is drawn from: a run's visits, its workflow's graph, usage per model.

A :class:`RunReport` is plain data, built from a finished :class:`podium.RunResult`
(:meth:`RunReport.from_result`) or from the JSON form that ``podium run --json`` prints
and the run store keeps (:meth:`RunReport.from_json`), so a report looks the same
whichever way the run reached it. Values are kept as short text (their ``repr``), never
as objects: a report can be stored, served and rendered without running user code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from podium.cli.console import visit_dict
from podium.definition.graph import WorkflowGraph
from podium.values.kpis import DEFAULT_AVERAGE_TARGET, DEFAULT_STRATEGY_TARGETS
from podium.values.model import ZERO_USAGE, Budget, RunResult, Usage

#: The seed's execution-time targets per strategy, in seconds (its "average" for the rest),
#: the defaults of the ``[slo]`` configuration.
SLO_TARGETS_S: Mapping[str, float] = DEFAULT_STRATEGY_TARGETS
DEFAULT_SLO_S = DEFAULT_AVERAGE_TARGET

#: How much of a value's text a report keeps.
VALUE_CHARS = 300

#: The visit status of a stage still running (a live run's report).
RUNNING = "running"


def _usage(data: Mapping[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    return Usage(
        input_tokens=int(data.get("input_tokens", 0)),
        output_tokens=int(data.get("output_tokens", 0)),
        cache_read_tokens=int(data.get("cache_read_tokens", 0)),
        cache_write_tokens=int(data.get("cache_write_tokens", 0)),
        requests=int(data.get("requests", 0)),
        cost_usd=float(data.get("cost_usd", 0.0)),
    )


def _usage_json(usage: Usage) -> dict[str, Any]:
    return {**attrs.asdict(usage), "total_tokens": usage.total_tokens}


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def shown_value(value: Any) -> str | None:
    """A value as a report shows it: its text (``repr`` unless a string), cut to ``VALUE_CHARS``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


@attrs.frozen
class RetryMark:
    """An attempt that failed and was retried, at ``at_s`` seconds after the run started."""

    attempt: int
    at_s: float
    error: str = ""


@attrs.frozen
class ReportVisit:
    """One visit of a stage: what the timeline draws as one bar."""

    name: str
    visit: int
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    attempts: int = 0
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE
    route: tuple[str, ...] | None = None
    error: str | None = None
    reason: str | None = None
    fallback: bool = False
    value: str | None = None
    retries: tuple[RetryMark, ...] = ()
    #: What a result cache did for it, when known: ``hit``, ``coalesced``, ``miss``, ``restored``.
    cache: str | None = None
    #: Which item of a mapped stage it ran (the item's key), or ``None``.
    item: str | None = None

    @property
    def label(self) -> str:
        if self.item is not None:
            return f"{self.name}[{self.item}]"
        return self.name if self.visit == 1 else f"{self.name} #{self.visit}"

    @property
    def loop(self) -> bool:
        """Whether a loop brought the run back to it (a later visit that is not an item)."""
        return self.visit > 1 and self.item is None

    @property
    def ran(self) -> bool:
        """Whether the visit has a start on the clock (it ran, or is running)."""
        return self.started_at is not None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportVisit:
        route = data.get("route")
        return cls(
            name=str(data["name"]),
            visit=int(data.get("visit", 1)),
            status=str(data["status"]),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            duration_s=float(data.get("duration_s", 0.0)),
            attempts=int(data.get("attempts", 0)),
            usage=_usage(data.get("usage")),
            saved=_usage(data.get("saved")),
            route=tuple(route) if route is not None else None,
            error=data.get("error"),
            reason=data.get("reason"),
            fallback=bool(data.get("fallback", False)),
            value=shown_value(data.get("value")),
            retries=tuple(
                RetryMark(int(r["attempt"]), float(r["at_s"]), str(r.get("error", "")))
                for r in data.get("retries", ())
            ),
            cache=data.get("cache"),
            item=None if data.get("item_key") is None else str(data["item_key"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "visit": self.visit,
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration_s,
            "attempts": self.attempts,
            "usage": _usage_json(self.usage),
            "saved": _usage_json(self.saved),
            "route": list(self.route) if self.route is not None else None,
            "error": self.error,
            "reason": self.reason,
            "fallback": self.fallback,
            "value": self.value,
            "retries": [attrs.asdict(r) for r in self.retries],
            "cache": self.cache,
            "item_key": self.item,
        }


@attrs.frozen
class ModelUsage:
    """What one model was asked in a run: calls, tokens, cost."""

    model: str
    provider: str = ""
    calls: int = 0
    usage: Usage = ZERO_USAGE

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelUsage:
        return cls(
            str(data["model"]),
            str(data.get("provider", "")),
            int(data.get("calls", 0)),
            _usage(data.get("usage")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "calls": self.calls,
            "usage": _usage_json(self.usage),
        }


def _budget(data: Mapping[str, Any] | None) -> Budget | None:
    if not data:
        return None
    return Budget(tokens=data.get("tokens"), cost_usd=data.get("cost_usd"), duration_s=data.get("duration_s"))


@attrs.frozen
class RunReport:
    """A run as the report shows it. ``status`` is ``running`` while the run goes on."""

    run_id: str
    workflow: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float = 0.0
    strategy: str | None = None
    reason: str | None = None
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE
    visits: tuple[ReportVisit, ...] = ()
    graph: WorkflowGraph | None = None
    models: tuple[ModelUsage, ...] = ()
    budget: Budget | None = None
    #: The run's execution-time target in seconds (default: the seed's, per strategy).
    slo_s: float | None = None
    #: Result-cache hits and lookups, when known beyond the visits (a stored run's).
    cache_counts: tuple[int, int] | None = None

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def slo_target_s(self) -> float:
        if self.slo_s is not None:
            return self.slo_s
        return SLO_TARGETS_S.get(self.strategy or "", DEFAULT_SLO_S)

    @classmethod
    def from_result(
        cls,
        result: RunResult,
        *,
        graph: WorkflowGraph | None = None,
        strategy: str | None = None,
        budget: Budget | None = None,
        models: Iterable[ModelUsage] = (),
        slo_s: float | None = None,
        visits: Iterable[ReportVisit] | None = None,
    ) -> RunReport:
        """The report of a finished run (``graph``: :func:`podium.report.workflow_graph`;
        ``visits``: already converted visits of ``result.history``, in its order)."""
        return cls(
            run_id=result.run_id,
            workflow=result.workflow,
            status=result.status.value,
            started_at=result.started_at,
            finished_at=result.finished_at,
            duration_s=result.duration_s,
            strategy=strategy,
            reason=result.reason,
            usage=result.usage,
            saved=result.saved,
            visits=tuple(visits)
            if visits is not None
            else tuple(ReportVisit.from_json(visit_dict(v)) for v in result.history),
            graph=graph,
            models=tuple(models),
            budget=budget,
            slo_s=slo_s,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunReport:
        """A report from :meth:`to_json`, or from ``podium run --json`` output (no graph)."""
        visits = tuple(ReportVisit.from_json(v) for v in data.get("history", ()))
        started = _time(data.get("started_at")) or min(
            (v.started_at for v in visits if v.started_at), default=datetime.fromtimestamp(0).astimezone()
        )
        graph = data.get("graph")
        budget = data.get("budget")
        return cls(
            run_id=str(data["run_id"]),
            workflow=str(data["workflow"]),
            status=str(data["status"]),
            started_at=started,
            finished_at=_time(data.get("finished_at")),
            duration_s=float(data.get("duration_s", 0.0)),
            strategy=data.get("strategy"),
            reason=data.get("reason"),
            usage=_usage(data.get("usage")),
            saved=_usage(data.get("saved")),
            visits=visits,
            graph=WorkflowGraph.from_json(graph) if graph else None,
            models=tuple(ModelUsage.from_json(m) for m in data.get("models", ())),
            budget=_budget(budget if isinstance(budget, Mapping) else None),
            slo_s=data.get("slo_s"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration_s,
            "strategy": self.strategy,
            "reason": self.reason,
            "usage": _usage_json(self.usage),
            "saved": _usage_json(self.saved),
            "history": [v.to_json() for v in self.visits],
            "graph": self.graph.to_json() if self.graph else None,
            "models": [m.to_json() for m in self.models],
            "budget": attrs.asdict(self.budget) if self.budget else None,
            "slo_s": self.slo_s,
        }

    def stage_names(self) -> Sequence[str]:
        """Stages in graph order when the graph is known, else in the order they were visited."""
        if self.graph is not None:
            return [node.name for node in self.graph.nodes]
        return list(dict.fromkeys(v.name for v in self.visits))
