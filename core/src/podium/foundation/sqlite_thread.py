"""One SQLite file used from asyncio: its connection lives on one dedicated thread.

A ``sqlite3`` connection is used from the thread that opened it, so each user of a file
(the SQLite cache, the run store) keeps one worker thread and hands it the work; the
standard library is all an asyncio bridge would add. The file is in WAL mode with
``synchronous=NORMAL``: readers never wait for a writer, a commit survives the process
being killed (it is in the operating system's hands), and a busy timeout lets processes
queue for the write lock instead of failing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class SQLiteThread:
    """The connection to ``path`` and the thread that uses it, both made on first use.

    :param setup: Called on the new connection in the thread (create or migrate tables).
    :param thread_name: Names the worker thread.
    """

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout: float,
        setup: Callable[[sqlite3.Connection], Any],
        thread_name: str,
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._setup = setup
        self._thread_name = thread_name
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._thread_name)
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def connection(self) -> sqlite3.Connection:
        """The connection, opened (with the file's directory) on first use; only on the thread."""
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                self._setup(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        """Close the connection on its thread, then let the thread go."""
        executor = self._executor
        if executor is None:
            return

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await self.run(close)
        finally:
            self._executor = None
            executor.shutdown(wait=False)


__all__ = ["SQLiteThread"]
