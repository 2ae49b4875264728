"""Running one stage inside its task: cache lookup, attempts with timeout and retry, fallback, route.

How a stage runs is decided once per run (:mod:`podium.running.stage_path`); this module
carries the decision out. :func:`run_stage` never raises but for cancellation: every
outcome is a :class:`StageResult`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.foundation.errors import CacheKeyError, PluginError, RoutingError, StageTimeout
from podium.running.context import Context
from podium.running.mapping import item_label
from podium.values.model import StageResult, StageStatus, Usage

if TYPE_CHECKING:
    from podium.definition.workflow import Stage
    from podium.running.scheduler import RunState
    from podium.running.stage_path import StagePath

_log = logging.getLogger("podium.stage")


async def run_stage(
    run: RunState, stage: Stage, ctx: Context, path: StagePath, started_at: datetime, t0: float
) -> StageResult:
    """Run ``stage`` for ``run`` along ``path`` and describe the outcome.

    ``started_at`` and ``t0`` (``time.perf_counter``) were taken when the visit started.
    """
    kwargs = run.arguments(stage, ctx)
    if path.cached:
        return await _run_cached(run, stage, ctx, kwargs, started_at, t0, path)
    run.events.emit("podium_stage_started", run=run, stage=stage, ctx=ctx)
    try:
        if path.direct:
            if stage.context_parameter is not None:
                kwargs[stage.context_parameter] = ctx
            value = await stage.fn(**kwargs)
        else:
            value = await _attempts(run, stage, ctx, kwargs)
    except Exception as error:
        return await _recover(run, stage, ctx, error, started_at, t0, path)
    result = _succeeded(stage, ctx, value, started_at, t0)
    if path.routed:
        return await _succeed(run, stage, ctx, result, path)
    run.events.emit("podium_stage_ended", run=run, stage=stage, result=result)
    return result


async def run_stored_stage(
    run: RunState, stage: Stage, ctx: Context, path: StagePath, started_at: datetime, t0: float
) -> StageResult:
    """:func:`run_stage`, then the visit committed to the run store before the task ends.

    Dependents start when the task ends, so a process killed after that loses nothing
    of this stage. A stage that finished keeps its result even when the run is being
    cancelled meanwhile: the commit is waited for, and the result returned.
    """
    result = await run_stage(run, stage, ctx, path, started_at, t0)
    recorder = run.recorder
    assert recorder is not None
    commit = asyncio.ensure_future(recorder.commit(run, result))
    while not commit.done():
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            continue  # the stage is finished: let its commit end, then report it
    return result


async def _run_cached(
    run: RunState,
    stage: Stage,
    ctx: Context,
    kwargs: dict[str, Any],
    started_at: datetime,
    t0: float,
    path: StagePath,
) -> StageResult:
    """The cached path: key, lookup or shared execution (single-flight), store, savings."""
    policy = stage.cache
    assert policy is not None
    events = run.events
    try:
        item_key = None if ctx._item < 0 else run.item_cache_key(stage, ctx._item)
        key = run.cache_key(stage, kwargs, item_key)
    except (CacheKeyError, PluginError) as error:
        return _fail(run, stage, ctx, error, started_at, t0)

    def on_miss() -> None:
        events.emit("podium_cache_miss", run=run, stage=stage, kind="stage", key=key)

    def execute() -> Coroutine[Any, Any, tuple[Any, Usage]]:
        # Called in this stage's task, so context variables set by observers reach the body.
        events.emit("podium_stage_started", run=run, stage=stage, ctx=ctx)
        return _attempts_with_usage(run, stage, ctx, kwargs)

    try:
        outcome = await run.result_cache.get_or_run(
            key,
            execute,
            ttl=policy.ttl,
            read=policy.read,
            write=policy.write,
            refresh=policy.refresh,
            on_miss=on_miss,
        )
    except Exception as error:
        return await _recover(run, stage, ctx, error, started_at, t0, path)
    if not outcome.hit:
        return await _succeed(run, stage, ctx, _succeeded(stage, ctx, outcome.value, started_at, t0), path)
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
        visit=ctx.visit,
        reason="coalesced with an identical call in flight" if outcome.source == "coalesced" else None,
        item_key=ctx.item_key,
    )
    return await _succeed(run, stage, ctx, result, path)


async def _attempts_with_usage(
    run: RunState, stage: Stage, ctx: Context, kwargs: dict[str, Any]
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
    item_key: Any = None,
) -> StageResult:
    """A success result, timed from ``t0`` (``time.perf_counter``) to now; built once per stage."""
    # Positional: attrs' keyword call costs three times as much, and this runs per stage.
    # (name, status, value, error, reason, attempts, started_at, finished_at, duration_s,
    #  usage, saved, route, visit, fallback, item_key)
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
        item_key,
    )


def _succeeded(
    stage: Stage, ctx: Context, value: Any, started_at: datetime, t0: float, fallback: bool = False
) -> StageResult:
    return succeeded(
        stage.name,
        value,
        ctx.attempt,
        started_at,
        t0,
        ctx.usage,
        ctx.saved,
        ctx.visit,
        fallback,
        ctx.item_key,
    )


async def _recover(
    run: RunState,
    stage: Stage,
    ctx: Context,
    error: Exception,
    started_at: datetime,
    t0: float,
    path: StagePath,
) -> StageResult:
    """A failed body: its fallback value (never cached) when it has one, else a failed result."""
    if not stage.has_fallback:
        return _fail(run, stage, ctx, error, started_at, t0)
    try:
        value = await _fallback_value(stage, error)
    except Exception as handler_error:
        return _fail(run, stage, ctx, handler_error, started_at, t0)
    _log.warning(
        "stage %r%s failed (%s); using its fallback",
        stage.name,
        _item_of(ctx),
        error,
        extra=run.log_extra(stage.name),
    )
    result = _succeeded(stage, ctx, value, started_at, t0, fallback=True)
    result.error = error  # what the fallback replaced stays on the result
    return await _succeed(run, stage, ctx, result, path)


def bare_failure(
    run: RunState,
    stage: Stage,
    visit: int,
    ctx: Context | None,
    started_at: datetime,
    t0: float,
    error: BaseException,
) -> StageResult:
    """The result of a bare stage whose body raised, as :func:`run_stage` would report it."""
    return _fail(run, stage, ctx or Context(run, stage, visit), error, started_at, t0)


async def _attempts(run: RunState, stage: Stage, ctx: Context, kwargs: dict[str, Any]) -> Any:
    hook = run.hook
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
                extra=run.log_extra(stage.name),
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


def _item_of(ctx: Context) -> str:
    """`` item ['a.py']`` for an item's context (log messages name it), else nothing."""
    return "" if ctx.item_key is None else f" item {item_label(ctx.item_key)}"


def _fail(
    run: RunState, stage: Stage, ctx: Context, error: BaseException, started_at: datetime, t0: float
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
        visit=ctx.visit,
        item_key=ctx.item_key,
    )
    _log.warning(
        "stage %r%s failed after %d attempt(s): %r",
        stage.name,
        _item_of(ctx),
        ctx.attempt,
        error,
        extra=run.log_extra(stage.name),
    )
    run.events.emit("podium_stage_ended", run=run, stage=stage, result=result)
    return result


async def _succeed(
    run: RunState, stage: Stage, ctx: Context, result: StageResult, path: StagePath
) -> StageResult:
    if path.routed:
        try:
            result.route = await _route(run, stage, ctx, result.value)
        except Exception as error:  # a bad target, or a route function that raised
            result.status = StageStatus.FAILED
            result.error = error
            _log.warning("stage %r could not route: %s", stage.name, error, extra=run.log_extra(stage.name))
        finally:
            # A classifier agent's tokens are part of what the stage spent.
            result.usage = ctx.usage
    run.events.emit("podium_stage_ended", run=run, stage=stage, result=result)
    return result


async def _route(run: RunState, stage: Stage, ctx: Context, value: Any) -> tuple[str, ...] | None:
    """Ask the run's router where to go after ``stage``; announce the route it took."""
    router = run.router
    assert router is not None
    chosen = await router.choose(stage, value, ctx)
    if chosen is None:
        return None
    targets = (chosen,) if isinstance(chosen, str) else tuple(chosen)
    plan = run.plan
    for target in targets:
        if not isinstance(target, str) or target not in plan.index:
            raise RoutingError(
                f"stage {stage.name!r} routed to {target!r}, which is not a stage of the workflow"
            )
    dependents = [plan.stages[j].name for j in plan.dependents[plan.index[stage.name]]]
    skipped = [d for d in dependents if d not in targets]
    run.events.emit("podium_route_taken", run=run, stage=stage, targets=targets, skipped=skipped)
    return targets
