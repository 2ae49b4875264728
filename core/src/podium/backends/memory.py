"""``memory://``: a dict in this process, the library's default backend.

Values are kept as the objects themselves (no serializer), so a hit returns the very
object that was stored. Expiry is checked when an entry is read, and expired entries are
dropped as writes go on (a heap of deadlines), so no timer or event loop is involved.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from typing import Any

from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer

from podium.contract.cache_backend import CacheStats

_Entry = tuple[Any, float | None]  # (value, monotonic deadline or None)


class MemoryCache(BaseCache):  # type: ignore[misc]
    """An aiocache cache in a dict, with Podium's in-process and admin methods.

    Takes aiocache's options (``namespace``, ``ttl``, ``plugins``...); the default
    serializer keeps objects as they are. ``get_nowait`` and ``set_nowait``, which the
    result cache uses, bypass aiocache plugins.
    """

    NAME = "memory"

    def __init__(self, serializer: Any = None, **kwargs: Any) -> None:
        super().__init__(serializer=serializer or NullSerializer(), **kwargs)
        self._entries: dict[str, _Entry] = {}
        self._deadlines: list[tuple[float, str]] = []

    def __repr__(self) -> str:
        return f"MemoryCache ({len(self._entries)} entries)"

    # ------------------------------------------------------------------ in-process access

    def get_nowait(self, key: str) -> Any:
        """The value under ``key``, or ``None`` when there is none or it expired."""
        return self._lookup(self.build_key(key))

    def set_nowait(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` itself under ``key`` for ``ttl`` seconds (``None`` or 0: no expiry)."""
        self._store(self.build_key(key), value, ttl)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the live entries, keys as stored: for inspection and tests."""
        now = time.monotonic()
        return {k: v for k, (v, deadline) in self._entries.items() if deadline is None or deadline > now}

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= time.monotonic():
            del self._entries[key]
            return None
        return entry

    def _lookup(self, key: str) -> Any:
        # The result cache's hit path: one dict lookup, a clock read only for entries with a ttl.
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, deadline = entry
        if deadline is not None and deadline <= time.monotonic():
            del self._entries[key]
            return None
        return value

    def _store(self, key: str, value: Any, ttl: float | None, deadline: float | None = None) -> None:
        """Store under ``key`` for ``ttl`` seconds, or until ``deadline`` (already in the heap)."""
        now = time.monotonic()
        if ttl:
            deadline = now + ttl
            heapq.heappush(self._deadlines, (deadline, key))
        self._entries[key] = (value, deadline)
        self._purge(now)

    def _purge(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            deadline, key = heapq.heappop(deadlines)
            entry = self._entries.get(key)
            if entry is not None and entry[1] == deadline:  # not rewritten since
                del self._entries[key]

    def _discard(self, key: str) -> int:
        if self._live(key) is None:
            return 0
        del self._entries[key]
        return 1

    # ------------------------------------------------------------------ aiocache's primitives

    async def _get(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return self._lookup(key)

    async def _gets(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return self._lookup(key)

    async def _multi_get(
        self, keys: Sequence[str], encoding: str | None = "utf-8", _conn: Any = None
    ) -> list[Any]:
        return [self._lookup(key) for key in keys]

    async def _set(
        self, key: str, value: Any, ttl: float | None = None, _cas_token: Any = None, _conn: Any = None
    ) -> bool | int:
        if _cas_token is not None and _cas_token != self._lookup(key):
            return 0
        self._store(key, value, ttl)
        return True

    async def _multi_set(
        self, pairs: Sequence[tuple[str, Any]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        for key, value in pairs:
            self._store(key, value, ttl)
        return True

    async def _add(self, key: str, value: Any, ttl: float | None = None, _conn: Any = None) -> bool:
        if self._live(key) is not None:
            raise ValueError(f"Key {key} already exists, use .set to update the value")
        self._store(key, value, ttl)
        return True

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return self._live(key) is not None

    async def _increment(self, key: str, delta: int, _conn: Any = None) -> int:
        entry = self._live(key)
        try:
            value = delta if entry is None else int(entry[0]) + delta
        except (TypeError, ValueError):
            raise TypeError("Value is not an integer") from None
        # An increment keeps the entry's deadline, as Redis's INCRBY keeps its ttl.
        self._store(key, value, None, None if entry is None else entry[1])
        return value

    async def _expire(self, key: str, ttl: float, _conn: Any = None) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        self._store(key, entry[0], ttl)
        return True

    async def _delete(self, key: str, _conn: Any = None) -> int:
        return self._discard(key)

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        if namespace:
            for key in [k for k in self._entries if k.startswith(namespace)]:
                del self._entries[key]
        else:
            self._entries.clear()
            self._deadlines.clear()
        return True

    async def _redlock_release(self, key: str, value: Any) -> int:
        return self._discard(key) if self._lookup(key) == value else 0

    # ------------------------------------------------------------------ podium.CacheAdmin

    def _keys_under(self, prefix: str) -> tuple[list[str], int]:
        stored = self.build_key(prefix)
        live = self.snapshot()
        return [key for key in live if key.startswith(stored)], len(stored) - len(prefix)

    async def stats(self, prefix: str) -> CacheStats:
        """The live entries under ``prefix`` (objects have no stored size: ``bytes`` is ``None``)."""
        keys, cut = self._keys_under(prefix)
        return CacheStats.of_keys(key[cut:] for key in keys)

    async def clear_prefix(self, prefix: str) -> int:
        """Delete the entries under ``prefix``; returns how many were live."""
        keys, _ = self._keys_under(prefix)
        for key in keys:
            del self._entries[key]
        return len(keys)
