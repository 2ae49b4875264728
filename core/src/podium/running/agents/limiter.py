"""Rate limiting of agent calls: the meters of a call, where they are kept, and waiting.

Every call passes its meters (the agent's own ``rpm``/``tpm``/``rps``/``tps``, and those
of its provider key) to a :class:`LimitsBackend` at once: a call is admitted by all of
them or by none, so it never holds one meter while it waits for another. Request meters
count 1 per attempt, token meters the call's estimate, settled with the real usage.

The backend is this process's memory by default (:class:`MemoryLimits`, on the event
loop's clock), or one that several processes share (``limits_backend = "redis://..."``,
opened through the ``podium_limits_backend`` hook). Waiting callers queue in order
(first come, first served) within a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from podium.definition.agents import RateLimit
from podium.running.agents.windows import MINUTE, SECOND, Admitted, SlidingWindow

_log = logging.getLogger("podium.agents")

T = TypeVar("T")


@attrs.frozen
class Meter:
    """One limit: ``limit`` units per ``window_s`` seconds, of requests or of tokens."""

    name: str
    limit: int
    window_s: float
    tokens: bool

    def amount(self, tokens: int) -> int:
        return tokens if self.tokens else 1


def meters_of(scope: str, limits: RateLimit) -> tuple[Meter, ...]:
    """The meters of a :class:`RateLimit`, named ``<scope>:<rpm|tpm|rps|tps>``."""
    found = []
    for kind, limit, window, tokens in (
        ("rpm", limits.rpm, MINUTE, False),
        ("tpm", limits.tpm, MINUTE, True),
        ("rps", limits.rps, SECOND, False),
        ("tps", limits.tps, SECOND, True),
    ):
        if limit is not None:
            found.append(Meter(f"{scope}:{kind}", limit, window, tokens))
    return tuple(found)


@runtime_checkable
class LimitsBackend(Protocol):
    """Where meters are kept: this process, or a store several processes share.

    :meth:`try_acquire` must be atomic over all the meters it is given.
    """

    async def try_acquire(self, meters: Sequence[Meter], tokens: int) -> tuple[float, Any]:
        """``(0, ticket)`` when every meter admits its amount now, else ``(seconds to wait, None)``."""
        ...

    async def settle(self, ticket: Any, tokens: int) -> None:
        """Correct the token meters of an admitted call to the tokens really spent."""
        ...

    async def block(self, meters: Sequence[Meter], seconds: float) -> None:
        """Admit nothing on these meters for ``seconds`` (the provider asked to wait)."""
        ...

    async def used(self, meters: Sequence[Meter]) -> dict[str, int]:
        """Units counted in each meter's current window, by meter name."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryLimits:
    """Meters in this process's memory, on the running event loop's clock (or ``clock``)."""

    NAME = "memory"

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._windows: dict[str, SlidingWindow] = {}

    def __repr__(self) -> str:
        return f"<MemoryLimits {len(self._windows)} meters>"

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def window(self, meter: Meter) -> SlidingWindow:
        window = self._windows.get(meter.name)
        if window is None or window.limit != meter.limit or window.window_s != meter.window_s:
            window = self._windows[meter.name] = SlidingWindow(meter.limit, meter.window_s)
        return window

    async def try_acquire(self, meters: Sequence[Meter], tokens: int) -> tuple[float, Any]:
        now = self.now()
        windows = [self.window(m) for m in meters]
        wait = max((w.wait(now, m.amount(tokens)) for w, m in zip(windows, meters, strict=True)), default=0.0)
        if wait > 0:
            return wait, None
        ticket = [
            (w, w.admit(now, m.amount(tokens))) for w, m in zip(windows, meters, strict=True) if m.tokens
        ]
        for w, m in zip(windows, meters, strict=True):
            if not m.tokens:
                w.admit(now, 1)
        return 0.0, ticket

    async def settle(self, ticket: Any, tokens: int) -> None:
        now = self.now()
        entries: list[tuple[SlidingWindow, Admitted]] = ticket
        for window, entry in entries:
            window.settle(entry, tokens, now)

    async def block(self, meters: Sequence[Meter], seconds: float) -> None:
        until = self.now() + seconds
        for meter in meters:
            self.window(meter).block_until(until)

    async def used(self, meters: Sequence[Meter]) -> dict[str, int]:
        now = self.now()
        return {m.name: self.window(m).used(now) for m in meters}

    async def close(self) -> None:
        self._windows.clear()


class Limiter:
    """Admits calls through a backend, in order: one waiter per meter set polls at a time.

    A waiter sleeps until the time the backend named, or until a settled call handed
    tokens back (then it looks again at once, so a refund is never capacity left idle).

    A shared backend that fails (Redis unreachable) never fails a call: the meters are
    kept in this process instead, with a warning, and the backend is tried again after
    ``retry_after`` seconds.
    """

    def __init__(self, backend: LimitsBackend, *, retry_after: float = 30.0) -> None:
        self.backend = backend
        self.retry_after = retry_after
        self._queues: dict[str, asyncio.Lock] = {}
        self._refunded: asyncio.Event | None = None
        self._local: MemoryLimits | None = None if isinstance(backend, MemoryLimits) else MemoryLimits()
        self._down_until = 0.0

    async def _use(self, operation: Callable[[LimitsBackend], Awaitable[T]]) -> T:
        """Run ``operation`` on the backend, or on the local meters while it is down."""
        return (await self._using(operation))[1]

    async def _using(self, operation: Callable[[LimitsBackend], Awaitable[T]]) -> tuple[LimitsBackend, T]:
        """``(the backend that answered, its answer)``."""
        local = self._local
        if local is None or time.monotonic() >= self._down_until:
            try:
                return self.backend, await operation(self.backend)
            except Exception as error:
                if local is None:
                    raise
                _log.warning(
                    "rate-limit backend %r failed (%r); limiting in this process only, retrying in %.0fs",
                    self.backend,
                    error,
                    self.retry_after,
                )
                self._down_until = time.monotonic() + self.retry_after
        assert local is not None
        return local, await operation(local)

    async def block(self, meters: Sequence[Meter], seconds: float) -> None:
        """Admit nothing on ``meters`` for ``seconds`` (the provider asked to wait)."""
        if meters:
            await self._use(lambda backend: backend.block(meters, seconds))

    async def used(self, meters: Sequence[Meter]) -> dict[str, int]:
        return await self._use(lambda backend: backend.used(meters)) if meters else {}

    async def acquire(self, meters: Sequence[Meter], tokens: int) -> Any:
        """Wait until every meter admits the call; returns the ticket to settle."""
        source, ticket = await self._acquire(meters, tokens)
        return None if ticket is None else (source, ticket)

    async def _acquire(self, meters: Sequence[Meter], tokens: int) -> tuple[LimitsBackend | None, Any]:
        if not meters:
            return None, None
        ticket: Any
        # Queue behind earlier waiters of the same meters (locks taken in name order,
        # so two calls sharing some meters cannot deadlock), then poll; with nobody
        # waiting, a call that fits goes at once.
        locks = [self._queues.setdefault(m.name, asyncio.Lock()) for m in sorted(meters, key=_name)]
        if not any(lock.locked() for lock in locks):
            source, (wait, ticket) = await self._using(lambda backend: backend.try_acquire(meters, tokens))
            if wait <= 0:
                return source, ticket
        held: list[asyncio.Lock] = []
        try:
            for lock in locks:
                await lock.acquire()
                held.append(lock)
            while True:
                source, (wait, ticket) = await self._using(
                    lambda backend: backend.try_acquire(meters, tokens)
                )
                if wait <= 0:
                    return source, ticket
                await self._sleep(wait)
        finally:
            for lock in held:
                lock.release()

    async def _sleep(self, seconds: float) -> None:
        refunded = self._refunded
        if refunded is None:
            refunded = self._refunded = asyncio.Event()
        with contextlib.suppress(TimeoutError):  # the wait is over either way
            async with asyncio.timeout(seconds):
                await refunded.wait()

    async def settle(self, ticket: Any, tokens: int, reserved: int | None = None) -> None:
        """Correct an admitted call's tokens; a refund (``tokens < reserved``) wakes the waiters."""
        if not ticket:
            return
        source, admitted = ticket
        if admitted:
            try:
                await source.settle(admitted, tokens)
            except Exception as error:  # the backend went away since: the estimate stands
                _log.debug("settling a rate-limit ticket on %r failed: %r", source, error)
        refunded = self._refunded
        if refunded is not None and (reserved is None or tokens < reserved):
            self._refunded = None
            refunded.set()


def _name(meter: Meter) -> str:
    return meter.name


__all__ = ["Limiter", "LimitsBackend", "MemoryLimits", "Meter", "meters_of"]
