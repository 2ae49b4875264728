"""The result cache behind stage and agent-call caching: lookup, single-flight, store, savings.

Values are stored with the usage (tokens, cost) their execution spent, so a hit can
report what it saved. A backend that fails or is slow is a warning and an uncached
call, never a failed call or a lost value: after a connection failure or a timeout the
backend is left alone for ``retry_after`` seconds, then tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import attrs

from podium.contract.cache_backend import (
    CacheAdmin,
    CacheStats,
    InProcessBackend,
    backend_name,
    is_outage,
)
from podium.foundation.errors import CacheBackendError, FlightAbandoned
from podium.foundation.redaction import redact_url
from podium.foundation.singleflight import SingleFlight
from podium.values.keys import KEY_PREFIX, namespace_prefix
from podium.values.model import ZERO_USAGE, Usage

if TYPE_CHECKING:
    from aiocache.base import BaseCache

T = TypeVar("T")
Source = Literal["executed", "cached", "coalesced"]

_log = logging.getLogger("podium.cache")

#: The stored form's tag; a value under another tag (an older layout) counts as a miss.
ENVELOPE = "podium-cache/1"
_MISSING = object()


def _identity(value: Any) -> Any:
    return value


@attrs.frozen
class Outcome(Generic[T]):
    """The result of :meth:`ResultCache.get_or_run`.

    :ivar value: The value, executed, stored or shared.
    :ivar source: ``"executed"`` (this call ran the work), ``"cached"`` (read from the
        backend) or ``"coalesced"`` (shared with an identical call in flight).
    :ivar usage: What this call spent (zero unless executed).
    :ivar saved: What this call avoided spending (the original execution's usage).
    """

    value: T
    source: Source
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE

    @property
    def hit(self) -> bool:
        return self.source != "executed"


@attrs.define
class CacheCounters:
    """What one cache saw in this process: hits, misses, coalesced calls, failures, savings."""

    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    writes: int = 0
    read_errors: int = 0
    write_errors: int = 0
    saved: Usage = ZERO_USAGE

    def as_dict(self) -> dict[str, Any]:
        looked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "coalesced": self.coalesced,
            "hit_rate": round(self.hits / looked, 4) if looked else None,
            "writes": self.writes,
            "read_errors": self.read_errors,
            "write_errors": self.write_errors,
            "saved_tokens": self.saved.total_tokens,
            "saved_cost_usd": round(self.saved.cost_usd, 6),
            "saved_requests": self.saved.requests,
        }


def _pack_usage(usage: Usage) -> tuple[int, int, int, int, int, float]:
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.requests,
        usage.cost_usd,
    )


class ResultCache:
    """Key → (value, usage) over an aiocache backend, with single-flight and degradation.

    :param backend: An ``aiocache`` cache (see :mod:`podium.contract.cache_backend` for
        what else it may offer), or ``None`` for no cache at all.
    :param url: The URL it was made from, for messages (its password is masked).
    :param timeout: Seconds one backend operation may take before it counts as down.
    :param retry_after: Seconds a backend that failed is left alone before the next try.

    Stage caching uses :meth:`get_or_run` through the kernel; an agent-call cache does
    the same with a key from :func:`podium.agent_key`. :meth:`stats` and :meth:`clear`
    are what ``podium cache stats|clear`` run.
    """

    def __init__(
        self,
        backend: BaseCache | None,
        *,
        url: str = "memory://",
        timeout: float = 2.0,
        retry_after: float = 30.0,
    ) -> None:
        self.backend = backend
        self.url = url
        self.timeout = timeout
        self.retry_after = retry_after
        self.counters = CacheCounters()
        self.flights: SingleFlight[tuple[Any, Usage, Source]] = SingleFlight()
        self._down_until = 0.0
        # An in-process backend needs neither a timeout nor serialization, nor aiocache's
        # wrappers around every call: it is read and written directly.
        self._local: InProcessBackend | None = backend if isinstance(backend, InProcessBackend) else None

    def __repr__(self) -> str:
        return f"<ResultCache {redact_url(self.url)} {'on' if self.enabled else 'off'}>"

    @property
    def enabled(self) -> bool:
        """Whether a backend is configured (it may still be temporarily unavailable)."""
        return self.backend is not None

    @property
    def inline(self) -> bool:
        """Whether a hit can be served without awaiting anything (an in-process backend)."""
        return self._local is not None

    def peek(self, key: str) -> tuple[Any, Usage] | None:
        """A stored value and its usage, read at once from an in-process backend, or ``None``.

        A value found is a hit (counted, with what it saved); nothing found is not yet a
        miss: the caller goes on to :meth:`get_or_run`, which counts it and shares the work.
        """
        local = self._local
        if local is None or not self.available:
            return None
        try:
            raw = local.get_nowait(key)
        except Exception as error:
            self.counters.read_errors += 1
            self._failed("read", error, outage=True)
            return None
        stored = None if raw is None else self._unpack(key, raw)
        if stored is not None:
            counters = self.counters
            counters.hits += 1
            counters.saved = counters.saved + stored[1]
        return stored

    @property
    def available(self) -> bool:
        """Whether the backend is configured and not resting after a failure."""
        return self.backend is not None and time.monotonic() >= self._down_until

    # ------------------------------------------------------------------ backend access

    def _failed(self, operation: str, error: BaseException, *, outage: bool) -> None:
        where = redact_url(self.url)
        if not outage:
            _log.warning("cache %s failed on %s (%r); this value is not cached", operation, where, error)
            return
        if self.available:
            _log.warning(
                "cache backend %s failed on %s (%r); running uncached, retrying in %.0fs",
                where,
                operation,
                error,
                self.retry_after,
            )
        self._down_until = time.monotonic() + self.retry_after

    async def _call(self, operation: Awaitable[Any]) -> Any:
        async with asyncio.timeout(self.timeout):
            return await operation

    async def read(self, key: str) -> tuple[Any, Usage] | None:
        """The stored value and the usage it cost, or ``None`` (miss, or backend unavailable)."""
        backend = self.backend
        if backend is None or not self.available:
            return None
        try:
            if self._local is not None:
                raw = self._local.get_nowait(key)
                return None if raw is None else self._unpack(key, raw)
            raw = await self._call(backend.get(key, loads_fn=_identity))
        except Exception as error:
            self.counters.read_errors += 1
            self._failed("read", error, outage=True)
            return None
        if raw is None:
            return None
        return self._unpack(key, raw, backend.serializer.loads)

    def _unpack(
        self, key: str, raw: Any, loads: Callable[[Any], Any] | None = None
    ) -> tuple[Any, Usage] | None:
        try:
            stored = raw if loads is None else loads(raw)
            tag, value, usage = stored
            if tag != ENVELOPE:
                return None
            return value, Usage(*usage)
        except Exception as error:
            # A value written by an older layout or a class that no longer imports.
            self.counters.read_errors += 1
            _log.warning("cache entry %s cannot be read back (%r); treating it as a miss", key, error)
            return None

    async def write(self, key: str, value: Any, usage: Usage, ttl: float | None = None) -> bool:
        """Store ``value`` with the usage it cost; returns whether it was stored."""
        backend = self.backend
        if backend is None or not self.available:
            return False
        envelope = (ENVELOPE, value, _pack_usage(usage))
        try:
            payload = envelope if self._local is not None else backend.serializer.dumps(envelope)
        except Exception as error:
            self.counters.write_errors += 1
            _log.warning("cache value for %s cannot be serialized (%r); it is not cached", key, error)
            return False
        try:
            if self._local is not None:
                self._local.set_nowait(key, payload, ttl)
            else:
                await self._call(backend.set(key, payload, ttl=ttl, dumps_fn=_identity))
        except Exception as error:
            self.counters.write_errors += 1
            self._failed("write", error, outage=is_outage(backend, error))
            return False
        self.counters.writes += 1
        return True

    # ------------------------------------------------------------------ the one entry point

    async def get_or_run(
        self,
        key: str,
        execute: Callable[[], Coroutine[Any, Any, tuple[T, Usage]]],
        *,
        ttl: float | None = None,
        read: bool = True,
        write: bool = True,
        refresh: bool = False,
        on_miss: Callable[[], None] | None = None,
    ) -> Outcome[T]:
        """The value for ``key``: stored, shared with an identical call in flight, or executed.

        :param execute: Called (synchronously, in the caller's task) only when the work
            must be done; returns a coroutine of ``(value, usage spent)``. The coroutine
            runs in a task of its own, shared by identical calls.
        :param read: Look the key up and join identical calls in flight (off: always execute).
        :param write: Store a fresh value (with its usage) under ``key`` for ``ttl`` seconds.
        :param refresh: Execute even when stored (joining a call already in flight).
        :param on_miss: Called in the caller's task when the lookup found nothing.

        An exception from the work reaches every caller sharing it and is not stored.
        """
        if not read:
            value, usage = await execute()
            if write:
                await self.write(key, value, usage, ttl)
            return Outcome(value, "executed", usage=usage)
        while True:
            flight, leader = self.flights.open(key)
            # A value already delivered (its store still pending) is as good as stored.
            delivered = not leader and flight.future.done()
            if leader:
                try:
                    stored = None if refresh else await self.read(key)
                except BaseException:
                    self.flights.abandon(flight)
                    raise
                if stored is not None:
                    self.flights.resolve(flight, (stored[0], stored[1], "cached"))
                else:
                    try:
                        if not refresh:
                            self.counters.misses += 1
                            if on_miss is not None:
                                on_miss()
                        work = self._executed(execute())
                    except BaseException:
                        self.flights.abandon(flight)
                        raise
                    after = self._store_after(key, ttl) if write else None
                    self.flights.start(flight, work, after)
            try:
                value, usage, source = await self.flights.wait(flight)
            except FlightAbandoned:
                continue
            if delivered:
                source = "cached"
            return self._outcome(value, usage, source, led=leader)

    @staticmethod
    async def _executed(work: Coroutine[Any, Any, tuple[T, Usage]]) -> tuple[Any, Usage, Source]:
        value, usage = await work
        return value, usage, "executed"

    def _store_after(
        self, key: str, ttl: float | None
    ) -> Callable[[tuple[Any, Usage, Source]], Awaitable[None]]:
        async def store(result: tuple[Any, Usage, Source]) -> None:
            await self.write(key, result[0], result[1], ttl)

        return store

    def _outcome(self, value: Any, usage: Usage, source: Source, *, led: bool) -> Outcome[Any]:
        if led and source == "executed":
            return Outcome(value, "executed", usage=usage)
        counters = self.counters
        if source == "executed":
            source = "coalesced"
            counters.coalesced += 1
        else:
            counters.hits += 1
        counters.saved = counters.saved + usage
        return Outcome(value, source, saved=usage)

    # ------------------------------------------------------------------ administration

    @property
    def clear_flushes_all(self) -> bool:
        """Whether :meth:`clear` empties the whole store, other applications' keys too (memcached)."""
        return bool(getattr(self.backend, "clear_flushes_all", False))

    def _describe(self) -> str:
        return f"the {backend_name(self.backend)} cache {redact_url(self.url)}"

    async def stats(self) -> dict[str, Any]:
        """What the backend holds under Podium's keys, and what this cache saw in this process.

        Returns a JSON-ready dict: ``backend`` (its name), ``url`` (password masked),
        ``serializer``, ``stats_supported`` (whether the backend implements
        :class:`podium.CacheAdmin`), ``entries`` and ``bytes`` (``None`` where the backend
        cannot tell), ``namespaces`` (``{namespace: {kind: entries}}``), ``server``
        (figures of the store as a whole) and ``session`` (hits, misses, coalesced calls,
        writes, errors, saved tokens and cost). Raises :class:`podium.CacheBackendError`
        when the backend cannot be read.
        """
        backend = self.backend
        figures: dict[str, Any] = {"backend": None, "url": None, "serializer": None, "stats_supported": True}
        if backend is None:
            figures.update(entries=0, bytes=0, namespaces={}, server={})
        else:
            figures.update(
                backend=backend_name(backend),
                url=redact_url(self.url),
                serializer=type(backend.serializer).__name__,
                stats_supported=isinstance(backend, CacheAdmin),
            )
            held = (
                await self._admin("read the statistics of", backend.stats(KEY_PREFIX))
                if isinstance(backend, CacheAdmin)
                else CacheStats()
            )
            figures.update(held.as_dict())
        figures["session"] = self.counters.as_dict()
        return figures

    async def clear(self, namespace: str | None = None) -> int | None:
        """Delete Podium's entries: all of them, or one namespace's (``""`` is the default one).

        Returns how many entries were deleted, or ``None`` when the backend cannot count
        them (memcached, which flushes the whole server and cannot delete one namespace).
        Keys of other applications sharing a Redis database or SQLite file are never
        touched. Raises :class:`podium.CacheBackendError` when the backend cannot be
        cleared (it is unreachable, or it does not implement :class:`podium.CacheAdmin`).
        """
        backend = self.backend
        prefix = namespace_prefix(namespace)
        if backend is None:
            return 0
        if not isinstance(backend, CacheAdmin):
            raise CacheBackendError(
                f"podium cannot clear {self._describe()}: its backend ({type(backend).__qualname__}) does "
                "not implement podium.CacheAdmin; clear it with the backend's own tools"
            )
        return await self._admin("clear", backend.clear_prefix(prefix))

    async def _admin(self, action: str, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except CacheBackendError:
            raise
        except Exception as error:
            # str, not repr: redis-py's repr of a refused connection is just "network:ConnectionError".
            raise CacheBackendError(
                f"cannot {action} {self._describe()}: {type(error).__name__}: {error}"
            ) from error

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Finish pending stores (at most ``drain_timeout`` s), then close the backend."""
        await self.flights.drain(drain_timeout)
        if self.backend is not None:
            try:
                await self.backend.close()
            except Exception as error:
                _log.debug("closing cache %s failed: %r", redact_url(self.url), error)
