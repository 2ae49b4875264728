"""How a stage runs, decided once per stage and run, in one place.

Three paths, from the cheapest:

- **bare**: the body's coroutine *is* the stage's task; the scheduler describes its
  outcome when the task ends. Nothing may need to run around the body.
- **direct**: :func:`podium.running.execution.run_stage` runs in the task, with the
  cache, fallbacks, events and routes the stage needs, and calls the body itself.
- **full**: ``run_stage`` hands each attempt to the ``podium_execute_stage`` hook, under
  the stage's timeout and retry policy; the built-in implementation hands it to the
  stage's executor (:func:`executor_of`), which may run it elsewhere (a thread, a
  remote worker) while scheduling, caching, budgets and events stay here.

Either of the last two is **stored** when the run is recorded in a run store: the visit
is committed before the stage's task ends, so before its dependents start.

A new stage option that needs something around the body belongs in :func:`stage_path`
and nowhere else: every path is chosen here.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from podium.foundation.errors import install_hint, suggest

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Stage, Workflow


def executor_of(stage: Stage, workflow_default: str | None, engine_default: str | None) -> str:
    """The executor a stage's body runs on: the stage's own ``executor=``, else its
    workflow's, else the engine's configured ``executor``, else ``inline`` for an
    ``async def`` and ``thread`` for a plain function."""
    chosen = stage.executor or workflow_default or engine_default
    if chosen is not None:
        return chosen
    return "inline" if stage.is_async else "thread"


def executor_errors(
    plan: Plan, workflow: Workflow, engine_default: str | None, executors: Mapping[str, Any]
) -> list[str]:
    """Definition errors of the executors a run of ``workflow`` would use: unregistered
    ones, and what each executor's optional ``check(stage)`` finds."""
    errors: list[str] = []
    for stage in plan.stages:
        name = executor_of(stage, workflow.executor, engine_default)
        executor = executors.get(name)
        if executor is None:
            command = install_hint(f"executor {name}")
            errors.append(
                f"stage {stage.name!r} uses executor {name!r}{suggest(name, sorted(executors))}, which is "
                f"not registered (registered: {', '.join(sorted(executors))})"
                + (f"; install it with: {command}" if command else "")
            )
            continue
        check = getattr(executor, "check", None)
        if check is not None:
            errors.extend(check(stage))
    return errors


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
    #: The name of the executor the body runs on (:func:`executor_of`).
    executor: str = "inline"
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
    executor: str = "inline",
    stored: bool = False,
) -> StagePath:
    """Choose how ``stage`` runs.

    :param hooked: A plugin besides the built-in implements ``podium_execute_stage``.
    :param observed: A plugin listens to an event fired inside a stage's task.
    :param cached: The stage has a cache policy and the engine a result cache.
    :param routed: The run's router decides this stage's route.
    :param inline_cache: The result cache is in this process (hits need no awaiting).
    :param executor: The executor its body runs on (:func:`executor_of`).
    :param stored: The run is recorded in a run store (every visit goes through a task,
        which commits it).
    """
    policy = stage.cache
    cached = cached and policy is not None
    direct = (
        not hooked
        and stage.is_async
        and executor == "inline"
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
    return StagePath(bare, direct, cached, routed, inline_hits, executor, stored)


# Per plan, hook facts, routed stages and default executors, the paths: runs of one
# definition share them, so a run pays (almost) nothing per stage to classify.
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
    workflow_executor: str | None = None,
    engine_executor: str | None = None,
    stored: bool = False,
) -> Sequence[StagePath]:
    """:func:`stage_path` for every stage of ``plan`` (``routes`` says which ones route;
    the default executors are those of :func:`executor_of`)."""
    options = {
        "hooked": hooked,
        "observed": observed,
        "cached": cached,
        "inline_cache": inline_cache,
        "stored": stored,
    }
    routed = tuple(routes(stage) for stage in plan.stages) if routes is not None else ()
    key = (
        hooked,
        observed,
        cached,
        inline_cache,
        routed if any(routed) else (),
        workflow_executor,
        engine_executor,
        stored,
    )
    per_plan = _cache.setdefault(plan, {})
    paths = per_plan.get(key)
    if paths is None:
        flags = routed or (False,) * len(plan.stages)
        paths = per_plan[key] = [
            stage_path(
                stage, routed=flag, executor=executor_of(stage, workflow_executor, engine_executor), **options
            )
            for stage, flag in zip(plan.stages, flags, strict=True)
        ]
    return paths
