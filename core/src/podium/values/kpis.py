"""Key performance indicators from run records, and the SLO targets they are held to.

:func:`compute_kpis` turns run, visit and agent-call records (from the run store, or
the engine's live window) into the figures ``podium stats`` shows: totals, success
rate, duration avg/p50/p95 per workflow and per stage, the slowest stage, agent failure
rate, tokens and cost per run and against budget, cache hit rate, tokens and dollars
saved, and each workflow's SLO target against its actual durations.

Percentiles interpolate linearly between the closest ranks (as numpy's default and
``statistics.quantiles(method="inclusive")`` do).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from podium.values.records import INTERRUPTED, RUNNING, RunRecord
from podium.values.units import Duration

#: One stage visit as KPIs see it: (workflow, stage, status, duration in seconds).
StageSample = tuple[str, str, str, float]
#: One agent call as KPIs see it: (workflow, agent, failed).
CallSample = tuple[str, str, bool]

#: The seed's execution-time targets, seconds per run, by strategy.
DEFAULT_STRATEGY_TARGETS = {"sequential": 30.0, "parallel": 15.0, "conditional": 20.0}
#: The seed's target for the average run, seconds.
DEFAULT_AVERAGE_TARGET = 20.0

#: Visits whose duration is the stage's own work (cache hits and skips take none).
_RAN = frozenset({"succeeded", "failed"})


@attrs.define
class SloTargets:
    """The ``[slo]`` section: seconds a run may take, by strategy, workflow, and on average.

    A workflow's target is ``workflows[name]`` when given, else its strategy's. A target
    is met when the workflow's p95 duration is within it.
    """

    average: Duration = DEFAULT_AVERAGE_TARGET
    strategies: dict[str, Duration] = attrs.field(factory=lambda: dict(DEFAULT_STRATEGY_TARGETS))
    workflows: dict[str, Duration] = attrs.field(factory=dict)

    def target(self, workflow: str, strategy: str) -> float | None:
        return self.workflows.get(workflow, self.strategies.get(strategy))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, interpolated; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def durations(values: Sequence[float]) -> dict[str, float | None]:
    """Average, p50 and p95 of ``values`` (``None`` each when empty)."""
    return {
        "avg": sum(values) / len(values) if values else None,
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
    }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _run_figures(runs: Sequence[RunRecord]) -> dict[str, Any]:
    by_status: dict[str, int] = defaultdict(int)
    for run in runs:
        by_status[run.status] += 1
    ended = [r for r in runs if r.status != RUNNING]
    timed = [r.duration_s for r in ended if r.duration_s is not None and r.status != INTERRUPTED]
    tokens = [r.usage.total_tokens for r in ended]
    costs = [r.usage.cost_usd for r in ended]
    budgeted = [r for r in ended if r.budget_tokens or r.budget_cost_usd]
    shares = [_budget_share(r) for r in budgeted]
    return {
        "runs": len(runs),
        "by_status": dict(sorted(by_status.items())),
        "success_rate": _rate(by_status.get("succeeded", 0), len(ended)),
        "duration_s": durations(timed),
        "tokens": {"total": sum(tokens), "per_run": sum(tokens) / len(ended) if ended else None},
        "cost_usd": {"total": sum(costs), "per_run": sum(costs) / len(ended) if ended else None},
        "budget": {
            "runs_with_budget": len(budgeted),
            "over_budget": sum(1 for share in shares if share > 1),
            "avg_share_spent": sum(shares) / len(shares) if shares else None,
        },
    }


def _budget_share(run: RunRecord) -> float:
    shares = []
    if run.budget_tokens:
        shares.append(run.usage.total_tokens / run.budget_tokens)
    if run.budget_cost_usd:
        shares.append(run.usage.cost_usd / run.budget_cost_usd)
    return max(shares)


def _cache_figures(runs: Iterable[RunRecord]) -> dict[str, Any]:
    hits = misses = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for run in runs:
        for kind, (h, m) in run.cache.items():
            by_kind[kind][0] += h
            by_kind[kind][1] += m
            hits += h
            misses += m
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": _rate(hits, hits + misses),
        "by_kind": {
            kind: {"hits": h, "misses": m, "hit_rate": _rate(h, h + m)}
            for kind, (h, m) in sorted(by_kind.items())
        },
    }


def _stage_figures(samples: Iterable[StageSample]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    ran: dict[tuple[str, str], list[float]] = defaultdict(list)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for workflow, stage, status, duration in samples:
        key = (workflow, stage)
        counts[key][0] += 1
        if status == "failed":
            counts[key][1] += 1
        if status in _RAN:
            ran[key].append(duration)
    stages: dict[str, Any] = {}
    slowest: dict[str, Any] | None = None
    for (workflow, stage), (seen, failed) in sorted(counts.items()):
        figures = durations(ran.get((workflow, stage), []))
        stages.setdefault(workflow, {})[stage] = {"visits": seen, "failed": failed, "duration_s": figures}
        average = figures["avg"]
        if average is not None and (slowest is None or average > slowest["avg_s"]):
            slowest = {"workflow": workflow, "stage": stage, "avg_s": average}
    return stages, slowest


def _agent_figures(samples: Iterable[CallSample]) -> dict[str, Any]:
    per_agent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, agent, failed in samples:
        per_agent[agent][0] += 1
        per_agent[agent][1] += failed
    total = sum(c for c, _ in per_agent.values())
    failures = sum(f for _, f in per_agent.values())
    return {
        "calls": total,
        "failures": failures,
        "failure_rate": _rate(failures, total),
        "by_agent": {
            name: {"calls": c, "failures": f, "failure_rate": _rate(f, c)}
            for name, (c, f) in sorted(per_agent.items())
        },
    }


def compute_kpis(
    runs: Sequence[RunRecord],
    stages: Iterable[StageSample] = (),
    calls: Iterable[CallSample] = (),
    targets: SloTargets | None = None,
) -> dict[str, Any]:
    """Every KPI over ``runs``, the visits of their ``stages`` and their agent ``calls``."""
    targets = targets or SloTargets()
    by_workflow: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_workflow[run.workflow].append(run)
    workflows: dict[str, Any] = {}
    for name, own in sorted(by_workflow.items()):
        figures = _run_figures(own)
        strategy = own[-1].strategy
        target = targets.target(name, strategy)
        p95 = figures["duration_s"]["p95"]
        figures["slo"] = {
            "target_s": target,
            "avg_s": figures["duration_s"]["avg"],
            "p95_s": p95,
            "met": None if target is None or p95 is None else p95 <= target,
        }
        workflows[name] = figures
    overall = _run_figures(runs)
    average = overall["duration_s"]["avg"]
    per_stage, slowest = _stage_figures(stages)
    saved_tokens = sum(r.saved.total_tokens for r in runs)
    return {
        **overall,
        "slo": {
            "average": {
                "target_s": targets.average,
                "actual_s": average,
                "met": None if average is None else average <= targets.average,
            }
        },
        "workflows": workflows,
        "stages": per_stage,
        "slowest_stage": slowest,
        "agents": _agent_figures(calls),
        "cache": _cache_figures(runs),
        "saved": {
            "tokens": saved_tokens,
            "cost_usd": sum(r.saved.cost_usd for r in runs),
            "requests": sum(r.saved.requests for r in runs),
            "doc_requests": sum(r.docs.requests_avoided for r in runs),
            "doc_tokens_cut": sum(r.docs.tokens_cut for r in runs),
        },
    }


def success_rate(runs: Iterable[RunRecord]) -> tuple[int, int]:
    """(succeeded, ended) among ``runs``."""
    ended = [r for r in runs if r.status != RUNNING]
    return sum(1 for r in ended if r.status == "succeeded"), len(ended)


def agent_failures(calls: Iterable[CallSample]) -> Mapping[str, tuple[int, int]]:
    """(failed, calls) per agent."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, agent, failed in calls:
        counts[agent][0] += failed
        counts[agent][1] += 1
    return {name: (f, c) for name, (f, c) in counts.items()}


__all__ = [
    "DEFAULT_AVERAGE_TARGET",
    "DEFAULT_STRATEGY_TARGETS",
    "CallSample",
    "SloTargets",
    "StageSample",
    "agent_failures",
    "compute_kpis",
    "durations",
    "percentile",
    "success_rate",
]
