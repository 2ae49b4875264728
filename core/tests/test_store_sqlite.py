"""The SQLite run store: records round-trip, the schema migrates from its first version, runs
whose process died are found interrupted, and a broken file is a clear error."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import podium
from podium.stores.schema import MIGRATIONS, VERSION
from podium.stores.sqlite import SQLiteRunStore
from podium.values.serialization import encode


def a_run(run_id: str = "r1", **changes: object) -> podium.RunRecord:
    fields: dict[str, object] = {
        "run_id": run_id,
        "workflow": "feature",
        "status": "running",
        "started_at": time.time(),
        "definition_hash": "abc",
        "strategy": "parallel",
        "target": "/tmp/pipeline.py",
        "inputs": {"ticket": encode("T-1")},
        "host": os.uname().nodename,
        "pid": os.getpid(),
    }
    fields.update(changes)
    return podium.RunRecord(**fields)  # type: ignore[arg-type]


def a_visit(stage: str = "spec", visit: int = 1, **changes: object) -> podium.VisitRecord:
    fields: dict[str, object] = {
        "run_id": "r1",
        "stage": stage,
        "visit": visit,
        "status": "succeeded",
        "seq": visit,
        "attempts": 1,
        "started_at": 1.0,
        "finished_at": 2.0,
        "duration_s": 1.0,
        "usage": podium.Usage(10, 5, requests=1, cost_usd=0.25),
        "value": encode({"text": "done"}),
        "route": ("ship",),
        "workflow": "feature",
    }
    fields.update(changes)
    return podium.VisitRecord(**fields)  # type: ignore[arg-type]


def a_call(**changes: object) -> podium.AgentCallRecord:
    fields: dict[str, object] = {
        "run_id": "r1",
        "agent": "writer",
        "provider": "simulated",
        "model": "claude-sonnet-4-5",
        "started_at": 1.5,
        "duration_s": 0.5,
        "usage": podium.Usage(10, 5, requests=1, cost_usd=0.25),
        "stage": "spec",
        "visit": 1,
        "workflow": "feature",
    }
    fields.update(changes)
    return podium.AgentCallRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> object:
    opened = SQLiteRunStore(tmp_path / "runs.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def test_a_run_its_visits_and_calls_round_trip(store: SQLiteRunStore) -> None:
    run = a_run()
    await store.start_run(run, {"workflow": {"name": "feature"}, "stages": {}})
    await store.commit_visit(a_visit(), [a_call()])
    ended = a_run(
        status="failed",
        finished_at=run.started_at + 3,
        duration_s=3.0,
        usage=podium.Usage(10, 5, cost_usd=0.25),
        saved=podium.Usage(1, 1),
        reason="stage(s) 'implement' did not succeed",
        docs=podium.DocCounters(2, 3, 400, 100),
        cache={"stage": (1, 2)},
        inputs={},
    )
    skipped = a_visit("ship", status="skipped", value=None, route=None, reason="dependency failed", seq=3)
    await store.finish_run(ended, [a_visit(seq=1, value=None), skipped], [a_call(stage=None, visit=None)])

    stored = await store.get_run("r1")
    assert stored is not None
    assert (stored.status, stored.duration_s, stored.reason) == ("failed", 3.0, ended.reason)
    assert stored.inputs == run.inputs  # kept from the start: the end does not restate them
    assert stored.target == "/tmp/pipeline.py"
    assert (stored.usage, stored.saved, stored.docs, dict(stored.cache)) == (
        ended.usage,
        ended.saved,
        ended.docs,
        {"stage": (1, 2)},
    )
    visits = await store.visits("r1")
    assert [(v.stage, v.status, v.seq) for v in visits] == [("spec", "succeeded", 1), ("ship", "skipped", 3)]
    assert visits[0].value == encode({"text": "done"})  # committed values survive the final write
    assert visits[0].route == ("ship",)
    calls = await store.agent_calls(podium.RunFilter())
    assert [(c.stage, c.workflow, c.usage.cost_usd) for c in calls] == [
        ("spec", "feature", 0.25),
        (None, "feature", 0.25),
    ]
    assert await store.definition("abc") == {"workflow": {"name": "feature"}, "stages": {}}


async def test_runs_are_listed_newest_first_and_filtered(store: SQLiteRunStore) -> None:
    now = time.time()
    for n, (workflow, status) in enumerate([("a", "succeeded"), ("b", "failed"), ("a", "failed")]):
        await store.start_run(a_run(f"r{n}", workflow=workflow, status=status, started_at=now + n), {})
    listed = await store.runs(podium.RunFilter())
    assert [r.run_id for r in listed] == ["r2", "r1", "r0"]
    assert [r.run_id for r in await store.runs(podium.RunFilter(workflow="a"))] == ["r2", "r0"]
    assert [r.run_id for r in await store.runs(podium.RunFilter(status="failed", limit=1))] == ["r2"]
    assert [r.run_id for r in await store.runs(podium.RunFilter(since=now + 0.5))] == ["r2", "r1"]
    assert [r.run_id for r in await store.runs(podium.RunFilter(id_prefix="r1"))] == ["r1"]


async def test_commits_arriving_together_are_all_kept(store: SQLiteRunStore) -> None:
    await store.start_run(a_run(), {})
    await asyncio.gather(*(store.commit_visit(a_visit(f"s{n}"), []) for n in range(200)))
    assert len(await store.visits("r1")) == 200


async def test_alerts_are_kept_and_listed_newest_first(store: SQLiteRunStore) -> None:
    for n in range(3):
        await store.record_alert(
            podium.Alert(name=f"a{n}", message="m", workflow="feature", subject="writer")
        )
    alerts = await store.alerts(podium.RunFilter(limit=2))
    assert [a.name for a in alerts] == ["a2", "a1"]
    assert alerts[0].subject == "writer"


def a_change(agent: str, state: str, changed_at: float, **changes: object) -> podium.BreakerChange:
    fields: dict[str, object] = {
        "agent": agent,
        "state": state,
        "previous": "closed" if state == "open" else "open",
        "reason": f"{agent} went {state}",
        "changed_at": changed_at,
        "provider": "simulated",
        "model": "claude-haiku-4-5",
        "run_id": "r1",
        "workflow": "feature",
        "host": "builder",
        "pid": 4242,
    }
    fields.update(changes)
    return podium.BreakerChange(**fields)  # type: ignore[arg-type]


async def test_each_agents_latest_breaker_change_is_its_state(store: SQLiteRunStore) -> None:
    now = time.time()
    await store.record_breaker_change(a_change("reviewer", "open", now - 60))
    await store.record_breaker_change(
        a_change("writer", "open", now - 30, run_id=None, workflow=None, pid=None)
    )
    await store.record_breaker_change(a_change("reviewer", "half_open", now - 10))
    await store.record_breaker_change(a_change("reviewer", "closed", now))
    assert await store.breaker_states() == [
        a_change("reviewer", "closed", now),
        a_change("writer", "open", now - 30, run_id=None, workflow=None, pid=None),
    ]


async def test_prune_keeps_each_agents_latest_breaker_change(store: SQLiteRunStore) -> None:
    old = time.time() - 40 * 86400
    await store.record_breaker_change(a_change("reviewer", "open", old))
    await store.record_breaker_change(a_change("reviewer", "closed", old + 1))
    await store.record_breaker_change(a_change("writer", "open", old))
    await store.prune(time.time() - 30 * 86400)
    assert [(c.agent, c.state) for c in await store.breaker_states()] == [
        ("reviewer", "closed"),
        ("writer", "open"),
    ]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM breaker_changes").fetchone()[0] == 2


async def test_prune_deletes_old_ended_runs_with_their_visits_and_keeps_running_ones(
    store: SQLiteRunStore,
) -> None:
    old = time.time() - 40 * 86400
    await store.start_run(a_run("old", status="succeeded", started_at=old, finished_at=old + 1), {})
    await store.commit_visit(a_visit(run_id="old"), [a_call(run_id="old")])
    await store.start_run(a_run("new", status="succeeded", started_at=time.time()), {})
    await store.start_run(a_run("going", started_at=old), {})
    assert await store.prune(time.time() - 30 * 86400) == 1
    assert {r.run_id for r in await store.runs(podium.RunFilter())} == {"new", "going"}
    assert await store.visits("old") == []
    assert await store.agent_calls(podium.RunFilter()) == []


def first_schema_file(path: Path) -> None:
    """A database as the first release of the store wrote it, with one run and one visit."""
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (run_id, workflow, status, definition_hash, strategy, started_at, finished_at, "
        "duration_s, usage_input_tokens) VALUES ('old', 'feature', 'failed', 'h', 'parallel', 1.0, 2.0, 1.0, 7)"
    )
    conn.execute(
        "INSERT INTO visits (run_id, stage, visit, seq, status, value_format, value) "
        "VALUES ('old', 'spec', 1, 1, 'succeeded', 'json', '\"x\"')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


async def test_a_store_of_the_first_schema_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    first_schema_file(path)
    store = SQLiteRunStore(path)
    await store.open()
    try:
        old = await store.get_run("old")
        assert old is not None
        assert (old.status, old.usage.input_tokens, old.docs, dict(old.cache)) == (
            "failed",
            7,
            podium.DocCounters(),
            {},
        )
        assert [v.value for v in await store.visits("old")] == [podium.StoredValue("json", '"x"')]
        await store.commit_visit(
            a_visit(run_id="old", stage="b"), [a_call(run_id="old")]
        )  # version 2's tables
        await store.record_alert(podium.Alert(name="x", message="m"))
        assert len(await store.agent_calls(podium.RunFilter())) == 1
        await store.record_breaker_change(a_change("writer", "open", time.time()))  # version 3's table
        assert [c.agent for c in await store.breaker_states()] == ["writer"]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION


async def test_a_store_written_by_a_newer_podium_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(podium.RunStoreError, match=f"schema version {VERSION + 1}, newer than this Podium"):
        await SQLiteRunStore(path).open()


async def test_a_store_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(podium.RunStoreError, match="is a directory"):
        await SQLiteRunStore(tmp_path).open()


async def test_a_run_whose_process_died_is_found_interrupted_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    child = subprocess.run(  # noqa: ASYNC221 -- a process that is gone by the time the test goes on
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(child.stdout)
    store = SQLiteRunStore(path)
    await store.open()
    await store.start_run(a_run("dead", pid=dead_pid), {})
    await store.start_run(a_run("alive"), {})  # this very process
    await store.close()

    reopened = SQLiteRunStore(path)
    try:
        assert await reopened.open() == ["dead"]
        dead, alive = await reopened.get_run("dead"), await reopened.get_run("alive")
        assert dead is not None and alive is not None
        assert dead.status == "interrupted"
        assert f"pid {dead_pid}" in (dead.reason or "") and "killed or crashed" in (dead.reason or "")
        assert dead.finished_at is not None
        assert alive.status == "running"
    finally:
        await reopened.close()


async def test_a_run_of_another_host_is_interrupted_once_its_heartbeat_lapses(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    store = SQLiteRunStore(path, podium.Config({"run_store": {"heartbeat": 1}}).settings.run_store)
    await store.open()
    await store.start_run(a_run("remote", host="elsewhere", pid=1), {})
    assert await store.open() == []  # its heartbeat is fresh
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET heartbeat_at = ?", (time.time() - 10,))
    assert await store.open() == ["remote"]
    remote = await store.get_run("remote")
    assert remote is not None and "no heartbeat from its process on elsewhere" in (remote.reason or "")
    await store.close()


async def test_heartbeats_keep_a_remote_run_alive(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    store = SQLiteRunStore(path, podium.Config({"run_store": {"heartbeat": 1}}).settings.run_store)
    await store.open()
    await store.start_run(a_run("remote", host="elsewhere", pid=1), {})
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET heartbeat_at = ?", (time.time() - 10,))
    await store.heartbeat(["remote"])
    assert await store.open() == []
    await store.close()


def test_podium_run_store_opens_sqlite_urls_and_declines_others(tmp_path: Path) -> None:
    pm = podium.create_plugin_manager(autoload=False)
    config = podium.Config()
    store = pm.hook.podium_run_store(url=f"sqlite:///{tmp_path}/r.db", config=config)
    assert isinstance(store, SQLiteRunStore)
    assert isinstance(store, podium.RunStore)
    assert store.path == tmp_path / "r.db"
    assert pm.hook.podium_run_store(url="postgresql://db/runs", config=config) is None


async def test_podium_run_store_from_a_plugin_is_the_engines_store(tmp_path: Path) -> None:
    opened: list[str] = []

    class Plugin:
        @podium.hookimpl
        def podium_run_store(self, url: str, config: podium.Config) -> podium.RunStore | None:
            if not url.startswith("mine://"):
                return None
            opened.append(url)
            return SQLiteRunStore(tmp_path / "mine.sqlite3")

    wf = podium.Workflow("w", strategy="sequential")

    @wf.stage
    async def only() -> int:
        return 1

    async with podium.Engine(config=podium.Config(), plugins=[Plugin()], store="mine://runs") as engine:
        result = await engine.run(wf)
        store = engine.monitor.store
        assert store is not None
        assert [r.run_id for r in await store.runs(podium.RunFilter())] == [result.run_id]
    assert opened == ["mine://runs"]


async def test_an_unknown_store_scheme_fails_the_engine_start_with_the_schemes_known() -> None:
    with pytest.raises(
        podium.PodiumError, match="no installed plugin provides the run store for 'nosql://x'"
    ):
        async with podium.Engine(config=podium.Config(), store="nosql://x"):
            pass
