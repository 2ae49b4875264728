"""Running one stage inside its task: cache lookup, attempts with timeout and retry, fallback, route."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.foundation.errors import CacheKeyError, PluginError, RoutingError, StageTimeout
from podium.running.context import Context
from podium.values.model import StageResult, StageStatus, Usage

if TYPE_CHECKING:
    from podium.definition.workflow import Stage
    from podium.running.scheduler import Run

_log = logging.getLogger("podium.stage")


async def run_stage(run: Run, stage: Stage, visit: int) -> StageResult:
    """Run ``stage`` for ``run`` and describe the outcome; never raises but for cancellation."""
    ctx = Context(run, stage, visit)
    kwargs = run.arguments(stage)
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()
    if stage.cache is not None and run.engine.result_cache.enabled:
        return await _run_cached(run, stage, ctx, kwargs, started_at, t0, visit)
    run.events.emit("podium_stage_started", run=run, stage=stage, ctx=ctx)
    try:
        if (
            run.direct_execution
            and stage.is_async
            and stage.executor == "inline"
            and stage.retry is None
            and stage.timeout is None
        ):
            # Only the built-in podium_execute_stage is installed, and this stage has one
            # attempt without a deadline: call the body itself, as the built-in would.
            if stage.context_parameter is not None:
                kwargs[stage.context_parameter] = ctx
            value = await stage.fn(**kwargs)
        else:
            value = await _attempts(run, stage, ctx, kwargs)
    except Exception as error:
        return await _recover(run, stage, ctx, error, started_at, t0, visit)
    result = _succeeded(stage, ctx, value, started_at, t0, visit)
    if run.routes:
        return await _succeed(run, stage, ctx, result)
    run.events.emit("podium_stage_finished", run=run, stage=stage, result=result)
    return result


async def _run_cached(
    run: Run, stage: Stage, ctx: Context, kwargs: dict[str, Any], started_at: datetime, t0: float, visit: int
) -> StageResult:
    """The cached path: key, lookup or shared execution (single-flight), store, savings."""
    policy = stage.cache
    assert policy is not None
    cache = run.engine.result_cache
    events = run.events
    try:
        key = run.engine.hook.podium_cache_key(stage=stage, kwargs=kwargs, policy=policy, run=run)
    except Exception as error:
        if not isinstance(error, CacheKeyError):
            error = CacheKeyError(f"stage {stage.name!r}: computing its cache key failed: {error!r}")
        return _fail(run, stage, ctx, error, started_at, t0, visit)
    if key is None:
        return _fail(
            run,
            stage,
            ctx,
            PluginError(f"no plugin computed the cache key of stage {stage.name!r}"),
            started_at,
            t0,
            visit,
        )

    def on_miss() -> None:
        events.emit("podium_cache_miss", run=run, stage=stage, kind="stage", key=key)

    def execute() -> Coroutine[Any, Any, tuple[Any, Usage]]:
        # Called in this stage's task, so context variables set by observers reach the body.
        events.emit("podium_stage_started", run=run, stage=stage, ctx=ctx)
        return _attempts_with_usage(run, stage, ctx, kwargs)

    try:
        outcome = await cache.get_or_run(
            key,
            execute,
            ttl=policy.ttl,
            read=policy.read,
            write=policy.write,
            refresh=policy.refresh,
            on_miss=on_miss,
        )
    except Exception as error:
        return await _recover(run, stage, ctx, error, started_at, t0, visit)
    if not outcome.hit:
        return await _succeed(run, stage, ctx, _succeeded(stage, ctx, outcome.value, started_at, t0, visit))
    ctx.record_saved(outcome.saved)
    events.emit("podium_cache_hit", run=run, stage=stage, kind="stage", key=key, saved=outcome.saved)
    result = StageResult(
        stage.name,
        StageStatus.CACHED,
        value=outcome.value,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        duration_s=time.perf_counter() - t0,
        saved=ctx.saved,
        visits=visit,
        reason="coalesced with an identical call in flight" if outcome.source == "coalesced" else None,
    )
    return await _succeed(run, stage, ctx, result)


async def _attempts_with_usage(
    run: Run, stage: Stage, ctx: Context, kwargs: dict[str, Any]
) -> tuple[Any, Usage]:
    return await _attempts(run, stage, ctx, kwargs), ctx.usage


def succeeded(
    name: str,
    value: Any,
    attempts: int,
    started_at: datetime,
    t0: float,
    usage: Usage,
    saved: Usage,
    visit: int,
    fallback: bool = False,
) -> StageResult:
    """A success result, timed from ``t0`` (``time.perf_counter``) to now; built once per stage."""
    # Positional: attrs' keyword call costs three times as much, and this runs per stage.
    # (name, status, value, error, reason, attempts, started_at, finished_at, duration_s,
    #  usage, saved, route, visits, fallback)
    return StageResult(
        name,
        StageStatus.SUCCEEDED,
        value,
        None,
        None,
        attempts,
        started_at,
        datetime.now(UTC),
        time.perf_counter() - t0,
        usage,
        saved,
        None,
        visit,
        fallback,
    )


def _succeeded(
    stage: Stage,
    ctx: Context,
    value: Any,
    started_at: datetime,
    t0: float,
    visit: int,
    fallback: bool = False,
) -> StageResult:
    return succeeded(stage.name, value, ctx.attempt, started_at, t0, ctx.usage, ctx.saved, visit, fallback)


async def _recover(
    run: Run, stage: Stage, ctx: Context, error: Exception, started_at: datetime, t0: float, visit: int
) -> StageResult:
    """A failed body: its fallback value (never cached) when it has one, else a failed result."""
    if not stage.has_fallback:
        return _fail(run, stage, ctx, error, started_at, t0, visit)
    try:
        value = await _fallback_value(stage, error)
    except Exception as handler_error:
        return _fail(run, stage, ctx, handler_error, started_at, t0, visit)
    _log.warning(
        "stage %r failed (%s); using its fallback",
        stage.name,
        error,
        extra={"run_id": run.id, "workflow": run.workflow.name, "stage": stage.name},
    )
    result = _succeeded(stage, ctx, value, started_at, t0, visit, fallback=True)
    return await _succeed(run, stage, ctx, result)


def is_bare(stage: Stage) -> bool:
    """Whether ``stage`` needs nothing around its body: no cache, retry, deadline or fallback.

    In a run whose execution hook is the built-in one, with no routes and no listener to
    events called inside the stage's task, such a body becomes the task itself; the
    scheduler describes its outcome (:func:`bare_failure` when it raised), as :func:`run_stage` would.
    """
    return (
        stage.is_async
        and stage.executor == "inline"
        and stage.cache is None
        and stage.retry is None
        and stage.timeout is None
        and not stage.has_fallback
    )


def bare_failure(
    run: Run,
    stage: Stage,
    visit: int,
    ctx: Context | None,
    started_at: datetime,
    t0: float,
    error: BaseException,
) -> StageResult:
    """The result of a bare stage whose body raised, as :func:`run_stage` would report it."""
    return _fail(run, stage, ctx or Context(run, stage, visit), error, started_at, t0, visit)


async def _attempts(run: Run, stage: Stage, ctx: Context, kwargs: dict[str, Any]) -> Any:
    hook = run.engine.hook
    if stage.context_parameter is not None:
        kwargs = {**kwargs, stage.context_parameter: ctx}
    retry = stage.retry
    attempt = 1
    while True:
        ctx.attempt = attempt
        try:
            awaitable = hook.podium_execute_stage(stage=stage, ctx=ctx, kwargs=kwargs, attempt=attempt)
            if awaitable is None:
                raise PluginError(f"no plugin executed stage {stage.name!r} (podium_execute_stage declined)")
            if stage.timeout is None:
                return await awaitable
            try:
                async with asyncio.timeout(stage.timeout) as scope:
                    return await awaitable
            except TimeoutError as exc:
                if scope.expired():
                    raise StageTimeout(
                        f"stage {stage.name!r} attempt {attempt} exceeded its timeout of {stage.timeout}s"
                    ) from exc
                raise
        except Exception as error:
            if retry is None or attempt >= retry.attempts or not retry.should_retry(error):
                raise
            delay = retry.delay_before(attempt)
            run.events.emit(
                "podium_stage_retried", run=run, stage=stage, attempt=attempt, error=error, delay=delay
            )
            _log.info(
                "stage %r attempt %d failed (%r); retrying in %.2fs",
                stage.name,
                attempt,
                error,
                delay,
                extra={"run_id": run.id, "workflow": run.workflow.name, "stage": stage.name},
            )
            await asyncio.sleep(delay)
            attempt += 1


async def _fallback_value(stage: Stage, error: Exception) -> Any:
    if stage.on_error is None:
        return stage.fallback
    value = stage.on_error(error)
    if inspect.isawaitable(value):
        value = await value
    return value


def _fail(
    run: Run, stage: Stage, ctx: Context, error: BaseException, started_at: datetime, t0: float, visit: int
) -> StageResult:
    result = StageResult(
        stage.name,
        StageStatus.FAILED,
        error=error,
        attempts=ctx.attempt,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        duration_s=time.perf_counter() - t0,
        usage=ctx.usage,
        saved=ctx.saved,
        visits=visit,
    )
    _log.warning(
        "stage %r failed after %d attempt(s): %r",
        stage.name,
        ctx.attempt,
        error,
        extra={"run_id": run.id, "workflow": run.workflow.name, "stage": stage.name},
    )
    run.events.emit("podium_stage_failed", run=run, stage=stage, result=result)
    return result


async def _succeed(run: Run, stage: Stage, ctx: Context, result: StageResult) -> StageResult:
    if run.routes:
        try:
            result.route = await _choose_route(run, stage, ctx, result.value)
        except Exception as error:  # a bad target, or a route function that raised
            result.status = StageStatus.FAILED
            result.error = error
            _log.warning(
                "stage %r could not route: %s",
                stage.name,
                error,
                extra={"run_id": run.id, "workflow": run.workflow.name, "stage": stage.name},
            )
            run.events.emit("podium_stage_failed", run=run, stage=stage, result=result)
            return result
        finally:
            # A classifier agent's tokens are part of what the stage spent.
            result.usage = ctx.usage
    run.events.emit("podium_stage_finished", run=run, stage=stage, result=result)
    return result


def route_candidates(run: Run, stage: Stage) -> tuple[list[str], list[str]]:
    """The dependents a route may pick, and the earlier stages it may loop back to."""
    plan = run.plan
    i = plan.index[stage.name]
    dependents = [plan.stages[j].name for j in plan.dependents[i]]
    loops: list[str] = []
    if run.loopable:
        ancestors = _ancestors(run, i)
        loops = [plan.stages[a].name for a in sorted(ancestors) if plan.stages[a].max_visits > 1]
        if stage.max_visits > 1:
            loops.append(stage.name)
    return dependents, loops


def _ancestors(run: Run, i: int) -> set[int]:
    plan = run.plan
    seen: set[int] = set()
    stack = list(plan.needs[i] + plan.needs_any[i])
    while stack:
        k = stack.pop()
        if k not in seen:
            seen.add(k)
            stack.extend(plan.needs[k] + plan.needs_any[k])
    return seen


async def _choose_route(run: Run, stage: Stage, ctx: Context, value: Any) -> tuple[str, ...] | None:
    dependents, loops = route_candidates(run, stage)
    candidates = dependents + loops
    if not candidates:
        return None
    chosen: Any = run.engine.hook.podium_route(stage=stage, value=value, ctx=ctx, candidates=candidates)
    if inspect.isawaitable(chosen):
        chosen = await chosen
    if chosen is None:
        return None
    targets = (chosen,) if isinstance(chosen, str) else tuple(chosen)
    for target in targets:
        if not isinstance(target, str) or target not in candidates:
            raise RoutingError(
                f"stage {stage.name!r} routed to {target!r}, which is not one of its dependents "
                f"({', '.join(dependents) or 'none'})"
                + (f" nor an allowed loop target ({', '.join(loops)})" if loops else "")
            )
        if target in loops:
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
    skipped = [d for d in dependents if d not in targets]
    run.events.emit("podium_route_taken", run=run, stage=stage, targets=targets, skipped=skipped)
    return targets


def route_value(route: Mapping[Any, str | Sequence[str]], value: Any, stage: Stage) -> str | Sequence[str]:
    """Look a stage's value up in a mapping route."""
    try:
        return route[value]
    except (KeyError, TypeError):
        raise RoutingError(
            f"stage {stage.name!r} returned {value!r}, which its route mapping does not cover "
            f"(keys: {list(route)!r})"
        ) from None
