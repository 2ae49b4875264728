"""Reports of stored runs: a run store's records turned into a :class:`RunReport`.

The store keeps what the report draws: the run, its visits in order, its agent calls (for
usage per model) and the definition's fingerprint, from which the graph is rebuilt (its
stages in order, ``needs``, ``needs_any``, routes and ``max_visits``). Values are shown
as the store decodes them, which never imports a module or runs code; a pickled value is
not loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podium.contract.run_store import RunStore
from podium.definition.graph import StageShape, WorkflowGraph, build_graph
from podium.report.run_report import ModelUsage, ReportVisit, RunReport, shown_value
from podium.values.kpis import SloTargets
from podium.values.model import Budget
from podium.values.records import AgentCallRecord, RunFilter, RunRecord, VisitRecord
from podium.values.serialization import StoredValue, decode


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _route_targets(route: Any) -> tuple[bool, frozenset[str] | None]:
    """Whether a fingerprinted route exists, and the targets of a mapping route."""
    if not route:
        return False, None
    mapping = route.get("map") if isinstance(route, Mapping) else None
    if not isinstance(mapping, Mapping):
        return True, None
    targets: set[str] = set()
    for target in mapping.values():
        targets.update([target] if isinstance(target, str) else [t for t in target if isinstance(t, str)])
    return True, frozenset(targets)


def graph_from_fingerprint(workflow: str, fingerprint: Mapping[str, Any]) -> WorkflowGraph | None:
    """The graph of a stored definition fingerprint, or ``None`` when it holds no stages."""
    stages = fingerprint.get("stages")
    if not isinstance(stages, Mapping) or not stages:
        return None
    shapes = []
    for name, stage in stages.items():
        routes, targets = _route_targets(stage.get("route"))
        shapes.append(
            StageShape(
                str(name),
                tuple(stage.get("needs", ())),
                tuple(stage.get("needs_any", ())),
                routes,
                targets,
                int(stage.get("max_visits", 1)),
            )
        )
    return build_graph(workflow, shapes)


def _value(stored: StoredValue | None) -> str | None:
    if stored is None:
        return None
    if stored.format == "unserializable":
        return f"(not kept: {stored.payload!s})"
    if stored.format == "pickle":
        return "(pickled; not loaded here)"
    try:
        return shown_value(decode(stored))
    except ValueError as error:
        return f"(cannot be shown: {error})"


def visit_of(record: VisitRecord) -> ReportVisit:
    """A stored visit as the timeline draws it."""
    return ReportVisit(
        name=record.stage,
        visit=record.visit,
        status=record.status,
        started_at=_when(record.started_at),
        finished_at=_when(record.finished_at),
        duration_s=record.duration_s,
        attempts=record.attempts,
        usage=record.usage,
        saved=record.saved,
        route=record.route,
        error=record.error,
        reason=record.reason,
        fallback=record.fallback,
        value=_value(record.value),
        cache=record.cache,
    )


def models_of(calls: Iterable[AgentCallRecord]) -> tuple[ModelUsage, ...]:
    """Usage per model from a run's agent calls (calls served from a cache spent nothing)."""
    found: dict[tuple[str, str], ModelUsage] = {}
    for call in calls:
        if call.cached:
            continue
        before = found.get((call.provider, call.model), ModelUsage(call.model, call.provider))
        found[(call.provider, call.model)] = ModelUsage(
            call.model, call.provider, before.calls + 1, before.usage + call.usage
        )
    return tuple(found.values())


def report_of(
    run: RunRecord,
    visits: Sequence[VisitRecord],
    calls: Iterable[AgentCallRecord] = (),
    fingerprint: Mapping[str, Any] | None = None,
    slo: SloTargets | None = None,
) -> RunReport:
    """The report of a stored run (``slo``: the configured targets, else the defaults)."""
    budget = None
    if run.budget_tokens is not None or run.budget_cost_usd is not None:
        budget = Budget(tokens=run.budget_tokens, cost_usd=run.budget_cost_usd)
    target = (slo or SloTargets()).target(run.workflow, run.strategy)
    started = _when(run.started_at)
    assert started is not None
    return RunReport(
        run_id=run.run_id,
        workflow=run.workflow,
        status=run.status,
        started_at=started,
        finished_at=_when(run.finished_at),
        duration_s=run.duration_s if run.duration_s is not None else _elapsed(run),
        strategy=run.strategy or None,
        reason=run.reason,
        usage=run.usage,
        saved=run.saved,
        visits=tuple(visit_of(v) for v in visits),
        graph=graph_from_fingerprint(run.workflow, fingerprint) if fingerprint else None,
        models=models_of(calls),
        budget=budget,
        slo_s=target,
        cache_counts=_cache_counts(run),
    )


def _cache_counts(run: RunRecord) -> tuple[int, int] | None:
    """Hits and lookups of every kind of cache the run used (``None``: it used none)."""
    if not run.cache:
        return None
    return sum(h for h, _ in run.cache.values()), sum(h + m for h, m in run.cache.values())


def _elapsed(run: RunRecord) -> float:
    """How long a run still going has taken so far."""
    return max(datetime.now(UTC).timestamp() - run.started_at, 0.0)


async def stored_report(store: RunStore, run: RunRecord, slo: SloTargets | None = None) -> RunReport:
    """Read what the report of ``run`` needs from ``store``."""
    visits = await store.visits(run.run_id)
    calls = await store.agent_calls(RunFilter(id_prefix=run.run_id))
    fingerprint = await store.definition(run.definition_hash) if run.definition_hash else None
    return report_of(run, visits, [c for c in calls if c.run_id == run.run_id], fingerprint, slo)
