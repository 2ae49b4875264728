"""Executors decide *where* a stage body runs: the event loop, a thread, a remote worker.

An executor implements :class:`Executor` (``submit(fn, kwargs)``). One that needs to
know more about each attempt (which stage, its priority, its ``executor_options``) also
implements ``submit_call(call)`` (:class:`CallExecutor`) and receives a
:class:`StageCall` instead. Either may implement ``check(stage) -> Iterable[str]``
(``stage`` a :class:`podium.Stage`): one definition error per problem with a stage it
cannot run, reported before the run starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs


@runtime_checkable
class Executor(Protocol):
    """Runs a stage body. Registered by name through ``podium_register_executors``."""

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        """Start ``fn(**kwargs)`` and return an awaitable of its result."""
        ...


@attrs.frozen
class StageCall:
    """One attempt of a stage body, as handed to an executor's ``submit_call``.

    Built by the kernel's execution plugin in the stage's own task, so context variables
    (the current trace span, for one) are those of the stage.
    """

    #: The stage body.
    fn: Callable[..., Any]
    #: Its keyword arguments (the context under ``context_parameter``, when it takes one).
    kwargs: Mapping[str, Any]
    #: Whether ``fn`` is a coroutine function.
    is_async: bool
    #: The name of the parameter receiving the :class:`podium.Context`, or ``None``.
    context_parameter: str | None
    #: The stage's name, its workflow's name and the run's id.
    stage: str
    workflow: str
    run_id: str
    #: The visit (1 unless a loop brought the run back) and the attempt (1 for the first).
    visit: int
    attempt: int
    #: Higher starts first: the strategy's order among the run's stages (0 for the
    #: stage it wants last), for executors that queue work.
    priority: int
    #: The stage's ``executor_options``, which the executor checked in ``check``.
    options: Mapping[str, Any]


@runtime_checkable
class CallExecutor(Protocol):
    """An executor that receives each attempt as a :class:`StageCall`."""

    def submit_call(self, call: StageCall) -> Awaitable[Any]:
        """Start ``call.fn(**call.kwargs)`` and return an awaitable of its result."""
        ...


def refuse_options(executor: str, stage: Any) -> Iterable[str]:
    """The definition error of a stage giving ``executor_options`` to an executor that takes none."""
    if stage.executor_options:
        return [
            f"stage {stage.name!r} gives executor_options {sorted(stage.executor_options)}, "
            f"but executor {executor!r} takes none"
        ]
    return ()


class InlineExecutor:
    """Runs an ``async def`` body on the engine's event loop (the default for coroutines)."""

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        result = fn(**kwargs)
        if not isinstance(result, Awaitable):
            return _ready(result)
        return result

    def check(self, stage: Any) -> Iterable[str]:
        return refuse_options("inline", stage)


class ThreadExecutor:
    """Runs a plain function in a worker thread (the default for non-async bodies).

    ``asyncio.to_thread`` copies the context, so trace context and context variables
    reach the body. A timeout cancels the wait, not the thread.
    """

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        return asyncio.to_thread(fn, **kwargs)

    def check(self, stage: Any) -> Iterable[str]:
        return refuse_options("thread", stage)


async def _ready(value: Any) -> Any:
    return value
