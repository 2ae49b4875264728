"""Built-in stage execution: hand the body to the stage's executor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from podium.definition.workflow import Stage
from podium.foundation.markers import hookimpl
from podium.running.context import Context
from podium.values.executors import Executor, InlineExecutor, ThreadExecutor


@hookimpl(trylast=True)
def podium_register_executors(register: Callable[[str, Executor], None]) -> None:
    register("inline", InlineExecutor())
    register("thread", ThreadExecutor())


@hookimpl(trylast=True)
def podium_execute_stage(stage: Stage, ctx: Context, kwargs: Mapping[str, Any]) -> Awaitable[Any]:
    # Engine.prepare has checked that the executor is registered.
    return ctx.run.executors[stage.executor].submit(stage.fn, kwargs)
