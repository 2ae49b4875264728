"""The ``conditional`` strategy: parallel scheduling plus run-time routes and bounded loops.

A stage's ``route=`` (or any plugin's ``podium_route``) names which of its direct
dependents run; the others, and what is reachable only through them, are skipped with
the route as reason. A route may also name an earlier stage whose ``max_visits`` > 1.

Two routing implementations ship with it, both configured in ``[plugins.conditional]``:
a rule table (this module, conditions on upstream values) and an agent-backed
classifier (:mod:`podium_conditional.classifier`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from podium import Context, Plan, RunState, Stage, Strategy, Workflow, hookimpl
from podium_conditional.routing import ConditionalRouter, routable, route_errors
from podium_conditional.settings import SECTION, ClassifierRule, ConditionalSettings, Rule
from podium_conditional.table import choose_by_rules
from podium_parallel import ParallelStrategy

__all__ = ["ClassifierRule", "ConditionalRouter", "ConditionalSettings", "ConditionalStrategy", "Rule"]


class ConditionalStrategy(ParallelStrategy):
    """The ``parallel`` strategy (critical path first) plus routes and bounded loops."""

    name = "conditional"

    def check(self, workflow: Workflow, plan: Plan) -> list[str]:
        return route_errors(workflow, plan)

    def router(self, run: RunState) -> ConditionalRouter | None:
        routed = routable(run)
        # No stage routes: the run is scheduled as `parallel` would schedule it.
        return ConditionalRouter(run, routed) if any(routed) else None


@hookimpl
def podium_register_strategies(register: Callable[[Strategy], None]) -> None:
    register(ConditionalStrategy())


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register(SECTION, ConditionalSettings)


@hookimpl(tryfirst=True)
def podium_route(stage: Stage, value: Any, ctx: Context, candidates: Sequence[str]) -> list[str] | None:
    """The rule table decides first: the first matching rule for the stage names its targets."""
    settings = ctx.run.config.section(SECTION)
    if not isinstance(settings, ConditionalSettings):
        return None
    return choose_by_rules(settings, stage, value, ctx)
