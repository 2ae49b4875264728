"""``memcached://``: aiocache's memcached cache, made safe to interrupt, with Podium's admin methods.

memcached takes whole seconds, so ttls are rounded up (never down to 0, which means
"forever"). aiomcache returns a connection to its pool even when the command on it was
cancelled (a timeout), its reply still unread, and the next command would read that stale
reply: after an interrupted command the client is replaced and the old one closed.
memcached cannot list its keys, so statistics are the server's own, and clearing flushes
the whole server.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiocache.backends.memcached import MemcachedCache as AiocacheMemcachedCache

from podium.contract.cache_backend import CacheStats
from podium.foundation.errors import CacheBackendError
from podium.values.keys import KEY_PREFIX

T = TypeVar("T")
#: The server figures ``stats`` reports.
SERVER_FIGURES = ("curr_items", "bytes", "get_hits", "get_misses")


def _interruptible(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(method)
    async def guarded(self: MemcachedCache, *args: Any, **kwargs: Any) -> T:
        try:
            return await method(self, *args, **kwargs)
        except asyncio.CancelledError:
            self.discard_connections()
            raise

    return guarded


def whole_seconds(ttl: float | None) -> int:
    """``ttl`` rounded up to whole seconds (at least 1); 0 for no ttl."""
    if not ttl:
        return 0
    return max(1, int(-(-ttl // 1)))


class MemcachedCache(AiocacheMemcachedCache):  # type: ignore[misc]
    """aiocache's ``MemcachedCache`` (same options): whole-second ttls, fresh connections
    after an interrupted command, and ``podium.CacheAdmin`` (server figures; flush)."""

    #: Clearing empties the whole server, other applications' keys too.
    clear_flushes_all = True
    client: Any  # an aiomcache.Client, replaced by discard_connections

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing: set[asyncio.Task[None]] = set()

    def discard_connections(self) -> None:
        """Swap in a fresh client; the old one (its replies possibly unread) closes in the background."""
        old = self.client
        self.client = type(old)(self.endpoint, self.port, pool_size=self.pool_size)
        task = asyncio.get_running_loop().create_task(old.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # aiocache's primitives, each guarded; the ones taking a ttl round it first.
    _get = _interruptible(AiocacheMemcachedCache._get)
    _gets = _interruptible(AiocacheMemcachedCache._gets)
    _multi_get = _interruptible(AiocacheMemcachedCache._multi_get)
    _exists = _interruptible(AiocacheMemcachedCache._exists)
    _increment = _interruptible(AiocacheMemcachedCache._increment)
    _delete = _interruptible(AiocacheMemcachedCache._delete)
    _clear = _interruptible(AiocacheMemcachedCache._clear)
    _raw = _interruptible(AiocacheMemcachedCache._raw)
    _redlock_release = _interruptible(AiocacheMemcachedCache._redlock_release)

    @_interruptible
    async def _set(
        self, key: Any, value: Any, ttl: float | None = 0, _cas_token: Any = None, _conn: Any = None
    ) -> Any:
        return await super()._set(key, value, ttl=whole_seconds(ttl), _cas_token=_cas_token, _conn=_conn)

    @_interruptible
    async def _multi_set(self, pairs: Any, ttl: float | None = 0, _conn: Any = None) -> Any:
        return await super()._multi_set(pairs, ttl=whole_seconds(ttl), _conn=_conn)

    @_interruptible
    async def _add(self, key: Any, value: Any, ttl: float | None = 0, _conn: Any = None) -> Any:
        return await super()._add(key, value, ttl=whole_seconds(ttl), _conn=_conn)

    @_interruptible
    async def _expire(self, key: Any, ttl: float | None, _conn: Any = None) -> Any:
        return await super()._expire(key, whole_seconds(ttl), _conn=_conn)

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.client.close()

    # ------------------------------------------------------------------ podium.CacheAdmin

    @_interruptible
    async def stats(self, prefix: str) -> CacheStats:
        """The server's own figures: memcached cannot list keys, so entries are unknown."""
        raw = await self.client.stats()
        server = {name.decode(): _number(value) for name, value in raw.items()}
        return CacheStats(server={name: server.get(name) for name in SERVER_FIGURES})

    @_interruptible
    async def clear_prefix(self, prefix: str) -> None:
        """Flush the whole server (``prefix`` must be all of Podium's: one namespace cannot be told apart)."""
        if prefix != KEY_PREFIX:
            raise CacheBackendError(
                "memcached cannot list its keys, so it cannot clear one namespace: "
                "clear everything (podium cache clear) or let the entries expire"
            )
        await self.client.flush_all()


def _number(raw: bytes) -> int | float | str:
    text = raw.decode()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
