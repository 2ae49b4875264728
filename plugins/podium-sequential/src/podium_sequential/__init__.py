"""The ``sequential`` strategy: one stage at a time, in dependency order."""

from __future__ import annotations

from collections.abc import Callable

from podium import Strategy, Workflow, hookimpl


class SequentialStrategy(Strategy):
    """Runs one stage at a time; among ready stages, the one declared first."""

    name = "sequential"

    def concurrency(self, workflow: Workflow) -> int:
        return 1


@hookimpl
def podium_register_strategies(register: Callable[[Strategy], None]) -> None:
    register(SequentialStrategy())
