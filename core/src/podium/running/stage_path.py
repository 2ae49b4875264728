"""How a stage runs, decided once per stage and run, in one place.

Three paths, from the cheapest:

- **bare**: the body's coroutine *is* the stage's task; the scheduler describes its
  outcome when the task ends. Nothing may need to run around the body.
- **direct**: :func:`podium.running.execution.run_stage` runs in the task, with the
  cache, fallbacks, events and routes the stage needs, and calls the body itself.
- **full**: ``run_stage`` hands each attempt to the ``podium_execute_stage`` hook, under
  the stage's timeout and retry policy.

Either of the last two is **stored** when the run is recorded in a run store: the visit
is committed before the stage's task ends, so before its dependents start.

A new stage option that needs something around the body belongs in :func:`stage_path`
and nowhere else: every path is chosen here.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Stage


@attrs.frozen
class StagePath:
    """How one stage runs in one run."""

    #: The body is the task itself (no wrapper, no event in the task, no cache, route,
    #: fallback, retry or deadline).
    bare: bool
    #: ``run_stage`` calls the body itself instead of through ``podium_execute_stage``
    #: (one attempt, no deadline, an ``async def`` on the event loop, no hook wrapper).
    direct: bool
    #: The stage's result is looked up in and stored to the result cache.
    cached: bool
    #: The run's router decides where the run goes after this stage.
    routed: bool
    #: A hit is served by the scheduler at once, with no task (an in-process cache that
    #: is read, not refreshed, and no route to decide).
    inline_hits: bool = False
    #: The visit is committed to the run store before the task ends (so before any
    #: dependent starts): ``run_stored_stage`` runs the stage.
    stored: bool = False


def stage_path(
    stage: Stage,
    *,
    hooked: bool,
    observed: bool,
    cached: bool,
    routed: bool,
    inline_cache: bool = False,
    stored: bool = False,
) -> StagePath:
    """Choose how ``stage`` runs.

    :param hooked: A plugin besides the built-in implements ``podium_execute_stage``.
    :param observed: A plugin listens to an event fired inside a stage's task.
    :param cached: The stage has a cache policy and the engine a result cache.
    :param routed: The run's router decides this stage's route.
    :param inline_cache: The result cache is in this process (hits need no awaiting).
    :param stored: The run is recorded in a run store (every visit goes through a task,
        which commits it).
    """
    policy = stage.cache
    cached = cached and policy is not None
    direct = (
        not hooked
        and stage.is_async
        and stage.executor == "inline"
        and stage.retry is None
        and stage.timeout is None
    )
    bare = direct and not (observed or cached or routed or stored or stage.has_fallback)
    inline_hits = (
        cached
        and inline_cache
        and not routed
        and not stored
        and policy is not None
        and policy.read
        and not policy.refresh
    )
    return StagePath(bare, direct, cached, routed, inline_hits, stored)


# Per plan, hook facts and routed stages, the paths: runs of one definition share them,
# so a run pays (almost) nothing per stage to classify.
_cache: weakref.WeakKeyDictionary[Plan, dict[tuple[object, ...], list[StagePath]]] = (
    weakref.WeakKeyDictionary()
)


def stage_paths(
    plan: Plan,
    *,
    hooked: bool,
    observed: bool,
    cached: bool,
    routes: Callable[[Stage], bool] | None,
    inline_cache: bool = False,
    stored: bool = False,
) -> Sequence[StagePath]:
    """:func:`stage_path` for every stage of ``plan`` (``routes`` says which ones route)."""
    options = {
        "hooked": hooked,
        "observed": observed,
        "cached": cached,
        "inline_cache": inline_cache,
        "stored": stored,
    }
    routed = tuple(routes(stage) for stage in plan.stages) if routes is not None else ()
    key = (hooked, observed, cached, inline_cache, stored, routed if any(routed) else ())
    per_plan = _cache.setdefault(plan, {})
    paths = per_plan.get(key)
    if paths is None:
        flags = routed or (False,) * len(plan.stages)
        paths = per_plan[key] = [
            stage_path(stage, routed=flag, **options) for stage, flag in zip(plan.stages, flags, strict=True)
        ]
    return paths
