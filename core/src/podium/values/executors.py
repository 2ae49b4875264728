"""Executors decide *where* a stage body runs: the event loop, a thread, a remote worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Executor(Protocol):
    """Runs a stage body. Registered by name through ``podium_register_executors``."""

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        """Start ``fn(**kwargs)`` and return an awaitable of its result."""
        ...


class InlineExecutor:
    """Runs an ``async def`` body on the engine's event loop (the default for coroutines)."""

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        result = fn(**kwargs)
        if not isinstance(result, Awaitable):
            return _ready(result)
        return result


class ThreadExecutor:
    """Runs a plain function in a worker thread (the default for non-async bodies).

    ``asyncio.to_thread`` copies the context, so trace context and context variables
    reach the body. A timeout cancels the wait, not the thread.
    """

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        return asyncio.to_thread(fn, **kwargs)


async def _ready(value: Any) -> Any:
    return value
