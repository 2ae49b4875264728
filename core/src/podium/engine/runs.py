"""The workflow scheduler: how many runs an engine runs at once, and the queue of the others.

With ``max_concurrent`` set, a run that finds every slot taken waits in a queue, highest
``priority`` first, then first come, first served. ``queue_size`` bounds the queue: a
submission that finds it full waits for room (backpressure) or, asked not to wait, raises
:class:`podium.QueueFull`. Closing the queue refuses new runs; :meth:`RunQueue.drained`
waits until the queued and running ones are done. Queue depth and wait times are
attributes (:attr:`RunQueue.queued`, :attr:`RunQueue.waits`) that metrics plugins read,
and each run's own wait is ``run.queue_wait_s``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from podium.foundation.errors import PodiumError, QueueFull

if TYPE_CHECKING:
    from podium.running.scheduler import RunState
    from podium.values.model import RunResult


@attrs.define
class QueueWaits:
    """Runs that went through the queue, and the seconds they waited."""

    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)

    @property
    def mean_s(self) -> float:
        return self.total_s / self.count if self.count else 0.0


class _Entry:
    __slots__ = ("future", "key")

    def __init__(self, key: tuple[int, int], future: asyncio.Future[None]) -> None:
        self.key = key
        self.future = future

    def __lt__(self, other: _Entry) -> bool:
        return self.key < other.key


class RunQueue:
    """Slots for runs (``max_concurrent``; ``None``: unlimited) and the queue in front of them."""

    def __init__(
        self,
        max_concurrent: int | None = None,
        queue_size: int | None = None,
        execute: Callable[[RunState], Awaitable[RunResult]] | None = None,
    ) -> None:
        for name, value in (("max_concurrent", max_concurrent), ("queue_size", queue_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise PodiumError(f"Engine({name}=...): must be a positive integer, got {value!r}")
        self.max_concurrent = max_concurrent
        self.queue_size = queue_size
        #: How a run that has its slot is run (the engine's: it also waits for the run's record).
        self._execute = execute or (lambda run: run.execute())
        #: Runs holding a slot now, and the most at once so far.
        self.running = 0
        self.peak = 0
        self.waits = QueueWaits()
        self.closed = False
        self._heap: list[_Entry] = []
        # The places still waiting (the heap may also hold given-up ones, dropped lazily).
        self._pending: set[asyncio.Future[None]] = set()
        self._room: deque[asyncio.Future[None]] = deque()
        self._order = itertools.count()
        self._idle: asyncio.Event | None = None

    def __repr__(self) -> str:
        cap = self.max_concurrent or "unlimited"
        return f"<RunQueue running={self.running}/{cap} queued={self.queued}>"

    @property
    def queued(self) -> int:
        """Runs waiting for a slot."""
        return len(self._pending)

    def check_open(self) -> None:
        if self.closed:
            raise PodiumError("the engine is stopping: it accepts no new runs")

    async def admit(self, priority: int = 0, *, wait: bool = True) -> asyncio.Future[None] | None:
        """Take a slot now (``None``), or a place in the queue (a future resolved with the slot).

        Raises :class:`podium.QueueFull` when the queue is full and ``wait`` is false;
        with ``wait``, waits for room in the queue first.
        """
        self.check_open()
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise PodiumError(f"priority must be an integer (higher runs first), got {priority!r}")
        if self.max_concurrent is None or (self.running < self.max_concurrent and not self.queued):
            self._take()
            return None
        while self.queue_size is not None and self.queued >= self.queue_size:
            if not wait:
                raise QueueFull(
                    f"the run queue is full ({self.queued} runs waiting for {self.max_concurrent} slots, "
                    f"queue_size={self.queue_size}); submit with wait=True to wait for room"
                )
            room = asyncio.get_running_loop().create_future()
            self._room.append(room)
            try:
                await room
            finally:
                if room in self._room:
                    self._room.remove(room)
            self.check_open()
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, _Entry((-priority, next(self._order)), future))
        self._pending.add(future)
        return future

    async def wait_for_slot(self, place: asyncio.Future[None] | None) -> float:
        """Wait for the slot of a place :meth:`admit` gave; returns the seconds waited.

        Cancelled while waiting, the place is given up (and a slot handed over meanwhile
        is passed on).
        """
        if place is None:
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await place
        except asyncio.CancelledError:
            if place.done() and not place.cancelled():
                self.release()  # it was handed a slot as it was cancelled: pass it on
            else:
                self._give_up(place)
            raise
        waited = loop.time() - started
        self.waits.add(waited)
        return waited

    def abandon(self, place: asyncio.Future[None] | None) -> None:
        """Give back what :meth:`admit` gave a run that ended before it could wait (its task was
        cancelled before it started): the slot, or the place in the queue."""
        if place is None or (place.done() and not place.cancelled()):
            self.release()
        else:
            self._give_up(place)

    async def run(self, run: RunState, priority: int = 0) -> RunResult:
        """Run ``run`` in the caller's task once it has a slot (queueing when needed)."""
        run.queue_wait_s = await self.wait_for_slot(await self.admit(priority))
        try:
            return await self._execute(run)
        finally:
            self.release()

    def launch(self, run: RunState, place: asyncio.Future[None] | None) -> asyncio.Task[RunResult]:
        """A task that waits for the slot of ``place`` (from :meth:`admit`), then runs ``run``."""
        # The task takes its place once it runs; one cancelled before that gives it back.
        held = [place]

        async def queued() -> RunResult:
            run.queue_wait_s = await self.wait_for_slot(held.pop())
            try:
                return await self._execute(run)
            finally:
                self.release()

        task = asyncio.get_running_loop().create_task(queued(), name=f"podium-run:{run.id}")
        task.add_done_callback(lambda _: self.abandon(held.pop()) if held else None)
        return task

    def _give_up(self, place: asyncio.Future[None]) -> None:
        place.cancel()
        self._pending.discard(place)
        self._forget()

    def _take(self) -> None:
        self.running += 1
        if self.running > self.peak:
            self.peak = self.running
        if self._idle is not None:
            self._idle.clear()

    def release(self) -> None:
        """A run holding a slot ended: hand the slot to the first run in the queue."""
        self.running -= 1
        heap = self._heap
        while heap:
            entry = heapq.heappop(heap)
            if not entry.future.done():
                self._pending.discard(entry.future)
                self._take()
                entry.future.set_result(None)
                break
        self._forget()
        self._signal_idle()

    def _forget(self) -> None:
        """Drop given-up places from the queue's front, and let a waiting submission in."""
        heap = self._heap
        while heap and heap[0].future.done():
            heapq.heappop(heap)
        while self._room and (self.queue_size is None or self.queued < self.queue_size):
            room = self._room.popleft()
            if not room.done():
                room.set_result(None)
                break

    def _signal_idle(self) -> None:
        if self._idle is not None and self.running == 0 and not self.queued:
            self._idle.set()

    def close(self) -> None:
        """Accept no new runs (those already queued still run); submissions waiting for room fail."""
        self.closed = True
        for room in self._room:
            if not room.done():
                room.set_result(None)

    async def drained(self) -> None:
        """Wait until no run is queued or running."""
        if self._idle is None:
            self._idle = asyncio.Event()
        self._signal_idle()
        if self.running == 0 and not self.queued:
            return
        await self._idle.wait()


__all__ = ["QueueWaits", "RunQueue"]
