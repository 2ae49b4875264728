"""The SQLite run store's schema, versioned: each migration takes a file one version up.

``PRAGMA user_version`` holds the version. Opening a file runs the migrations it lacks,
in one transaction each; a file of a newer version than this Podium knows is refused
(an older Podium must not write into a schema it does not understand). Migrations are
never edited once released: a change is a new one at the end.
"""

from __future__ import annotations

import sqlite3

from podium.foundation.errors import RunStoreError

USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "requests",
    "cost_usd",
)


def _usage_columns(prefix: str) -> str:
    return ", ".join(
        f"{prefix}_{name} {'REAL' if name == 'cost_usd' else 'INTEGER'} NOT NULL DEFAULT 0"
        for name in USAGE_FIELDS
    )


#: Version 1: runs, their stage visits (with values), and definition fingerprints.
V1 = f"""
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    strategy TEXT NOT NULL,
    target TEXT,
    inputs_format TEXT,
    inputs BLOB,
    started_at REAL NOT NULL,
    finished_at REAL,
    duration_s REAL,
    {_usage_columns("usage")},
    {_usage_columns("saved")},
    reason TEXT,
    resumed_from TEXT,
    budget_tokens INTEGER,
    budget_cost_usd REAL,
    host TEXT,
    pid INTEGER,
    process_token TEXT,
    heartbeat_at REAL
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_workflow ON runs (workflow, started_at);
CREATE INDEX runs_by_status ON runs (status);
CREATE TABLE visits (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    visit INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    duration_s REAL NOT NULL DEFAULT 0,
    {_usage_columns("usage")},
    {_usage_columns("saved")},
    cache TEXT,
    route TEXT,
    reason TEXT,
    error TEXT,
    error_type TEXT,
    fallback INTEGER NOT NULL DEFAULT 0,
    value_format TEXT,
    value BLOB,
    PRIMARY KEY (run_id, stage, visit)
) WITHOUT ROWID;
CREATE TABLE definitions (
    hash TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
) WITHOUT ROWID;
"""

#: Version 2: agent calls, alerts, and per-run documentation and cache counters.
V2 = f"""
ALTER TABLE runs ADD COLUMN docs_requests_made INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN docs_requests_avoided INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN docs_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN docs_tokens_cut INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cache TEXT NOT NULL DEFAULT '{{}}';
CREATE TABLE agent_calls (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    stage TEXT,
    visit INTEGER,
    agent TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    {_usage_columns("usage")},
    error_type TEXT,
    cached INTEGER NOT NULL DEFAULT 0,
    prompt TEXT,
    reply TEXT
);
CREATE INDEX agent_calls_by_run ON agent_calls (run_id);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    workflow TEXT,
    subject TEXT,
    run_id TEXT,
    value REAL,
    threshold REAL,
    raised_at REAL NOT NULL
);
CREATE INDEX alerts_by_time ON alerts (raised_at);
"""

#: Version 3: agents' circuit breaker changes, so any process sees each agent's last state.
V3 = """
CREATE TABLE breaker_changes (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    previous TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_at REAL NOT NULL,
    provider TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    run_id TEXT,
    workflow TEXT,
    host TEXT NOT NULL DEFAULT '',
    pid INTEGER
);
CREATE INDEX breaker_changes_by_agent ON breaker_changes (agent, id);
"""

MIGRATIONS = (V1, V2, V3)
VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Bring the database up to :data:`VERSION`; returns the version it had."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > VERSION:
        raise RunStoreError(
            f"{where} has run store schema version {found}, newer than this Podium knows ({VERSION}): "
            "upgrade Podium, or point store at another file"
        )
    for version in range(found, VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the lock.
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) > version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return found


__all__ = ["MIGRATIONS", "USAGE_FIELDS", "VERSION", "migrate"]
