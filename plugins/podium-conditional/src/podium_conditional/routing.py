"""The conditional strategy's routing policy: which targets a route may name, and loop rules.

The kernel owns the mechanism (skipping what a route did not choose, resetting a loop's
region); this module decides what a route may choose. A route names direct dependents of
its stage, or — a bounded loop — the stage itself or an earlier stage (an ancestor)
whose ``max_visits`` is above 1, as long as that stage has had fewer rounds than its
``max_visits``. A route either loops back or goes forward, not both at once.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Sequence
from typing import Any

from podium import Context, Plan, RoutingError, RunState, Stage, Workflow
from podium_conditional.settings import SECTION, ConditionalSettings


def loop_targets(plan: Plan) -> dict[int, list[str]]:
    """Per stage index, the stages its route may loop back to: itself or ancestors with max_visits > 1.

    Only stages that may loop have entries, and a plan's are computed once for all its runs.
    """
    found = _loop_targets.get(plan)
    if found is None:
        found = _loop_targets[plan] = _find_loop_targets(plan)
    return found


_loop_targets: weakref.WeakKeyDictionary[Plan, dict[int, list[str]]] = weakref.WeakKeyDictionary()


def _find_loop_targets(plan: Plan) -> dict[int, list[str]]:
    targets: dict[int, list[str]] = {}
    for t, stage in enumerate(plan.stages):
        if stage.max_visits > 1:
            for i in (t, *plan.descendants(t)):
                targets.setdefault(i, []).append(stage.name)
    return targets


def routable(run: RunState) -> Sequence[bool]:
    """Per stage of ``run``'s plan, whether something may route the run after it.

    Those with a ``route=``, a rule or a classifier in ``[plugins.conditional]`` — or every
    stage with somewhere to go, when another plugin implements ``podium_route`` (its
    choices cannot be foreseen). Worked out once per plan, plugins and settings: the runs
    of one definition share it, so a run without routes pays nothing per stage.
    """
    plan = run.plan
    impls = tuple(run.hook.podium_route.get_hookimpls())
    settings = run.config.section(SECTION)
    found = _routable.get(plan)
    if found is not None and found[0] is settings and found[1] == impls:
        return found[2]
    foreseeable = all(impl.function.__module__ in FORESEEABLE for impl in impls)
    rules = settings if isinstance(settings, ConditionalSettings) else None
    loops = loop_targets(plan)
    flags = tuple(
        bool(plan.dependents[i] or i in loops)  # somewhere to go
        and (
            not foreseeable
            or stage.route is not None
            or (rules is not None and bool(rules.rules_for(stage.name) or rules.classifier_for(stage.name)))
        )
        for i, stage in enumerate(plan.stages)
    )
    # The settings are held, not only compared by identity, so a new object cannot take an old id.
    _routable[plan] = (settings, impls, flags)
    return flags


_routable: weakref.WeakKeyDictionary[Plan, tuple[object, tuple[Any, ...], tuple[bool, ...]]] = (
    weakref.WeakKeyDictionary()
)


def route_errors(workflow: Workflow, plan: Plan) -> list[str]:
    """Mapping routes whose targets are neither dependents nor allowed loop targets."""
    errors = []
    loop_back = loop_targets(plan)
    for i, stage in enumerate(plan.stages):
        targets = stage.route_targets
        if targets is None:
            continue
        allowed = {plan.stages[j].name for j in plan.dependents[i]}
        loops = set(loop_back.get(i, ()))
        # A target that is no stage at all is the workflow's own error, reported before this.
        for target in sorted(targets - allowed - loops):
            errors.append(
                f"stage {stage.name!r} routes to {target!r}, which is not one of its dependents "
                f"({', '.join(sorted(allowed)) or 'none'})"
            )
    return errors


#: ``podium_route`` implementations whose choices can be foreseen per stage: the kernel's
#: built-in (a stage's own ``route=``), this plugin's rule table and its classifier.
FORESEEABLE = frozenset(
    {"podium.engine.defaults.routing", "podium_conditional", "podium_conditional.classifier"}
)


class ConditionalRouter:
    """Routes one run: asks the ``podium_route`` hook, then holds the answer to the rules.

    Only the stages :func:`routable` names pay for routing.
    """

    def __init__(self, run: RunState, routed: Sequence[bool]) -> None:
        self._run = run
        self._routed = routed
        self._loops = loop_targets(run.plan)

    def routes(self, stage: Stage) -> bool:
        return self._routed[self._run.plan.index[stage.name]]

    async def choose(self, stage: Stage, value: Any, ctx: Context) -> tuple[str, ...] | None:
        run = self._run
        plan = run.plan
        i = plan.index[stage.name]
        dependents = [plan.stages[j].name for j in plan.dependents[i]]
        loops = self._loops.get(i, [])
        candidates = dependents + loops
        chosen: Any = run.hook.podium_route(stage=stage, value=value, ctx=ctx, candidates=candidates)
        if inspect.isawaitable(chosen):
            chosen = await chosen
        if chosen is None:
            return None
        targets = (chosen,) if isinstance(chosen, str) else tuple(chosen)
        self._check(stage, targets, dependents, loops)
        return targets

    def _check(self, stage: Stage, targets: Sequence[Any], dependents: list[str], loops: list[str]) -> None:
        run = self._run
        for target in targets:
            if not isinstance(target, str) or (target not in dependents and target not in loops):
                raise RoutingError(
                    f"stage {stage.name!r} routed to {target!r}, which is not one of its dependents "
                    f"({', '.join(dependents) or 'none'})"
                    + (f" nor an allowed loop target ({', '.join(loops)})" if loops else "")
                )
            if target in loops and target not in dependents:
                # Rounds, not only starts: a target skipped on every round must still bound the loop.
                done = max(run.visits(target), run.rounds(target))
                limit = run.plan.stages[run.plan.index[target]].max_visits
                if done >= limit:
                    raise RoutingError(
                        f"stage {stage.name!r} routed back to {target!r}, which already had {done} "
                        f"visit(s) (max_visits={limit})"
                    )
        looping = [t for t in targets if t in loops and t not in dependents]
        if looping and len(looping) != len(targets):
            raise RoutingError(
                f"stage {stage.name!r} routed both back to {', '.join(map(repr, looping))} and forward to "
                f"{', '.join(repr(t) for t in targets if t not in looping)}: a route either loops back or "
                "goes forward"
            )
