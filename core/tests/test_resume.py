"""Durable resume: a stored run continues from its committed stages, which spend nothing
again; a changed definition is refused (saying what changed) unless forced."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.stores.sqlite import SQLiteRunStore


def pipeline(flaky: dict[str, bool]) -> podium.Workflow:
    """spec (an agent call) -> implement (fails while flaky["fail"]) -> ship."""
    wf = podium.Workflow("feature", strategy="sequential")

    @wf.stage
    async def spec(ctx: podium.Context, ticket: str) -> dict[str, Any]:
        reply = await ctx.agent("writer").complete(f"spec {ticket}")
        return {"text": reply.text, "tags": ("a", "b")}

    @wf.stage(needs=["spec"])
    async def implement(spec: dict[str, Any]) -> str:
        if flaky["fail"]:
            raise RuntimeError("flaky tests")
        return spec["text"].upper()

    @wf.stage(needs=["implement"])
    async def ship(implement: str) -> str:
        return f"shipped {implement}"

    return wf


def engine_for(tmp_path: Path, writer: podium.SimulatedAgent, **config: Any) -> podium.Engine:
    return podium.Engine(
        config=podium.Config(config), store=f"sqlite:///{tmp_path}/runs.sqlite3", agents={"writer": writer}
    )


async def test_resume_reuses_committed_stages_and_spends_no_tokens_on_them(tmp_path: Path) -> None:
    writer = podium.SimulatedAgent("the spec", input_tokens=1000, output_tokens=200)
    flaky = {"fail": True}
    wf = pipeline(flaky)
    async with engine_for(tmp_path, writer) as engine:
        failed = await engine.run(wf, {"ticket": "T-1"})
        assert failed.status is podium.RunStatus.FAILED
        flaky["fail"] = False
        resumed = await engine.resume(failed.run_id, wf)
        store = engine.monitor.store
        assert store is not None
        record = await store.get_run(resumed.run_id)

    assert resumed.ok and resumed.run_id != failed.run_id
    assert writer.calls == 1  # the spec's agent call was not made again
    spec = resumed["spec"]
    assert spec.status is podium.StageStatus.CACHED
    assert spec.reason == f"restored from run {failed.run_id}"
    assert spec.value == {"text": "the spec", "tags": ("a", "b")}
    assert spec.usage == podium.Usage() and spec.saved.total_tokens == 1200
    assert resumed.usage.total_tokens == 0 and resumed.saved.total_tokens == 1200
    assert resumed["ship"].value == "shipped THE SPEC"
    assert record is not None and record.resumed_from == failed.run_id


async def test_stages_restored_in_a_chain_are_not_run_again(tmp_path: Path) -> None:
    ran: list[str] = []
    flaky = {"fail": True}
    wf = podium.Workflow("chain", strategy="parallel")

    @wf.stage
    async def first() -> int:
        ran.append("first")
        return 1

    @wf.stage(needs=["first"])
    async def second(first: int) -> int:
        ran.append("second")
        return first + 1

    @wf.stage(needs=["first"])
    async def beside(first: int) -> int:
        ran.append("beside")
        return first

    @wf.stage(needs=["second", "beside"])
    async def last(second: int, beside: int) -> int:
        if flaky["fail"]:
            raise RuntimeError("no")
        return second + beside

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(wf)
        flaky["fail"] = False
        resumed = await engine.resume(failed.run_id, wf)
    assert sorted(ran) == ["beside", "first", "second"]  # each ran once, in the first run only
    assert resumed["last"].value == 3


async def test_resume_refuses_a_changed_definition_and_says_what_changed(tmp_path: Path) -> None:
    writer = podium.SimulatedAgent("the spec", input_tokens=10, output_tokens=2)
    async with engine_for(tmp_path, writer) as engine:
        failed = await engine.run(pipeline({"fail": True}), {"ticket": "T-1"})
        changed = pipeline({"fail": False})

        @changed.stage(needs=["ship"])
        async def announce(ship: str) -> str:
            return ship

        with pytest.raises(podium.ResumeError) as refused:
            await engine.resume(failed.run_id, changed)
        assert "workflow 'feature' changed since it ran" in str(refused.value)
        assert "stage 'announce' was added" in str(refused.value)
        assert "--force" in str(refused.value)

        forced = await engine.resume(failed.run_id, changed, force=True)
    assert forced.ok
    assert forced["spec"].status is podium.StageStatus.CACHED  # unchanged: reused
    assert writer.calls == 1


async def test_a_forced_resume_re_runs_a_changed_stage_and_everything_after_it(tmp_path: Path) -> None:
    writer = podium.SimulatedAgent("the spec")
    async with engine_for(tmp_path, writer) as engine:
        failed = await engine.run(pipeline({"fail": True}), {"ticket": "T-1"})
        changed = podium.Workflow("feature", strategy="sequential")

        @changed.stage(name="spec")
        async def new_spec(ctx: podium.Context, ticket: str) -> dict[str, Any]:
            return {"text": "rewritten", "tags": ()}

        @changed.stage(needs=["spec"])
        async def implement(spec: dict[str, Any]) -> str:
            return spec["text"]

        with pytest.raises(podium.ResumeError, match="stage 'spec': its code changed"):
            await engine.resume(failed.run_id, changed)
        forced = await engine.resume(failed.run_id, changed, force=True)
    assert forced["spec"].status is podium.StageStatus.SUCCEEDED
    assert forced["implement"].value == "rewritten"


async def test_a_value_that_could_not_be_stored_makes_its_stage_run_again(tmp_path: Path) -> None:
    runs = {"spec": 0}
    flaky = {"fail": True}
    wf = podium.Workflow("opaque", strategy="sequential")

    @wf.stage
    async def spec() -> object:
        runs["spec"] += 1
        return object()  # no JSON form, and pickle is not configured

    @wf.stage(needs=["spec"])
    async def use(spec: object) -> str:
        if flaky["fail"]:
            raise RuntimeError("no")
        return "ok"

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(wf)
        store = engine.monitor.store
        assert store is not None
        visits = {v.stage: v for v in await store.visits(failed.run_id)}
        flaky["fail"] = False
        resumed = await engine.resume(failed.run_id, wf)
    stored = visits["spec"].value
    assert stored is not None and stored.format == "unserializable"
    assert "has no JSON form" in str(stored.payload)
    assert resumed.ok and runs["spec"] == 2


class Opaque:
    """Neither JSON-like nor attrs/dataclass: only pickle keeps it."""

    def __init__(self, label: str) -> None:
        self.label = label


async def test_with_pickle_configured_a_value_json_cannot_hold_is_reused(tmp_path: Path) -> None:
    runs = {"spec": 0}
    flaky = {"fail": True}
    wf = podium.Workflow("pickled", strategy="sequential")

    @wf.stage
    async def spec() -> Opaque:
        runs["spec"] += 1
        return Opaque("kept")  # a plain class: no JSON form

    @wf.stage(needs=["spec"])
    async def use(spec: Opaque) -> str:
        if flaky["fail"]:
            raise RuntimeError("no")
        return spec.label

    config = podium.Config({"run_store": {"serializer": "pickle"}})
    async with podium.Engine(config=config, store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(wf)
        assert engine.monitor.store is not None
        stored = {v.stage: v.value for v in await engine.monitor.store.visits(failed.run_id)}["spec"]
        flaky["fail"] = False
        resumed = await engine.resume(failed.run_id, wf)
    assert stored is not None and stored.format == "pickle"
    assert resumed["use"].value == "kept" and runs["spec"] == 1


async def test_resume_refuses_runs_it_cannot_continue(tmp_path: Path) -> None:
    writer = podium.SimulatedAgent("s")
    async with engine_for(tmp_path, writer) as engine:
        with pytest.raises(podium.ResumeError, match="no run 'nope'"):
            await engine.resume("nope", pipeline({"fail": False}))
        done = await engine.run(pipeline({"fail": False}), {"ticket": "T"})
        with pytest.raises(podium.ResumeError, match="succeeded: there is nothing to resume"):
            await engine.resume(done.run_id, pipeline({"fail": False}))
        failed = await engine.run(pipeline({"fail": True}), {"ticket": "T"})
        await engine.resume(failed.run_id, pipeline({"fail": True}))
        with pytest.raises(podium.ResumeError, match="was resumed already, as run"):
            await engine.resume(failed.run_id, pipeline({"fail": False}))
        other = podium.Workflow("other", strategy="sequential")
        other.add_stage(lambda: 1, name="x", version="1")
        with pytest.raises(podium.ResumeError, match="is of workflow 'feature', not 'other'"):
            await engine.resume(failed.run_id, other, force=True)


async def test_resume_refuses_a_run_that_is_still_running(tmp_path: Path) -> None:
    started = asyncio.Event()
    wf = podium.Workflow("slow", strategy="sequential")

    @wf.stage
    async def wait() -> None:
        started.set()
        await asyncio.sleep(30)

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        handle = await engine.submit(wf)
        await started.wait()
        with pytest.raises(podium.ResumeError, match=r"is still running \(pid \d+ on "):
            await engine.resume(handle.id, wf)
        handle.cancel()
        cancelled = await handle
    assert cancelled.status is podium.RunStatus.CANCELLED


async def test_resume_needs_a_store() -> None:
    async with podium.Engine(config=podium.Config()) as engine:
        with pytest.raises(podium.ResumeError, match="resuming needs a run store"):
            await engine.resume("abc", pipeline({"fail": False}))


async def test_a_cancelled_run_is_recorded_cancelled_and_resumes_from_what_finished(tmp_path: Path) -> None:
    gate = asyncio.Event()
    second_started = asyncio.Event()
    ran: list[str] = []
    wf = podium.Workflow("long", strategy="sequential")

    @wf.stage
    async def first() -> str:
        ran.append("first")
        return "one"

    @wf.stage(needs=["first"])
    async def second(first: str) -> str:
        ran.append("second")
        second_started.set()
        if not gate.is_set():
            await asyncio.sleep(30)
        return first + " two"

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        handle = await engine.submit(wf)
        await second_started.wait()
        handle.cancel()
        cancelled = await handle
        store = engine.monitor.store
        assert store is not None
        record = await store.get_run(cancelled.run_id)
        gate.set()
        resumed = await engine.resume(cancelled.run_id, wf)
    assert record is not None and record.status == "cancelled"
    assert resumed["second"].value == "one two"
    assert ran == ["first", "second", "second"]


async def test_resume_restores_a_route_and_skips_what_it_did_not_choose(tmp_path: Path) -> None:
    flaky = {"fail": True}
    wf = podium.Workflow("routed", strategy="conditional")

    @wf.stage(route=lambda verdict: "ship" if verdict == "ok" else "fix")
    async def review() -> str:
        return "ok"

    @wf.stage(needs=["review"])
    async def fix(review: str) -> str:
        return "fixed"

    @wf.stage(needs=["review"])
    async def ship(review: str) -> str:
        if flaky["fail"]:
            raise RuntimeError("deploy failed")
        return "shipped"

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(wf)
        flaky["fail"] = False
        resumed = await engine.resume(failed.run_id, wf)
    assert resumed["review"].status is podium.StageStatus.CACHED and resumed["review"].route == ("ship",)
    assert resumed["fix"].status is podium.StageStatus.SKIPPED
    assert resumed["ship"].value == "shipped"


async def test_resume_loads_the_workflow_from_the_target_the_run_recorded(tmp_path: Path) -> None:
    target = tmp_path / "pipeline.py"
    flag = tmp_path / "fail"
    flag.write_text("1")
    target.write_text(
        "import pathlib\nimport podium\n\n"
        'wf = podium.Workflow("from-file", strategy="sequential")\n\n\n'
        "@wf.stage\nasync def first() -> int:\n    return 41\n\n\n"
        '@wf.stage(needs=["first"])\nasync def second(first: int) -> int:\n'
        f"    if pathlib.Path({str(flag)!r}).read_text() == '1':\n        raise RuntimeError('no')\n"
        "    return first + 1\n"
    )
    from podium.definition.loader import load_target

    loaded = load_target(str(target))
    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(loaded.workflow)
    flag.write_text("0")
    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        resumed = await engine.resume(failed.run_id)
    assert resumed["second"].value == 42
    assert resumed["first"].status is podium.StageStatus.CACHED


async def test_an_input_that_could_not_be_stored_must_be_given_again(tmp_path: Path) -> None:
    flaky = {"fail": True}
    wf = podium.Workflow("inputs", strategy="sequential")

    @wf.stage
    async def use(handle: object, name: str) -> str:
        if flaky["fail"]:
            raise RuntimeError("no")
        return name

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(wf, {"handle": object(), "name": "n"})
        flaky["fail"] = False
        with pytest.raises(
            podium.ResumeError, match=r"input\(s\) 'handle' .* cannot be restored; give them again"
        ):
            await engine.resume(failed.run_id, wf)
        with pytest.raises(podium.ResumeError, match="had no input"):
            await engine.resume(failed.run_id, wf, inputs={"handle": 1, "other": 2})
        resumed = await engine.resume(failed.run_id, wf, inputs={"handle": object()})
    assert resumed["use"].value == "n"


class BrokenStore(SQLiteRunStore):
    """Opens, then fails every commit as a full disk would."""

    async def commit_visit(self, visit: podium.VisitRecord, calls: Any) -> None:
        raise OSError(28, "No space left on device")


async def test_a_store_that_cannot_be_written_degrades_with_one_warning_and_never_fails_a_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Plugin:
        @podium.hookimpl
        def podium_run_store(self, url: str) -> podium.RunStore:
            return BrokenStore(tmp_path / "r.db")

    wf = pipeline({"fail": False})
    caplog.set_level(logging.WARNING, logger="podium.store")
    async with podium.Engine(
        config=podium.Config(),
        plugins=[Plugin()],
        store="broken://",
        agents={"writer": podium.SimulatedAgent()},
    ) as engine:
        first = await engine.run(wf, {"ticket": "T"})
        second = await engine.run(wf, {"ticket": "T"})
    assert first.ok and second.ok
    warnings = [r for r in caplog.records if r.name == "podium.store"]
    assert len(warnings) == 1
    assert "No space left on device" in warnings[0].getMessage()
    assert "runs go on without being recorded" in warnings[0].getMessage()


async def test_a_store_that_cannot_be_opened_degrades_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("not a directory")
    caplog.set_level(logging.WARNING, logger="podium.store")
    wf = pipeline({"fail": False})
    async with podium.Engine(
        config=podium.Config(),
        store=f"sqlite:///{tmp_path}/file/runs.sqlite3",
        agents={"writer": podium.SimulatedAgent()},
    ) as engine:
        result = await engine.run(wf, {"ticket": "T"})
        assert engine.monitor.store is None
    assert result.ok
    assert len([r for r in caplog.records if r.name == "podium.store"]) == 1


class HangingStore(SQLiteRunStore):
    async def commit_visit(self, visit: podium.VisitRecord, calls: Any) -> None:
        await asyncio.sleep(60)


async def test_a_store_that_hangs_stops_being_waited_for_after_the_commit_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Plugin:
        @podium.hookimpl
        def podium_run_store(self) -> podium.RunStore:
            return HangingStore(tmp_path / "r.db")

    caplog.set_level(logging.WARNING, logger="podium.store")
    config = podium.Config({"run_store": {"commit_timeout": 0.05}})
    async with podium.Engine(
        config=config, plugins=[Plugin()], store="hang://", agents={"writer": podium.SimulatedAgent()}
    ) as engine:
        result = await engine.run(pipeline({"fail": False}), {"ticket": "T"})
    assert result.ok
    assert any("no answer within 0.05s" in r.getMessage() for r in caplog.records if r.name == "podium.store")


async def test_agent_prompts_and_replies_are_stored_only_with_capture_content(tmp_path: Path) -> None:
    wf = pipeline({"fail": False})
    stored: dict[bool, list[podium.AgentCallRecord]] = {}
    for capture in (False, True):
        config = podium.Config({"run_store": {"capture_content": capture}})
        writer = podium.SimulatedAgent("the spec", input_tokens=7, output_tokens=3)
        store = f"sqlite:///{tmp_path}/{capture}.sqlite3"
        async with podium.Engine(config=config, store=store, agents={"writer": writer}) as engine:
            await engine.run(wf, {"ticket": "T-9"})
            assert engine.monitor.store is not None
            stored[capture] = await engine.monitor.store.agent_calls(podium.RunFilter())
    [plain], [captured] = stored[False], stored[True]
    assert (plain.prompt, plain.reply) == (None, None)
    assert (plain.agent, plain.stage, plain.usage.total_tokens) == ("writer", "spec", 10)
    assert (captured.prompt, captured.reply) == ("spec T-9", "the spec")


async def test_a_running_run_keeps_beating_so_other_hosts_see_it_alive(tmp_path: Path) -> None:
    wf = podium.Workflow("beating", strategy="sequential")

    @wf.stage
    async def wait() -> None:
        await asyncio.sleep(0.3)

    config = podium.Config({"run_store": {"heartbeat": "50ms"}})
    async with podium.Engine(config=config, store=f"sqlite:///{tmp_path}/r.db") as engine:
        handle = await engine.submit(wf)
        await asyncio.sleep(0.01)
        store = engine.monitor.store
        assert isinstance(store, SQLiteRunStore)
        first = await store._call(
            lambda: store._connection().execute("SELECT heartbeat_at FROM runs").fetchone()[0]
        )
        await asyncio.sleep(0.2)
        later = await store._call(
            lambda: store._connection().execute("SELECT heartbeat_at FROM runs").fetchone()[0]
        )
        await handle
    assert later > first


async def test_a_mapped_stage_runs_its_items_again_on_resume_and_what_it_maps_over_is_reused(
    tmp_path: Path,
) -> None:
    calls = {"files": 0, "review": 0}
    flaky = {"fail": True}
    wf = podium.Workflow("mapped", strategy="parallel")

    @wf.stage
    async def files() -> list[str]:
        calls["files"] += 1
        return ["a.py", "b.py"]

    @wf.stage(map="files")
    async def review(files: str) -> str:
        calls["review"] += 1
        return f"ok {files}"

    @wf.stage(needs=["review"])
    async def summary(review: list[str]) -> str:
        if flaky["fail"]:
            raise RuntimeError("no")
        return " | ".join(review)

    async with podium.Engine(config=podium.Config(), store=f"sqlite:///{tmp_path}/r.db") as engine:
        failed = await engine.run(wf)
        store = engine.monitor.store
        assert store is not None
        items = [v for v in await store.visits(failed.run_id) if v.stage == "review"]
        flaky["fail"] = False
        resumed = await engine.resume(failed.run_id, wf)
    assert [v.status for v in items] == ["succeeded", "succeeded"]  # each item was committed
    assert resumed["summary"].value == "ok a.py | ok b.py"
    assert resumed["files"].status is podium.StageStatus.CACHED
    assert calls == {"files": 1, "review": 4}
