"""The ``parallel`` strategy: a stage starts the moment its last dependency finishes.

Bounded by the workflow's ``max_concurrency``. When more stages are ready than the cap
allows, the one with the longest remaining path to the end (weighted by expected
durations) starts first, so the makespan stays close to the critical path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from podium import Plan, Strategy, hookimpl

__all__ = ["ParallelStrategy", "critical_path_priorities"]


def critical_path_priorities(plan: Plan, estimates: Sequence[float]) -> list[tuple[float, int]]:
    """Priorities that start first the stage with the longest remaining path to the end.

    The remaining path of a stage is its own expected duration plus the longest
    remaining path among its dependents. Ties go to declaration order, so runs stay
    deterministic. Use it from :meth:`podium.Strategy.priorities` when a cap binds.
    """
    remaining = [0.0] * len(plan.stages)
    for i in reversed(plan.order):
        tail = max((remaining[j] for j in plan.dependents[i]), default=0.0)
        remaining[i] = estimates[i] + tail
    return [(-remaining[i], i) for i in range(len(plan.stages))]


class ParallelStrategy(Strategy):
    """Event-driven dependency-graph scheduling; critical path first when a cap binds."""

    name = "parallel"

    def priorities(self, plan: Plan, estimates: Sequence[float]) -> list[tuple[float, int]]:
        return critical_path_priorities(plan, estimates)


@hookimpl
def podium_register_strategies(register: Callable[[Strategy], None]) -> None:
    register(ParallelStrategy())
