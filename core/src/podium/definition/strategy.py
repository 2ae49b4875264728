"""Strategies are scheduling *policies*; the scheduling loop itself lives once, in the kernel.

A strategy plugin registers an instance of a :class:`Strategy` subclass through
``podium_register_strategies``. It decides only what differs between strategies: how
many stages may run at once, which ready stage starts first, and whether routes are
honoured. Dependencies, failures, skips, budgets, timeouts and cancellation are the
kernel's (:mod:`podium.scheduler`), so every strategy gets them right the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Workflow


class Strategy:
    """Base class of scheduling policies. Override what differs; keep the rest."""

    #: The name workflows use in ``strategy=``.
    name: ClassVar[str] = ""
    #: Whether stages' ``route=`` (and the ``podium_route`` hook) decide which dependents run.
    honours_routes: ClassVar[bool] = False
    #: Whether a route may name an earlier stage whose ``max_visits`` > 1 (bounded loops).
    allows_loops: ClassVar[bool] = False

    def concurrency(self, workflow: Workflow) -> int | None:
        """At most this many stages run at once; ``None`` for no limit."""
        return workflow.max_concurrency

    def priorities(self, plan: Plan, estimates: Sequence[float]) -> Sequence[Any] | None:
        """A sort key per stage index: among ready stages the smallest starts first.

        ``None`` (the default) starts ready stages in declaration order. ``estimates``
        holds each stage's expected duration in seconds (declared ``estimate=``, else the
        engine's moving average of past runs, else 1.0).
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def critical_path_priorities(plan: Plan, estimates: Sequence[float]) -> list[tuple[float, int]]:
    """Priorities that start first the stage with the longest remaining path to the end.

    The remaining path of a stage is its own expected duration plus the longest
    remaining path among its dependents. Ties go to declaration order, so runs stay
    deterministic. Use it from :meth:`Strategy.priorities` when a concurrency cap binds.
    """
    remaining = [0.0] * len(plan.stages)
    for i in reversed(plan.order):
        tail = max((remaining[j] for j in plan.dependents[i]), default=0.0)
        remaining[i] = estimates[i] + tail
    return [(-remaining[i], i) for i in range(len(plan.stages))]
