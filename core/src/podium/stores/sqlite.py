"""``sqlite:///path``: the built-in run store, one SQLite file shared by every process.

The file's connection lives on one dedicated thread per store
(:class:`~podium.foundation.sqlite_thread.SQLiteThread`): WAL mode with
``synchronous=NORMAL``, so a commit survives the process being killed (it is in the
operating system's hands) and readers never wait for a writer; a busy timeout lets
processes queue for the write lock.

Writes are committed in groups: while one transaction is being written, the writes that
arrive queue up and go in the next one together, so a hundred stages finishing at once
cost a few transactions, not a hundred.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from podium.foundation.errors import RunStoreError
from podium.foundation.sqlite_thread import SQLiteThread
from podium.stores import rows
from podium.stores.liveness import process_alive, this_process
from podium.stores.schema import migrate
from podium.values.alerts import Alert
from podium.values.records import (
    INTERRUPTED,
    RUNNING,
    AgentCallRecord,
    BreakerChange,
    RunFilter,
    RunRecord,
    RunStoreSettings,
    VisitRecord,
)

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], None]

#: Where the command line keeps its runs when no ``store`` is configured.
DEFAULT_PATH = Path(".podium") / "runs.sqlite3"

# What a run's start recorded and its end does not restate.
_KEPT_FROM_START = ("run_id", "host", "pid", "inputs_format", "inputs", "target", "resumed_from")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_RUN_UPSERT = _insert("runs", rows.RUN_COLUMNS) + (
    " ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in rows.RUN_COLUMNS if c not in _KEPT_FROM_START)
)
_VISIT_INSERT = _insert("visits", rows.VISIT_COLUMNS) + (
    " ON CONFLICT (run_id, stage, visit) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in rows.VISIT_COLUMNS[3:])
)
# A run's final write orders the visits; those already committed keep what they hold.
_VISIT_FINAL = _insert("visits", rows.VISIT_COLUMNS) + (
    " ON CONFLICT (run_id, stage, visit) DO UPDATE SET seq = excluded.seq"
)
_CALL_INSERT = _insert("agent_calls", rows.CALL_COLUMNS)
_ALERT_INSERT = _insert("alerts", rows.ALERT_COLUMNS)
_BREAKER_INSERT = _insert("breaker_changes", rows.BREAKER_COLUMNS)
# Each agent's latest change (the highest id: ids grow as changes are recorded).
_BREAKER_LATEST = (
    f"SELECT {', '.join(rows.BREAKER_COLUMNS)} FROM breaker_changes "
    "WHERE id IN (SELECT max(id) FROM breaker_changes GROUP BY agent) ORDER BY agent"
)


class SQLiteRunStore:
    """A :class:`podium.RunStore` in a SQLite file.

    :param path: The database file; its directory is created when the store opens.
    :param settings: The ``[run_store]`` settings (serializer, heartbeat, busy timeout).
    """

    NAME = "sqlite"

    def __init__(self, path: str | Path = DEFAULT_PATH, settings: RunStoreSettings | None = None) -> None:
        settings = settings or RunStoreSettings()
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.serializer = settings.serializer
        self.busy_timeout = settings.busy_timeout
        #: A run of another host without a heartbeat for this long counts as interrupted.
        self.lease_s = 3 * settings.heartbeat
        self._thread = SQLiteThread(
            self.path,
            busy_timeout=self.busy_timeout,
            setup=lambda conn: (conn.execute("PRAGMA foreign_keys=ON"), migrate(conn, str(self.path))),
            thread_name="podium-runs",
        )
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._flushing: asyncio.Future[list[BaseException | None]] | None = None
        self._idle: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<SQLiteRunStore {self.path}>"

    # ------------------------------------------------------------------ the thread

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self._thread.run(fn, *args)
        except (sqlite3.Error, OSError) as error:
            raise RunStoreError(f"run store {self.path}: {error}") from None

    def _connection(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise RunStoreError(f"run store {self.path} is a directory; point store at a file")
        return self._thread.connection()

    def _apply(self, writes: Sequence[Write]) -> list[BaseException | None]:
        """Commit ``writes`` in one transaction; when that fails, each alone (one bad write
        must not cost the others)."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for write in writes:
                    write(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return [None] * len(writes)
        except Exception as error:
            if len(writes) == 1:
                return [error]
        outcomes: list[BaseException | None] = []
        for write in writes:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    write(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                outcomes.append(None)
            except Exception as error:
                outcomes.append(error)
        return outcomes

    async def _write(self, write: Write) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((write, future))
        if self._flushing is None:
            self._flush(loop)
        try:
            await future
        except (sqlite3.Error, OSError) as error:
            raise RunStoreError(f"run store {self.path}: {error}") from None

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending, []
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        flushing = loop.run_in_executor(self._thread.executor, self._apply, [write for write, _ in batch])
        self._flushing = flushing

        def done(outcome: asyncio.Future[list[BaseException | None]]) -> None:
            self._flushing = None
            error = outcome.exception()
            results = [error] * len(batch) if error is not None else outcome.result()
            for (_, future), failure in zip(batch, results, strict=True):
                if future.done():
                    continue
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)
            if self._pending:
                self._flush(loop)
            elif self._idle is not None:
                self._idle.set()

        flushing.add_done_callback(done)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> list[str]:
        return await self._call(self._open)

    def _open(self) -> list[str]:
        conn = self._connection()
        host, _, _ = this_process()
        now = time.time()
        found = []
        running = conn.execute(
            "SELECT run_id, host, pid, process_token, heartbeat_at, started_at FROM runs WHERE status = ?",
            (RUNNING,),
        ).fetchall()
        for run_id, run_host, pid, token, beat, started in running:
            last = beat or started
            if run_host == host and pid is not None:
                if process_alive(pid, token):
                    continue
                reason = f"its process (pid {pid} on {host}) ended without finishing it: killed or crashed"
            elif last > now - self.lease_s:
                continue
            else:
                reason = f"no heartbeat from its process on {run_host} for {now - last:.0f}s"
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, duration_s = ? - started_at, reason = ? "
                "WHERE run_id = ? AND status = ?",
                (INTERRUPTED, last, last, reason, run_id, RUNNING),
            )
            found.append(run_id)
        return found

    async def close(self) -> None:
        while self._flushing is not None and self._idle is not None:
            await self._idle.wait()
        try:
            await self._thread.close()
        except (sqlite3.Error, OSError) as error:
            raise RunStoreError(f"run store {self.path}: {error}") from None

    # ------------------------------------------------------------------ writing

    async def start_run(
        self, run: RunRecord, definition: Mapping[str, Any], visits: Sequence[VisitRecord] = ()
    ) -> None:
        row = rows.run_row(run)
        visit_rows = [rows.visit_row(visit) for visit in visits]
        text = json.dumps(definition, sort_keys=True)
        _, _, token = this_process()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_RUN_UPSERT, row)
            conn.executemany(_VISIT_INSERT, visit_rows)
            conn.execute(
                "UPDATE runs SET process_token = ?, heartbeat_at = ? WHERE run_id = ?",
                (token, time.time(), run.run_id),
            )
            conn.execute(
                "INSERT OR IGNORE INTO definitions (hash, fingerprint) VALUES (?, ?)",
                (run.definition_hash, text),
            )

        await self._write(write)

    async def commit_visit(self, visit: VisitRecord, calls: Sequence[AgentCallRecord]) -> None:
        row = rows.visit_row(visit)
        call_rows = [rows.call_row(call) for call in calls]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_VISIT_INSERT, row)
            if call_rows:
                conn.executemany(_CALL_INSERT, call_rows)

        await self._write(write)

    async def finish_run(
        self, run: RunRecord, visits: Sequence[VisitRecord], calls: Sequence[AgentCallRecord]
    ) -> None:
        run_row = rows.run_row(run)
        visit_rows = [rows.visit_row(visit) for visit in visits]
        call_rows = [rows.call_row(call) for call in calls]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_RUN_UPSERT, run_row)
            conn.executemany(_VISIT_FINAL, visit_rows)
            conn.executemany(_CALL_INSERT, call_rows)

        await self._write(write)

    async def heartbeat(self, run_ids: Sequence[str]) -> None:
        ids = list(run_ids)
        if not ids:
            return
        now = time.time()

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND status = ?",
                [(now, run_id, RUNNING) for run_id in ids],
            )

        await self._write(write)

    async def record_alert(self, alert: Alert) -> None:
        row = rows.alert_row(alert)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_ALERT_INSERT, row)

        await self._write(write)

    async def record_breaker_change(self, change: BreakerChange) -> None:
        row = rows.breaker_row(change)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_BREAKER_INSERT, row)

        await self._write(write)

    async def prune(self, before: float) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                deleted = conn.execute(
                    "DELETE FROM runs WHERE status != ? AND coalesce(finished_at, started_at) < ?",
                    (RUNNING, before),
                ).rowcount
                conn.execute("DELETE FROM alerts WHERE raised_at < ?", (before,))
                conn.execute(  # an agent's latest change is its breaker's state now: kept
                    "DELETE FROM breaker_changes WHERE changed_at < ? "
                    "AND id NOT IN (SELECT max(id) FROM breaker_changes GROUP BY agent)",
                    (before,),
                )
                conn.execute("DELETE FROM definitions WHERE hash NOT IN (SELECT definition_hash FROM runs)")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return int(deleted)

        return await self._call(lambda: prune(self._connection()))

    # ------------------------------------------------------------------ reading

    async def get_run(self, run_id: str) -> RunRecord | None:
        def read() -> RunRecord | None:
            row = (
                self._connection()
                .execute(f"SELECT {', '.join(rows.RUN_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,))
                .fetchone()
            )
            return None if row is None else rows.run_record(row)

        return await self._call(read)

    async def runs(self, where: RunFilter) -> list[RunRecord]:
        clause, params = rows.where_clause(where)
        sql = f"SELECT {', '.join(rows.RUN_COLUMNS)} FROM runs {clause} ORDER BY started_at DESC, run_id"
        if where.limit is not None:
            sql += f" LIMIT {int(where.limit)}"

        def read() -> list[RunRecord]:
            return [rows.run_record(row) for row in self._connection().execute(sql, params)]

        return await self._call(read)

    async def visits(self, run_id: str) -> list[VisitRecord]:
        sql = f"SELECT {', '.join(rows.VISIT_COLUMNS)} FROM visits WHERE run_id = ? ORDER BY seq"

        def read() -> list[VisitRecord]:
            conn = self._connection()
            found = conn.execute("SELECT workflow FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            workflow = found[0] if found else ""
            return [rows.visit_record(row, workflow) for row in conn.execute(sql, (run_id,))]

        return await self._call(read)

    def _of_runs(self, where: RunFilter, table: str) -> tuple[str, list[Any]]:
        clause, params = rows.where_clause(where)
        if where.limit is None:
            return clause, params
        limited = f"SELECT run_id FROM runs {clause} ORDER BY started_at DESC LIMIT {int(where.limit)}"
        return f"WHERE {table}.run_id IN ({limited})", params

    async def stage_samples(self, where: RunFilter) -> list[tuple[str, str, str, float]]:
        clause, params = self._of_runs(where, "visits")
        sql = (
            "SELECT runs.workflow, visits.stage, visits.status, visits.duration_s "
            f"FROM visits JOIN runs USING (run_id) {clause}"
        )
        return await self._call(lambda: self._connection().execute(sql, params).fetchall())

    async def call_samples(self, where: RunFilter) -> list[tuple[str, str, bool]]:
        clause, params = self._of_runs(where, "agent_calls")
        sql = (
            "SELECT runs.workflow, agent_calls.agent, agent_calls.error_type IS NOT NULL "
            f"FROM agent_calls JOIN runs USING (run_id) {clause}"
        )
        return await self._call(lambda: self._connection().execute(sql, params).fetchall())

    async def agent_calls(self, where: RunFilter) -> list[AgentCallRecord]:
        clause, params = self._of_runs(where, "agent_calls")
        columns = ", ".join(f"agent_calls.{c}" for c in rows.CALL_COLUMNS)
        sql = f"SELECT runs.workflow, {columns} FROM agent_calls JOIN runs USING (run_id) {clause}"

        def read() -> list[AgentCallRecord]:
            return [rows.call_record(row[1:], row[0]) for row in self._connection().execute(sql, params)]

        return await self._call(read)

    async def definition(self, definition_hash: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            row = (
                self._connection()
                .execute("SELECT fingerprint FROM definitions WHERE hash = ?", (definition_hash,))
                .fetchone()
            )
            return None if row is None else dict(json.loads(row[0]))

        return await self._call(read)

    async def alerts(self, where: RunFilter) -> list[Alert]:
        clauses: list[str] = []
        params: list[Any] = []
        if where.since is not None:
            clauses.append("raised_at >= ?")
            params.append(where.since)
        if where.workflow is not None:
            clauses.append("workflow = ?")
            params.append(where.workflow)
        sql = f"SELECT {', '.join(rows.ALERT_COLUMNS)} FROM alerts"
        if clauses:
            sql += f" WHERE {' AND '.join(clauses)}"
        sql += " ORDER BY raised_at DESC, id DESC"
        if where.limit is not None:
            sql += f" LIMIT {int(where.limit)}"

        def read() -> list[Alert]:
            return [rows.alert_record(row) for row in self._connection().execute(sql, params)]

        return await self._call(read)

    async def breaker_states(self) -> list[BreakerChange]:
        def read() -> list[BreakerChange]:
            return [rows.breaker_record(row) for row in self._connection().execute(_BREAKER_LATEST)]

        return await self._call(read)


__all__ = ["DEFAULT_PATH", "SQLiteRunStore"]
