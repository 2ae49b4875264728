"""The ``parallel`` strategy: a stage starts the moment its last dependency finishes.

Bounded by the workflow's ``max_concurrency``. When more stages are ready than the cap
allows, the one with the longest remaining path to the end (weighted by expected
durations) starts first, so the makespan stays close to the critical path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from podium import Plan, Strategy, critical_path_priorities, hookimpl

__all__ = ["ParallelStrategy"]


class ParallelStrategy(Strategy):
    """Event-driven dependency-graph scheduling; critical path first when a cap binds."""

    name = "parallel"

    def priorities(self, plan: Plan, estimates: Sequence[float]) -> Sequence[Any] | None:
        return critical_path_priorities(plan, estimates)


@hookimpl
def podium_register_strategies(register: Callable[[Strategy], None]) -> None:
    register(ParallelStrategy())
