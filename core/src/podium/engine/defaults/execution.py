"""Built-in stage execution: hand the body to the stage's executor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from podium.definition.workflow import Stage
from podium.foundation.markers import hookimpl
from podium.running.context import Context
from podium.values.executors import Executor, InlineExecutor, StageCall, ThreadExecutor


@hookimpl(trylast=True)
def podium_register_executors(register: Callable[[str, Executor], None]) -> None:
    register("inline", InlineExecutor())
    register("thread", ThreadExecutor())


@hookimpl(trylast=True)
def podium_execute_stage(
    stage: Stage, ctx: Context, kwargs: Mapping[str, Any], attempt: int
) -> Awaitable[Any]:
    run = ctx.run
    i = run.plan.index[stage.name]
    # Engine.prepare has checked that the executor is registered.
    executor = run.executors[run.paths[i].executor]
    submit_call = getattr(executor, "submit_call", None)
    if submit_call is None:
        return executor.submit(stage.fn, kwargs)
    call = StageCall(
        stage.fn,
        kwargs,
        stage.is_async,
        stage.context_parameter,
        stage.name,
        run.workflow.name,
        run.id,
        ctx.visit,
        attempt,
        run.priority(i),
        stage.executor_options,
    )
    result: Awaitable[Any] = submit_call(call)
    return result
