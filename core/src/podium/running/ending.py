"""How a run ended: its results in declaration order, its status, and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from podium.values.model import RunStatus, StageResult, StageStatus

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.values.model import Budget, Usage

_NOT_OK = frozenset({StageStatus.FAILED, StageStatus.CANCELLED})


def run_outcome(
    plan: Plan,
    results: Mapping[str, StageResult],
    status: RunStatus | None,
    *,
    budget: Budget | None,
    first_breach: str | None,
    halt_reason: str | None,
    usage: Usage,
    elapsed_s: float,
) -> tuple[dict[str, StageResult], RunStatus, str | None]:
    """The results in declaration order, the run's status and the reason it ended so.

    ``status`` is the one a stop decided (a timeout, a cancel), None when the stages'
    results decide; ``first_breach`` is the budget limit first exceeded, if any.
    """
    # In declaration order; one pass also finds the stages that did not succeed.
    ordered: dict[str, StageResult] = {}
    failed = []
    for stage in plan.stages:
        found = results.get(stage.name)
        if found is not None:
            ordered[stage.name] = found
            if found.status in _NOT_OK:
                failed.append(stage.name)
    if status is None:
        if first_breach is not None:
            status = RunStatus.BUDGET_EXCEEDED
        elif failed:
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED
    reason = None
    if status is RunStatus.BUDGET_EXCEEDED:
        assert budget is not None and first_breach is not None
        reason = overshoot(budget, usage, elapsed_s, first_breach)
    elif status is RunStatus.FAILED:
        reason = f"stage(s) {', '.join(map(repr, failed))} did not succeed"
    elif status is not RunStatus.SUCCEEDED:
        reason = halt_reason
    return ordered, status, reason


def overshoot(budget: Budget, usage: Usage, elapsed_s: float, first_breach: str) -> str:
    """How far past its budget a run went, from the first breach to the end."""
    final = budget.breach(usage, usage.cost_usd, elapsed_s) or first_breach
    spent = f"{budget.spent(usage, usage.cost_usd, elapsed_s):.1f}x the budget"
    if final == first_breach:
        return f"budget exceeded: {final} ({spent})"
    return (
        f"budget exceeded: {final} at the end ({spent}; first exceeded at {first_breach}, "
        "then the calls in flight finished)"
    )
