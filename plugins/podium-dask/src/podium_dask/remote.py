"""What runs on a Dask worker for one stage attempt (this module must import there).

A true ``async def`` body runs on the worker's event loop (Dask awaits a coroutine
function it is given); a plain one in a worker thread. Either way the stage's trace
context, carried from the driver, is current while the body runs, so a span the body
starts is a child of its stage span.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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
