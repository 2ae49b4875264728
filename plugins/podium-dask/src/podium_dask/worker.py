"""The plugin a worker's own engine gets in whole-workflow mode: the run is already on a
worker, so a ``dask`` stage's body runs right there (the event loop or a thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import podium


class HereExecutor:
    """Runs a body in this process: an ``async def`` on the event loop, a function in a thread."""

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        if asyncio.iscoroutinefunction(fn):
            result: Awaitable[Any] = fn(**kwargs)
            return result
        return asyncio.to_thread(fn, **kwargs)


class WorkerSide:
    """Registers ``dask`` as :class:`HereExecutor` on a worker's engine."""

    @podium.hookimpl
    def podium_register_executors(self, register: Callable[[str, podium.Executor], None]) -> None:
        register("dask", HereExecutor())
