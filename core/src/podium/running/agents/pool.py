"""A pool of concurrent calls per agent: at most ``size`` at once, waiting first come, first served.

A released slot is handed to the longest waiter directly, so a caller arriving just
then cannot take it first (no barging), and a waiter cancelled after it was handed a
slot passes the slot on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class Pool:
    """``async with pool:`` holds one of ``size`` slots for the block."""

    __slots__ = ("_waiters", "in_use", "peak", "size")

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"a pool needs a positive size, got {size}")
        self.size = size
        self.in_use = 0
        self.peak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"<Pool {self.in_use}/{self.size} waiting={self.waiting}>"

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    async def acquire(self) -> None:
        if self.in_use < self.size and not self._waiters:
            self._take()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # resolved by release(), the slot already counted as ours
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def _take(self) -> None:
        self.in_use += 1
        if self.in_use > self.peak:
            self.peak = self.in_use

    def release(self) -> None:
        self.in_use -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)
                return

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


__all__ = ["Pool"]
