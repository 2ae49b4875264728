"""What runs on a Dask worker for one stage attempt (this module must import there).

A true ``async def`` body runs on the worker's event loop (Dask awaits a coroutine
function it is given); a plain one in a worker thread. Either way the stage's trace
context, carried from the driver, is current while the body runs, so a span the body
starts is a child of its stage span.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podium_dask.context import Outcome, WorkerContext
from podium_dask.pickling import unwrapped
from podium_dask.tracing import Carrier, attached


def call_sync(fn: Callable[..., Any], kwargs: Mapping[str, Any], carrier: Carrier | None) -> Any:
    detach = attached(carrier)
    try:
        return unwrapped(fn)(**unwrapped(kwargs))
    finally:
        detach()


async def call_async(fn: Callable[..., Any], kwargs: Mapping[str, Any], carrier: Carrier | None) -> Any:
    detach = attached(carrier)
    try:
        return await unwrapped(fn)(**unwrapped(kwargs))
    finally:
        detach()


def call_sync_with_context(
    fn: Callable[..., Any], kwargs: Mapping[str, Any], carrier: Carrier | None, parameter: str
) -> Outcome:
    """:func:`call_sync` for a body taking a :class:`WorkerContext`: what it recorded comes
    back with its value, or with its error."""
    detach = attached(carrier)
    kwargs = unwrapped(kwargs)
    ctx: WorkerContext = kwargs[parameter]
    try:
        return Outcome(unwrapped(fn)(**kwargs), None, ctx.recorded)
    except Exception as error:
        return Outcome(None, error, ctx.recorded)
    finally:
        detach()


async def call_async_with_context(
    fn: Callable[..., Any], kwargs: Mapping[str, Any], carrier: Carrier | None, parameter: str
) -> Outcome:
    """:func:`call_async` for a body taking a :class:`WorkerContext` (see the sync one)."""
    detach = attached(carrier)
    kwargs = unwrapped(kwargs)
    ctx: WorkerContext = kwargs[parameter]
    try:
        return Outcome(await unwrapped(fn)(**kwargs), None, ctx.recorded)
    except Exception as error:
        return Outcome(None, error, ctx.recorded)
    finally:
        detach()
