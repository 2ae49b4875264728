"""``sqlite://``: an aiocache backend on one SQLite file, shared between processes.

It is the command line's default, so that two ``podium run`` invocations share results.
The file's connection lives on one dedicated thread per cache
(:class:`~podium.foundation.sqlite_thread.SQLiteThread`: WAL mode, so readers never wait
for a writer, and a busy timeout lets concurrent processes queue instead of failing).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer

from podium.contract.cache_backend import CacheStats
from podium.foundation.sqlite_thread import SQLiteThread

T = TypeVar("T")

#: Where the command line keeps its cache when none is configured.
DEFAULT_PATH = Path(".podium") / "cache.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS podium_cache (
    key TEXT PRIMARY KEY,
    value BLOB,
    expires_at REAL,
    stored_at REAL NOT NULL
) WITHOUT ROWID
"""
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
#: Expired rows are purged every this many writes (reads never write).
_PURGE_EVERY = 256


def _prefix_end(prefix: str) -> str:
    # Every string starting with prefix sorts in [prefix, prefix_end): a range scan on the key.
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SQLiteCache(BaseCache):  # type: ignore[misc]
    """An aiocache cache stored in a SQLite file (default serializer: pickle), with Podium's admin methods.

    :param path: The database file; its directory is created on first use.
    :param busy_timeout: Seconds to wait for another process's write lock.

    Plus aiocache's own options (``serializer``, ``namespace``, ``timeout``, ``ttl``...).
    """

    NAME = "sqlite"

    def __init__(
        self,
        path: str | Path = DEFAULT_PATH,
        *,
        busy_timeout: float = 5.0,
        serializer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(serializer=serializer or PickleSerializer(), **kwargs)
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._thread = SQLiteThread(
            self.path,
            busy_timeout=busy_timeout,
            setup=lambda conn: conn.execute(_SCHEMA),
            thread_name="podium-sqlite",
        )
        self._writes = 0

    def __repr__(self) -> str:
        return f"SQLiteCache ({self.path})"

    # ------------------------------------------------------------------ the worker thread

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._thread.run(fn, *args)

    def _connection(self) -> sqlite3.Connection:
        return self._thread.connection()

    def _fetch_one(self, key: str) -> Any:
        row = (
            self._connection()
            .execute(f"SELECT value FROM podium_cache WHERE key = ? AND {_LIVE}", (key, time.time()))
            .fetchone()
        )
        return None if row is None else row[0]

    def _transaction(self, statements: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = statements(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _write(self, pairs: Iterable[tuple[str, Any]], ttl: float | None) -> None:
        now = time.time()
        expires = now + ttl if ttl else None
        rows = [(key, value, expires, now) for key, value in pairs]
        sql = "INSERT OR REPLACE INTO podium_cache (key, value, expires_at, stored_at) VALUES (?, ?, ?, ?)"
        if len(rows) == 1:
            self._connection().execute(sql, rows[0])
        else:
            self._transaction(lambda conn: conn.executemany(sql, rows))
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            self._connection().execute("DELETE FROM podium_cache WHERE expires_at <= ?", (now,))

    # ------------------------------------------------------------------ aiocache's primitives

    @staticmethod
    def _decode(value: Any, encoding: str | None) -> Any:
        if encoding is not None and isinstance(value, bytes):
            return value.decode(encoding)
        return value

    async def _get(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return self._decode(await self._run(self._fetch_one, key), encoding)

    async def _gets(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return await self._get(key, encoding=encoding)

    async def _multi_get(
        self, keys: Sequence[str], encoding: str | None = "utf-8", _conn: Any = None
    ) -> list[Any]:
        def fetch() -> list[Any]:
            return [self._fetch_one(key) for key in keys]

        return [self._decode(v, encoding) for v in await self._run(fetch)]

    async def _set(
        self, key: str, value: Any, ttl: float | None = None, _cas_token: Any = None, _conn: Any = None
    ) -> bool | int:
        if _cas_token is not None:

            def compare_and_set() -> int:
                if self._fetch_one(key) != _cas_token:
                    return 0
                self._write([(key, value)], ttl)
                return 1

            return await self._run(compare_and_set)
        await self._run(self._write, [(key, value)], ttl)
        return True

    async def _multi_set(
        self, pairs: Sequence[tuple[str, Any]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        await self._run(self._write, list(pairs), ttl)
        return True

    async def _add(self, key: str, value: Any, ttl: float | None = None, _conn: Any = None) -> bool:
        def add() -> bool:
            if self._fetch_one(key) is not None:
                raise ValueError(f"Key {key} already exists, use .set to update the value")
            self._write([(key, value)], ttl)
            return True

        return await self._run(add)

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return await self._run(self._fetch_one, key) is not None

    async def _increment(self, key: str, delta: int, _conn: Any = None) -> int:
        def increment() -> int:
            current = self._fetch_one(key)
            try:
                value = delta if current is None else int(current) + delta
            except (TypeError, ValueError):
                raise TypeError("Value is not an integer") from None
            self._write([(key, value)], None)
            return value

        return await self._run(increment)

    async def _expire(self, key: str, ttl: float, _conn: Any = None) -> bool:
        def expire() -> bool:
            now = time.time()
            cursor = self._connection().execute(
                f"UPDATE podium_cache SET expires_at = ? WHERE key = ? AND {_LIVE}",
                (now + ttl if ttl else None, key, now),
            )
            return cursor.rowcount > 0

        return await self._run(expire)

    async def _delete(self, key: str, _conn: Any = None) -> int:
        def delete() -> int:
            return self._connection().execute("DELETE FROM podium_cache WHERE key = ?", (key,)).rowcount

        return await self._run(delete)

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        if namespace:
            await self._delete_under(namespace)
        else:
            await self._run(lambda: self._connection().execute("DELETE FROM podium_cache"))
        return True

    async def _raw(
        self, command: str, *args: Any, encoding: str | None = "utf-8", _conn: Any = None, **kwargs: Any
    ) -> Any:
        """Run ``command`` (a ``sqlite3.Connection`` method, e.g. ``"execute"``) on the thread."""

        def raw() -> Any:
            result = getattr(self._connection(), command)(*args, **kwargs)
            return result.fetchall() if isinstance(result, sqlite3.Cursor) else result

        return await self._run(raw)

    async def _redlock_release(self, key: str, value: Any) -> int:
        def release() -> int:
            sql = "DELETE FROM podium_cache WHERE key = ? AND value = ?"
            return self._connection().execute(sql, (key, value)).rowcount

        return await self._run(release)

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        await self._thread.close()

    # ------------------------------------------------------------------ podium.CacheAdmin

    async def stats(self, prefix: str) -> CacheStats:
        """The live entries under ``prefix``, the bytes their values take, and the file's size."""
        stored = self.build_key(prefix)
        cut = len(stored) - len(prefix)

        def scan() -> CacheStats:
            rows = (
                self._connection()
                .execute(
                    f"SELECT key, length(value) FROM podium_cache WHERE key >= ? AND key < ? AND {_LIVE}",
                    (stored, _prefix_end(stored), time.time()),
                )
                .fetchall()
            )
            files = (self.path, self.path.with_name(self.path.name + "-wal"))
            on_disk = sum(f.stat().st_size for f in files if f.exists())
            return CacheStats.of_keys(
                (key[cut:] for key, _ in rows),
                bytes=sum(size or 0 for _, size in rows),
                server={"path": str(self.path), "file_bytes": on_disk},
            )

        return await self._run(scan)

    async def clear_prefix(self, prefix: str) -> int:
        """Delete every entry whose key starts with ``prefix``; returns how many were live."""
        return await self._delete_under(self.build_key(prefix))

    async def _delete_under(self, stored_prefix: str) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            bounds = (stored_prefix, _prefix_end(stored_prefix))
            live = conn.execute(
                f"SELECT count(*) FROM podium_cache WHERE key >= ? AND key < ? AND {_LIVE}",
                (*bounds, time.time()),
            ).fetchone()[0]
            conn.execute("DELETE FROM podium_cache WHERE key >= ? AND key < ?", bounds)
            return int(live)

        return await self._run(self._transaction, delete)
