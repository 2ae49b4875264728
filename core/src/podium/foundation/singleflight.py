"""Single-flight: identical keys in flight at the same time execute once; the others await it.

The shared execution runs in its own task, so cancelling one caller (even the one that
started it) does not cancel it while another caller still waits; when the last caller
goes away, the execution is cancelled and awaited, so no task is left behind. A failure
reaches every caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from podium.foundation.errors import FlightAbandoned

T = TypeVar("T")


class Flight(Generic[T]):
    """One key in flight: the future every caller awaits, the task doing the work."""

    __slots__ = ("future", "key", "task", "waiters")

    def __init__(self, key: str, future: asyncio.Future[T]) -> None:
        self.key = key
        self.future = future
        self.task: asyncio.Task[Any] | None = None
        self.waiters = 0


def _consume(future: asyncio.Future[Any]) -> None:
    # A failure nobody is left to await is expected here, not "never retrieved".
    if not future.cancelled():
        future.exception()


class SingleFlight(Generic[T]):
    """Coalesces concurrent calls by key. Use :meth:`do`, or the steps it is made of.

    The steps let a caller do something between becoming the leader and starting the
    shared work (a cache lookup, an event that must run in the caller's own task)::

        flight, leader = flights.open(key)
        if leader:
            ...                       # may call flights.resolve(flight, value) or abandon(flight)
            flights.start(flight, work_coroutine)
        value = await flights.wait(flight)
    """

    def __init__(self) -> None:
        self._flights: dict[str, Flight[T]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, key: object) -> bool:
        return key in self._flights

    def open(self, key: str) -> tuple[Flight[T], bool]:
        """The flight for ``key`` and whether the caller leads it (it was not in flight).

        Every caller of :meth:`open` must then :meth:`wait` on the flight (or abandon it).
        """
        flight = self._flights.get(key)
        if flight is not None:
            flight.waiters += 1
            return flight, False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        flight = Flight(key, future)
        flight.waiters = 1
        self._flights[key] = flight
        return flight, True

    def start(
        self,
        flight: Flight[T],
        work: Coroutine[Any, Any, T],
        after: Callable[[T], Awaitable[None]] | None = None,
    ) -> None:
        """Run ``work`` as the flight's shared task; ``after(value)`` runs once it is delivered.

        The flight stays open until ``after`` finishes, so a caller arriving meanwhile gets
        the value at once instead of starting the work again.
        """
        task = asyncio.get_running_loop().create_task(self._run(flight, work, after))
        flight.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, flight: Flight[T], work: Coroutine[Any, Any, T], after: Callable[[T], Awaitable[None]] | None
    ) -> None:
        try:
            value = await work
        except asyncio.CancelledError:
            self._close(flight)
            if not flight.future.done():
                flight.future.cancel()
            raise
        except BaseException as error:
            self._close(flight)
            if not flight.future.done():
                flight.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        if not flight.future.done():
            flight.future.set_result(value)
        try:
            if after is not None:
                await after(value)
        finally:
            self._close(flight)

    def resolve(self, flight: Flight[T], value: T) -> None:
        """Deliver ``value`` to the flight's callers without running anything."""
        self._close(flight)
        if not flight.future.done():
            flight.future.set_result(value)

    def abandon(self, flight: Flight[T]) -> None:
        """Give up leading before :meth:`start`; waiting callers get :class:`FlightAbandoned`."""
        self._close(flight)
        if not flight.future.done():
            flight.future.set_exception(FlightAbandoned(flight.key))

    def _close(self, flight: Flight[T]) -> None:
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]

    async def wait(self, flight: Flight[T]) -> T:
        """The flight's value (or its exception), for one caller that :meth:`open` counted.

        Cancelling this caller leaves the shared work running for the others; the last
        caller to go cancels it and waits until it has stopped.
        """
        try:
            return await asyncio.shield(flight.future)
        except asyncio.CancelledError:
            if flight.future.done():
                raise
            flight.waiters -= 1
            if flight.waiters == 0:
                self._close(flight)
                task = flight.task
                if task is None:
                    flight.future.cancel()
                elif not task.done():
                    task.cancel()
                    await asyncio.wait([task])
            raise

    async def do(self, key: str, fn: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, bool]:
        """``fn()`` run once for all concurrent callers of ``key``; returns (value, led)."""
        flight, leader = self.open(key)
        if leader:
            self.start(flight, fn())
        return await self.wait(flight), leader

    async def drain(self, within: float | None = None) -> None:
        """Wait for shared work still running (stores after delivery), at most ``within`` s."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=within)
