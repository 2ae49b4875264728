"""Opening the built-in cache backends from their URLs.

- ``memory://``: :class:`~podium.backends.memory.MemoryCache`; values are kept as the objects themselves.
- ``sqlite:///relative/path``, ``sqlite:////absolute/path`` (``sqlite://`` alone:
  ``.podium/cache.sqlite3``): :class:`~podium.backends.sqlite.SQLiteCache`; pickle.
- ``redis://[:password@]host:port/db`` (``rediss://`` for TLS):
  :class:`~podium.backends.redis.RedisCache`; pickle.
- ``memcached://host:port``: :class:`~podium.backends.memcached.MemcachedCache`; pickle.

Pickle means a cache is trusted like code: whoever can write to it can run code in the
processes that read it. Point Podium only at a Redis, memcached or SQLite file that
only trusted processes can write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from aiocache.serializers import PickleSerializer

from podium.backends.memory import MemoryCache
from podium.backends.sqlite import DEFAULT_PATH, SQLiteCache
from podium.foundation.errors import ConfigError
from podium.foundation.redaction import redact_url, url_port

if TYPE_CHECKING:
    from aiocache.base import BaseCache

#: URL schemes :func:`open_backend` understands.
SCHEMES = ("memory", "sqlite", "redis", "rediss", "memcached")


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
    Operations carry no aiocache timeout: the result cache bounds each one itself.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme == "memory":
        return MemoryCache(timeout=None)
    if scheme == "sqlite":
        return SQLiteCache(sqlite_path(url), timeout=None)
    if scheme in ("redis", "rediss"):
        return _redis(url, timeout)
    if scheme == "memcached":
        return _memcached(url)
    return None


def _port(url: str, default: int) -> int:
    try:
        return url_port(url) or default
    except ValueError as exc:
        raise ConfigError(f"cache {exc}") from None


def _redis(url: str, timeout: float | None) -> BaseCache:
    try:
        from podium.backends.redis import RedisCache
    except ImportError:
        raise ConfigError(
            f"cache {redact_url(url)!r} needs the Redis client: pip install 'podium[redis]'"
        ) from None
    port = _port(url, 6379)  # first: a malformed netloc is a ConfigError, not a ValueError
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
        port=port,
        db=int(db),
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "rediss",
        create_connection_timeout=timeout,
        connection_pool_kwargs=pool,
        timeout=None,
    )


def _memcached(url: str) -> BaseCache:
    try:
        from podium.backends.memcached import MemcachedCache
    except ImportError:
        raise ConfigError(
            f"cache {redact_url(url)!r} needs the memcached client: pip install 'podium[memcached]'"
        ) from None
    port = _port(url, 11211)
    return MemcachedCache(
        serializer=PickleSerializer(),
        endpoint=urlsplit(url).hostname or "127.0.0.1",
        port=port,
        timeout=None,
    )
