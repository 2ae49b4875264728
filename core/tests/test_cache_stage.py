"""Stage caching through the engine: hits, savings, single-flight across runs, policy switches."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import podium
from podium import CachePolicy, Config, Engine, SimulatedAgent, StageStatus, Workflow
from podium.foundation.errors import CacheKeyError


def make_engine(agent: SimulatedAgent | None = None, **settings: Any) -> Engine:
    data: dict[str, Any] = {"strategy": "sequential", **settings}
    return Engine(config=Config(data), agents={"writer": agent or SimulatedAgent("draft")})


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with make_engine(SimulatedAgent("draft", input_tokens=120, output_tokens=80)) as engine:
        yield engine


def agent_workflow(policy: CachePolicy | None = None, name: str = "docs") -> Workflow:
    wf = Workflow(name)

    @wf.stage(cache=policy or CachePolicy())
    async def write(ctx: podium.Context, topic: str) -> str:
        reply = await ctx.agent("writer").complete(f"write about {topic}")
        return reply.text

    return wf


async def test_second_run_with_same_inputs_is_cached_and_records_savings(engine: Engine) -> None:
    wf = agent_workflow()
    first = await engine.run(wf, {"topic": "caching"})
    second = await engine.run(wf, {"topic": "caching"})
    assert first["write"].status is StageStatus.SUCCEEDED
    assert second["write"].status is StageStatus.CACHED
    assert second["write"].cached
    assert second["write"].value == "draft"
    assert second.usage.total_tokens == 0
    assert second.saved == first.usage
    assert second.saved.total_tokens == 200
    assert second.saved_cost_usd == pytest.approx(first.cost_usd)
    assert first.cost_usd > 0


async def test_different_inputs_miss(engine: Engine) -> None:
    wf = agent_workflow()
    await engine.run(wf, {"topic": "a"})
    other = await engine.run(wf, {"topic": "b"})
    assert other["write"].status is StageStatus.SUCCEEDED


async def test_workflow_name_and_namespace_separate_keys(engine: Engine) -> None:
    await engine.run(agent_workflow(name="one"), {"topic": "a"})
    assert (await engine.run(agent_workflow(name="two"), {"topic": "a"}))[
        "write"
    ].status is StageStatus.SUCCEEDED
    spaced = agent_workflow(CachePolicy(namespace="tenant-1"), name="one")
    assert (await engine.run(spaced, {"topic": "a"}))["write"].status is StageStatus.SUCCEEDED


async def test_an_explicit_version_bump_invalidates(engine: Engine) -> None:
    await engine.run(agent_workflow(CachePolicy(version="1")), {"topic": "a"})
    again = await engine.run(agent_workflow(CachePolicy(version="1")), {"topic": "a"})
    bumped = await engine.run(agent_workflow(CachePolicy(version="2")), {"topic": "a"})
    assert again["write"].cached
    assert not bumped["write"].cached


async def test_a_cached_value_feeds_dependents(engine: Engine) -> None:
    wf = agent_workflow()

    @wf.stage(needs="write")
    async def shout(write: str) -> str:
        return write.upper()

    await engine.run(wf, {"topic": "a"})
    result = await engine.run(wf, {"topic": "a"})
    assert result["write"].cached
    assert result["shout"].value == "DRAFT"


async def test_podium_cache_hit_and_podium_cache_miss_reach_plugins() -> None:
    seen: list[tuple[str, str, int]] = []

    class Recorder:
        @podium.hookimpl
        def podium_cache_miss(self, stage: podium.Stage, kind: str, key: str) -> None:
            seen.append(("miss", kind, 0))

        @podium.hookimpl
        def podium_cache_hit(self, stage: podium.Stage, kind: str, key: str, saved: podium.Usage) -> None:
            seen.append(("hit", kind, saved.total_tokens))

    agent = SimulatedAgent("x", input_tokens=3, output_tokens=4)
    async with Engine(config=Config({}), agents={"writer": agent}, plugins=[Recorder()]) as engine:
        wf = agent_workflow()
        await engine.run(wf, {"topic": "a"})
        await engine.run(wf, {"topic": "a"})
    assert seen == [("miss", "stage", 0), ("hit", "stage", 7)]


async def test_unkeyable_input_fails_the_stage_naming_stage_and_parameter(engine: Engine) -> None:
    wf = Workflow("keys")

    @wf.stage(cache=CachePolicy())
    async def use(client: object) -> str:
        return "never"

    @wf.stage
    async def independent() -> str:
        return "still runs"

    result = await engine.run(wf, {"client": object()})
    failed = result["use"]
    assert failed.status is StageStatus.FAILED
    assert isinstance(failed.error, CacheKeyError)
    assert "stage 'use' parameter 'client'" in str(failed.error)
    assert "CachePolicy(key=" in str(failed.error)
    assert result["independent"].value == "still runs"


async def test_a_key_function_keys_unkeyable_inputs(engine: Engine) -> None:
    runs = 0
    wf = Workflow("keyfn")

    @wf.stage(cache=CachePolicy(key=lambda client, query: query))
    async def search(client: object, query: str) -> str:
        nonlocal runs
        runs += 1
        return query

    await engine.run(wf, {"client": object(), "query": "q"})
    second = await engine.run(wf, {"client": object(), "query": "q"})
    assert second["search"].cached
    assert runs == 1


async def test_a_failing_key_function_is_reported_as_a_key_error(engine: Engine) -> None:
    wf = Workflow("badkey")

    @wf.stage(cache=CachePolicy(key=lambda wrong: wrong))
    async def stage(query: str) -> str:
        return query

    failed = (await engine.run(wf, {"query": "q"}))["stage"]
    assert isinstance(failed.error, CacheKeyError)
    assert "stage 'stage'" in str(failed.error)
    assert "['query']" in str(failed.error)


async def test_failures_are_not_cached(engine: Engine) -> None:
    attempts = 0
    wf = Workflow("flaky")

    @wf.stage(cache=CachePolicy())
    async def flaky(n: int) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("first call fails")
        return n

    assert (await engine.run(wf, {"n": 1}))["flaky"].status is StageStatus.FAILED
    assert (await engine.run(wf, {"n": 1}))["flaky"].status is StageStatus.SUCCEEDED
    assert (await engine.run(wf, {"n": 1}))["flaky"].cached


async def test_fallback_values_are_not_cached(engine: Engine) -> None:
    wf = Workflow("fallback")
    calls = 0

    @wf.stage(cache=CachePolicy(), fallback="default")
    async def fragile(n: int) -> str:
        nonlocal calls
        calls += 1
        raise RuntimeError("down")

    first = await engine.run(wf, {"n": 1})
    second = await engine.run(wf, {"n": 1})
    assert first["fragile"].value == second["fragile"].value == "default"
    assert not second["fragile"].cached
    assert calls == 2


async def test_read_off_always_executes_but_still_writes(engine: Engine) -> None:
    agent = SimulatedAgent("x")
    async with make_engine(agent) as engine:
        await engine.run(agent_workflow(CachePolicy(read=False, version="v")), {"topic": "a"})
        await engine.run(agent_workflow(CachePolicy(read=False, version="v")), {"topic": "a"})
        assert agent.calls == 2
        reader = await engine.run(agent_workflow(CachePolicy(version="v")), {"topic": "a"})
        assert reader["write"].cached


async def test_write_off_never_stores() -> None:
    agent = SimulatedAgent("x")
    async with make_engine(agent) as engine:
        for _ in range(2):
            await engine.run(agent_workflow(CachePolicy(write=False)), {"topic": "a"})
    assert agent.calls == 2


async def test_refresh_executes_and_overwrites() -> None:
    texts = iter(["old", "new"])
    agent = SimulatedAgent(lambda prompt: next(texts))
    async with make_engine(agent) as engine:
        await engine.run(agent_workflow(CachePolicy(version="v")), {"topic": "a"})
        refreshed = await engine.run(agent_workflow(CachePolicy(version="v", refresh=True)), {"topic": "a"})
        after = await engine.run(agent_workflow(CachePolicy(version="v")), {"topic": "a"})
    assert refreshed["write"].status is StageStatus.SUCCEEDED
    assert after["write"].cached
    assert after["write"].value == "new"


async def test_ttl_expires_entries() -> None:
    async with make_engine() as engine:
        wf = agent_workflow(CachePolicy(ttl=0.05))
        await engine.run(wf, {"topic": "a"})
        await asyncio.sleep(0.1)
        assert not (await engine.run(wf, {"topic": "a"}))["write"].cached


async def test_engine_without_cache_runs_cached_stages_uncached() -> None:
    agent = SimulatedAgent("x")
    async with Engine(config=Config({}), agents={"writer": agent}, cache_url=False) as engine:
        for _ in range(2):
            assert (await engine.run(agent_workflow(), {"topic": "a"}))[
                "write"
            ].status is StageStatus.SUCCEEDED
    assert agent.calls == 2


async def test_concurrent_runs_execute_an_identical_stage_once() -> None:
    agent = SimulatedAgent("x", latency=0.05, input_tokens=10, output_tokens=5)
    async with make_engine(agent) as engine:
        results = await asyncio.gather(*(engine.run(agent_workflow(), {"topic": "same"}) for _ in range(20)))
        stats = await engine.result_cache.stats()
    assert agent.calls == 1
    statuses = sorted(r["write"].status for r in results)
    assert statuses.count(StageStatus.SUCCEEDED) == 1
    assert statuses.count(StageStatus.CACHED) == 19
    assert sum(r.usage.total_tokens for r in results) == 15
    assert sum(r.saved.total_tokens for r in results) == 19 * 15
    assert stats["session"]["coalesced"] == 19


async def test_a_shared_failure_reaches_every_run_and_is_not_cached() -> None:
    agent = SimulatedAgent("x", latency=0.05, fail_on=[1])
    async with make_engine(agent) as engine:
        results = await asyncio.gather(*(engine.run(agent_workflow(), {"topic": "t"}) for _ in range(5)))
        assert [r["write"].status for r in results] == [StageStatus.FAILED] * 5
        assert len({id(r["write"].error) for r in results}) == 1
        assert (await engine.run(agent_workflow(), {"topic": "t"}))["write"].status is StageStatus.SUCCEEDED
    assert agent.calls == 2


async def test_a_cancelled_run_does_not_cancel_the_shared_stage() -> None:
    agent = SimulatedAgent("x", latency=0.5)
    async with make_engine(agent) as engine:
        first = asyncio.create_task(engine.run(agent_workflow(), {"topic": "t"}))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(engine.run(agent_workflow(), {"topic": "t"}))
        await asyncio.sleep(0.02)
        first.cancel()
        result = await second
        with pytest.raises(asyncio.CancelledError):
            await first
    assert result["write"].value == "x"
    assert agent.calls == 1


async def test_workflow_timeout_cancels_a_stage_nobody_else_waits_for() -> None:
    finished = False
    wf = Workflow("slow", timeout=0.05)

    @wf.stage(cache=CachePolicy())
    async def slow(n: int) -> int:
        nonlocal finished
        await asyncio.sleep(1)
        finished = True
        return n

    async with make_engine() as engine:
        result = await engine.run(wf, {"n": 1})
        assert len(engine.result_cache.flights) == 0
    assert result.status is podium.RunStatus.TIMED_OUT
    assert result["slow"].status is StageStatus.CANCELLED
    assert not finished


async def test_cache_stats_and_clear_by_namespace(engine: Engine) -> None:
    await engine.run(agent_workflow(), {"topic": "a"})
    await engine.run(agent_workflow(CachePolicy(namespace="team")), {"topic": "a"})
    await engine.run(agent_workflow(CachePolicy(namespace="team")), {"topic": "b"})
    stats = await engine.result_cache.stats()
    assert stats["backend"] == "memory"
    assert stats["entries"] == 3
    assert stats["namespaces"] == {"": {"stage": 1}, "team": {"stage": 2}}
    assert await engine.result_cache.clear("team") == 2
    assert (await engine.result_cache.stats())["namespaces"] == {"": {"stage": 1}}
    assert await engine.result_cache.clear() == 1
    assert (await engine.result_cache.stats())["entries"] == 0


async def test_an_unserializable_value_warns_and_keeps_the_result(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wf = Workflow("lock")

    @wf.stage(cache=CachePolicy())
    async def make_lock(n: int) -> Any:
        return threading.Lock()

    with caplog.at_level(logging.WARNING, logger="podium.cache"):
        async with make_engine(cache_url=f"sqlite:///{tmp_path}/c.sqlite3") as engine:
            result = await engine.run(wf, {"n": 1})
            await engine.result_cache.flights.drain()
            assert engine.result_cache.available
    assert result["make_lock"].status is StageStatus.SUCCEEDED
    assert "cannot be serialized" in caplog.text


async def test_an_unknown_cache_scheme_fails_at_start_without_showing_the_password() -> None:
    with pytest.raises(podium.PodiumError, match="built in: memory://") as caught:
        async with Engine(config=Config({"cache_url": "redis+tls://:hunter2@host:1/0"})):
            pass
    assert "hunter2" not in str(caught.value)


async def test_podium_cache_key_from_a_plugin_replaces_the_built_in_key() -> None:
    class TenantBlindKeys:
        """Keys on the question only, so tenants share answers."""

        @podium.hookimpl
        def podium_cache_key(self, stage: podium.Stage, kwargs: dict[str, Any]) -> str:
            return f"podium:_:stage:{stage.name}:{kwargs['topic']}"

    wf = Workflow("tenants")

    @wf.stage(cache=CachePolicy())
    async def write(tenant: str, topic: str) -> str:
        return f"{topic} for {tenant}"

    async with Engine(config=Config({}), plugins=[TenantBlindKeys()]) as engine:
        await engine.run(wf, {"tenant": "a", "topic": "x"})
        shared = await engine.run(wf, {"tenant": "b", "topic": "x"})
    assert shared["write"].cached
    assert shared["write"].value == "x for a"


async def test_podium_cache_backend_from_a_plugin_serves_its_own_scheme() -> None:
    from aiocache import SimpleMemoryCache

    made: list[str] = []

    class LabBackend:
        @podium.hookimpl
        def podium_cache_backend(self, url: str) -> SimpleMemoryCache | None:
            if not url.startswith("lab://"):
                return None
            made.append(url)
            return SimpleMemoryCache()

    agents = {"writer": SimulatedAgent("x")}
    async with Engine(
        config=Config({"cache_url": "lab://one"}), plugins=[LabBackend()], agents=agents
    ) as engine:
        await engine.run(agent_workflow(), {"topic": "a"})
        assert (await engine.run(agent_workflow(), {"topic": "a"}))["write"].cached
    assert made == ["lab://one"]


async def test_context_set_when_a_cached_stage_starts_reaches_its_body_and_its_finish() -> None:
    import contextvars

    span: contextvars.ContextVar[str] = contextvars.ContextVar("span", default="none")
    seen: dict[str, str] = {}

    class Tracer:
        @podium.hookimpl
        def podium_stage_started(self, stage: podium.Stage) -> None:
            span.set(f"span-{stage.name}")

        @podium.hookimpl
        def podium_stage_ended(self, stage: podium.Stage) -> None:
            seen["finished"] = span.get()

    wf = Workflow("traced")

    @wf.stage(cache=CachePolicy())
    async def body(n: int) -> int:
        seen["body"] = span.get()
        return n

    async with Engine(config=Config({}), plugins=[Tracer()]) as engine:
        await engine.run(wf, {"n": 1})
    assert seen == {"body": "span-body", "finished": "span-body"}
