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

from podium import Context, Plan, Stage, Strategy, critical_path_priorities, hookimpl
from podium_conditional.settings import SECTION, ClassifierRule, ConditionalSettings, Rule
from podium_conditional.table import choose_by_rules

__all__ = ["ClassifierRule", "ConditionalSettings", "ConditionalStrategy", "Rule"]


class ConditionalStrategy(Strategy):
    """Parallel, critical-path-first scheduling that honours routes and bounded loops."""

    name = "conditional"
    honours_routes = True
    allows_loops = True

    def priorities(self, plan: Plan, estimates: Sequence[float]) -> Sequence[Any] | None:
        return critical_path_priorities(plan, estimates)


@hookimpl
def podium_register_strategies(register: Callable[[Strategy], None]) -> None:
    register(ConditionalStrategy())


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register(SECTION, ConditionalSettings)


@hookimpl(tryfirst=True)
def podium_route(stage: Stage, value: Any, ctx: Context, candidates: Sequence[str]) -> list[str] | None:
    """The rule table decides first: the first matching rule for the stage names its targets."""
    settings = ctx.engine.config.section(SECTION)
    if not isinstance(settings, ConditionalSettings):
        return None
    return choose_by_rules(settings, stage, value, ctx)
