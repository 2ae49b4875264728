"""``redis://`` and ``rediss://``: aiocache's Redis cache, with Podium's admin methods.

It knows its own connection errors (redis-py's do not derive from the builtin ones) and
closes its client with ``aclose`` (redis-py 5 deprecates the ``close`` aiocache calls).
redis-py already drops a connection whose command was cancelled, so an interrupted
command needs nothing more here.
"""

from __future__ import annotations

import re
from typing import Any

from aiocache.backends import redis as aiocache_redis
from redis import exceptions

from podium.contract.cache_backend import CacheStats

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
#: Keys deleted per UNLINK command.
_BATCH = 500


class RedisCache(aiocache_redis.RedisCache):  # type: ignore[misc]
    """aiocache's ``RedisCache`` (same options), plus ``podium.CacheAdmin`` over ``SCAN``."""

    def is_connection_error(self, error: BaseException) -> bool:
        """Whether ``error`` says the server is unreachable or slow (not that one value is bad)."""
        return isinstance(error, (OSError, TimeoutError, exceptions.ConnectionError, exceptions.TimeoutError))

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        await self.client.aclose()

    async def _keys_under(self, prefix: str) -> tuple[list[str], int]:
        stored = self.build_key(prefix)
        keys: list[str] = []
        async for key in self.client.scan_iter(match=_GLOB_SPECIAL.sub(r"\\\1", stored) + "*", count=1000):
            keys.append(key.decode() if isinstance(key, bytes) else key)
        return keys, len(stored) - len(prefix)

    async def stats(self, prefix: str) -> CacheStats:
        """The entries under ``prefix`` (by ``SCAN``), and the server's ``used_memory``."""
        keys, cut = await self._keys_under(prefix)
        info = await self.client.info("memory")
        server = {"used_memory": info.get("used_memory")}
        return CacheStats.of_keys((key[cut:] for key in keys), server=server)

    async def clear_prefix(self, prefix: str) -> int:
        """Delete the entries under ``prefix`` (``UNLINK`` in batches); returns how many there were."""
        keys, _ = await self._keys_under(prefix)
        for start in range(0, len(keys), _BATCH):
            await self.client.unlink(*keys[start : start + _BATCH])
        return len(keys)
