"""Cache backends by URL, and what only a backend knows: its entries, how to clear them.

- ``memory://``: aiocache's ``SimpleMemoryCache``; values are kept as the objects themselves.
- ``sqlite:///relative/path``, ``sqlite:////absolute/path`` (``sqlite://`` alone:
  ``.podium/cache.sqlite3``): :class:`podium.sqlite_cache.SQLiteCache`; pickle.
- ``redis://[:password@]host:port/db`` (``rediss://`` for TLS): aiocache's ``RedisCache``; pickle.
- ``memcached://host:port``: aiocache's ``MemcachedCache``; pickle.

Pickle means a cache is trusted like code: whoever can write to it can run code in the
processes that read it. Point Podium only at a Redis, memcached or SQLite file that
only trusted processes can write.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from aiocache import SimpleMemoryCache
from aiocache.serializers import PickleSerializer

from podium.backends.sqlite import DEFAULT_PATH, SQLiteCache
from podium.foundation.errors import ConfigError, PodiumError
from podium.foundation.redaction import redact_url

if TYPE_CHECKING:
    from aiocache.base import BaseCache

#: URL schemes :func:`open_backend` understands.
SCHEMES = ("memory", "sqlite", "redis", "rediss", "memcached")


class CacheBackendError(PodiumError):
    """A cache command (stats, clear) could not be carried out on the backend."""


def backend_kind(backend: BaseCache) -> str:
    """``memory``, ``sqlite``, ``redis``, ``memcached``, or the class name of another backend."""
    if isinstance(backend, SimpleMemoryCache):
        return "memory"
    if isinstance(backend, SQLiteCache):
        return "sqlite"
    name = type(backend).__name__
    for kind in ("redis", "memcached"):
        if name.lower().startswith(kind):
            return kind
    return name


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` says the backend is unreachable or slow (not that one value is bad)."""
    if isinstance(error, (OSError, TimeoutError, ConnectionError)):
        return True
    # redis-py's ConnectionError and TimeoutError do not derive from the builtins.
    return any(cls.__name__ in ("ConnectionError", "TimeoutError") for cls in type(error).__mro__)


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite://`` URL: three slashes relative, four absolute, none the default."""
    rest = url[len("sqlite://") :].split("?", 1)[0]
    if rest.startswith("/"):
        rest = rest[1:]
    return Path(unquote(rest)) if rest else DEFAULT_PATH


def open_backend(url: str, *, timeout: float | None = None) -> BaseCache | None:
    """A new backend for ``url``, or ``None`` when its scheme is not one of :data:`SCHEMES`.

    Nothing connects yet: a server that is down shows at the first operation (as a
    warning and an uncached run), not here. ``timeout`` bounds connecting to a server.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme == "memory":
        return SimpleMemoryCache(timeout=None)
    if scheme == "sqlite":
        return SQLiteCache(sqlite_path(url), timeout=None)
    if scheme in ("redis", "rediss"):
        return _redis(url, timeout)
    if scheme == "memcached":
        return _memcached(url)
    return None


def _redis(url: str, timeout: float | None) -> BaseCache:
    try:
        from aiocache.backends.redis import RedisCache
    except ImportError:
        raise ConfigError(
            f"cache {redact_url(url)!r} needs the Redis client: pip install 'podium[redis]'"
        ) from None
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ConfigError(f"cache {redact_url(url)!r}: the path must be a database number, got {db!r}")
    pool: dict[str, Any] = {}
    if parts.username:
        pool["username"] = unquote(parts.username)
    return RedisCache(
        serializer=PickleSerializer(),
        endpoint=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int(db),
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "rediss",
        create_connection_timeout=timeout,
        connection_pool_kwargs=pool,
        timeout=None,
    )


def _memcached(url: str) -> BaseCache:
    try:
        from aiocache.backends.memcached import MemcachedCache
    except ImportError:
        raise ConfigError(
            f"cache {url!r} needs the memcached client: pip install 'podium[memcached]'"
        ) from None
    parts = urlsplit(url)
    return MemcachedCache(
        serializer=PickleSerializer(),
        endpoint=parts.hostname or "127.0.0.1",
        port=parts.port or 11211,
        timeout=None,
    )


_closing: set[asyncio.Task[Any]] = set()


def discard_connections(backend: BaseCache) -> None:
    """Drop a memcached backend's connections after an interrupted command.

    aiomcache returns a connection to its pool even when a command on it was cancelled
    (a timeout), with the reply still unread: the next command would read that stale
    reply. A fresh client is swapped in and the old one closed in the background.
    redis-py already drops a connection whose command was cancelled; SQLite has none.
    """
    if backend_kind(backend) != "memcached":
        return
    old: Any = backend.client
    backend.client = type(old)(backend.endpoint, backend.port, pool_size=backend.pool_size)
    task = asyncio.get_running_loop().create_task(old.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def close_backend(backend: BaseCache) -> None:
    """Close ``backend``'s connections (redis-py 5 deprecates the ``close`` aiocache calls)."""
    client = getattr(backend, "client", None)
    if backend_kind(backend) == "redis" and hasattr(client, "aclose"):
        await client.aclose()  # type: ignore[union-attr]
        return
    await backend.close()


# ---------------------------------------------------------------------------- stats and clear


def _group(keys: list[str], prefix: str) -> dict[str, dict[str, int]]:
    counts: Counter[tuple[str, str]] = Counter()
    for key in keys:
        namespace, _, rest = key[len(prefix) :].partition(":")
        kind = rest.partition(":")[0]
        counts[("" if namespace == "_" else namespace, kind)] += 1
    grouped: dict[str, dict[str, int]] = {}
    for (namespace, kind), n in sorted(counts.items()):
        grouped.setdefault(namespace, {})[kind] = n
    return grouped


async def _redis_keys(backend: Any, prefix: str) -> list[str]:
    keys: list[str] = []
    async for key in backend.client.scan_iter(match=f"{prefix}*", count=1000):
        keys.append(key.decode() if isinstance(key, bytes) else key)
    return keys


async def backend_stats(backend: BaseCache, prefix: str) -> dict[str, Any]:
    """Entries under ``prefix``: count, bytes where known, per namespace and kind."""
    kind = backend_kind(backend)
    try:
        if kind == "memory":
            keys = [k for k in backend._cache if isinstance(k, str) and k.startswith(prefix)]
            return {"entries": len(keys), "bytes": None, "namespaces": _group(keys, prefix)}
        if kind == "sqlite":
            assert isinstance(backend, SQLiteCache)
            keys, size = await backend.keys_with_prefix(prefix)
            return {
                "entries": len(keys),
                "bytes": size,
                "path": str(backend.path),
                "namespaces": _group(keys, prefix),
            }
        if kind == "redis":
            keys = await _redis_keys(backend, prefix)
            info = await backend.client.info("memory")
            return {
                "entries": len(keys),
                "bytes": None,
                "namespaces": _group(keys, prefix),
                "server": {"used_memory": info.get("used_memory")},
            }
        if kind == "memcached":
            raw = await backend.client.stats()
            server = {k.decode(): _number(v) for k, v in raw.items()}
            return {
                "entries": None,
                "bytes": None,
                "namespaces": {},
                "server": {k: server.get(k) for k in ("curr_items", "bytes", "get_hits", "get_misses")},
            }
    except Exception as error:
        raise CacheBackendError(f"cannot read the {kind} cache's statistics: {error!r}") from error
    return {"entries": None, "bytes": None, "namespaces": {}}


def _number(raw: bytes) -> int | float | str:
    text = raw.decode()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


async def clear_backend(backend: BaseCache, prefix: str, by_namespace: bool) -> int | None:
    """Delete the entries under ``prefix``; ``None`` when the backend cannot count them."""
    kind = backend_kind(backend)
    try:
        if kind == "memory":
            keys = [k for k in backend._cache if isinstance(k, str) and k.startswith(prefix)]
            for key in keys:
                await backend.delete(key)
            return len(keys)
        if kind == "sqlite":
            assert isinstance(backend, SQLiteCache)
            return await backend.delete_prefix(prefix)
        if kind == "redis":
            keys = await _redis_keys(backend, prefix)
            for start in range(0, len(keys), 500):
                await backend.client.unlink(*keys[start : start + 500])
            return len(keys)
        if kind == "memcached":
            if by_namespace:
                raise CacheBackendError(
                    "memcached cannot list its keys, so it cannot clear one namespace: "
                    "clear everything (podium cache clear) or let the entries expire"
                )
            await backend.client.flush_all()
            return None
    except CacheBackendError:
        raise
    except Exception as error:
        raise CacheBackendError(f"cannot clear the {kind} cache: {error!r}") from error
    raise CacheBackendError(f"podium does not know how to clear a {kind} backend")
