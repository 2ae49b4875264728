"""Rate limits: sliding windows never exceeded, capacity not wasted, settled with real usage, shared in Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import podium
from podium.running.agents.limiter import Limiter, MemoryLimits, Meter
from podium.running.agents.windows import SlidingWindow


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 500),
    window=st.sampled_from([1.0, 60.0]),
    arrivals=st.lists(st.tuples(st.floats(0, 5), st.integers(1, 600)), min_size=1, max_size=200),
)
def test_a_sliding_window_never_admits_more_than_its_limit_in_any_window(
    limit: int, window: float, arrivals: list[tuple[float, int]]
) -> None:
    meter = SlidingWindow(limit, window)
    now = 0.0
    admitted: list[tuple[float, int]] = []
    for gap, amount in arrivals:
        now += gap
        if meter.wait(now, amount) == 0:
            admitted.append((now, meter.admit(now, amount).amount))
    for start, _ in admitted:
        inside = sum(a for t, a in admitted if start <= t < start + window)
        assert inside <= limit


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(50, 100_000), amount_share=st.floats(0.001, 0.04))
def test_under_saturation_a_minute_window_uses_at_least_95_percent_of_its_capacity(
    limit: int, amount_share: float
) -> None:
    """A fake clock; callers (each at most 4 % of the limit, so whole calls can fill a
    window) retry exactly when the window says, over 10 simulated minutes."""
    amount = max(1, int(limit * amount_share))
    meter = SlidingWindow(limit, 60.0)
    now, spent = 0.0, 0
    while now < 600:
        wait = meter.wait(now, amount)
        if wait > 0:
            now += wait
            continue
        if now < 600:
            meter.admit(now, amount)
            spent += amount
    assert spent >= 0.95 * limit * 10


@settings(max_examples=100, deadline=None)
@given(estimates=st.lists(st.tuples(st.integers(1, 300), st.integers(0, 300)), min_size=1, max_size=100))
def test_settling_an_estimate_counts_what_was_really_spent(estimates: list[tuple[int, int]]) -> None:
    meter = SlidingWindow(10_000_000, 60.0)
    for estimate, real in estimates:
        meter.settle(meter.admit(1.0, estimate), real, 1.0)
    assert meter.used(1.0) == sum(real for _, real in estimates)


def test_a_call_larger_than_the_limit_waits_for_an_empty_window_instead_of_forever() -> None:
    meter = SlidingWindow(100, 60.0)
    meter.admit(0.0, 10)
    assert meter.wait(1.0, 1_000) == pytest.approx(59.0)
    assert meter.wait(60.0, 1_000) == 0


def test_a_provider_retry_after_closes_the_window() -> None:
    meter = SlidingWindow(100, 60.0)
    meter.block_until(5.0)
    assert meter.wait(1.0, 1) == pytest.approx(4.0)
    assert meter.wait(5.0, 1) == 0


async def test_tokens_per_second_limits_keep_a_simulated_provider_from_ever_answering_429() -> None:
    """The provider meters 600 tokens per second; the agent's matching ``tps`` waits instead."""
    quota = podium.SimulatedQuota(tpm=600, window_s=1.0)
    agent = podium.SimulatedAgent("x" * 200, input_tokens=50, output_tokens=50, quota=quota)
    wf = podium.Workflow("burst", strategy="parallel")
    for i in range(15):

        async def body(ctx: podium.Context, i: int = i) -> str:
            return (await ctx.agent("writer").complete(f"p{i}", max_tokens=50)).text

        wf.add_stage(body, name=f"s{i}")
    config = podium.Config({"agents": {"writer": {"tps": 600, "retry": False}}})
    async with podium.Engine(config=config, agents={"writer": agent}) as engine:
        result = await engine.run(wf)
    assert result.ok, result.failed()
    assert quota.rate_limited == 0


async def test_a_provider_key_limit_is_shared_by_every_agent_of_that_provider() -> None:
    config = podium.Config({"limits": {"simulated": {"rpm": 7}}})
    agents = {"a": podium.SimulatedAgent(), "b": podium.SimulatedAgent()}
    async with podium.Engine(config=config, agents=agents) as engine:
        assert engine.agents.managed("a").meters == engine.agents.managed("b").meters
        assert [m.name for m in engine.agents.managed("a").meters] == ["key:simulated:rpm"]


async def test_waiting_callers_are_admitted_first_come_first_served() -> None:
    limiter = Limiter(MemoryLimits())
    meter = (Meter("m:rps", 1, 0.02, False),)
    order: list[int] = []

    async def caller(n: int) -> None:
        await limiter.acquire(meter, 1)
        order.append(n)

    await asyncio.wait_for(asyncio.gather(*(caller(n) for n in range(5))), 5)
    assert order == [0, 1, 2, 3, 4]


def _redis_available() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


needs_redis = pytest.mark.skipif(
    not _redis_available() and not os.environ.get("CI"), reason="no Redis server on 127.0.0.1:6379"
)

_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from podium.backends.limits_redis import RedisLimits
    from podium.running.agents.limiter import Limiter, Meter

    async def main():
        backend = RedisLimits("redis://127.0.0.1:6379/0")
        limiter = Limiter(backend)
        meter = (Meter(sys.argv[1], 4, 1.0, False),)
        times = []
        for _ in range(6):
            await limiter.acquire(meter, 1)
            times.append(time.time())
        await backend.close()
        print(json.dumps(times))

    asyncio.run(main())
    """
)


@needs_redis
def test_two_processes_sharing_a_redis_limit_share_one_limit(tmp_path: object) -> None:
    meter = f"test:{os.getpid()}:rps"
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, meter], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    times = sorted(t for w in workers for t in json.loads(w.communicate(timeout=60)[0]))
    assert len(times) == 12
    # 4 per second across both processes: any 1-second window holds at most 4 (50 ms of
    # slack for the clocks of the processes and of Redis).
    for start in times:
        assert sum(1 for t in times if start <= t < start + 0.95) <= 4
    assert times[-1] - times[0] >= 1.9  # 12 calls at 4/s take over two windows


@needs_redis
async def test_podium_limits_backend_opens_redis_meters_for_a_redis_url() -> None:
    name = f"test-{os.getpid()}"
    config = podium.Config(
        {
            "limits_backend": "redis://127.0.0.1:6379/0",
            "agents": {name: {"provider": "simulated", "model": "m", "rpm": 2}},
        }
    )
    async with podium.Engine(config=config) as engine:
        assert engine.limiter is not None and type(engine.limiter.backend).__name__ == "RedisLimits"
        described = await engine.agents.managed(name).describe()
    assert described["meters"] == {f"agent:{name}:rpm": {"limit": 2, "used": 0}}


async def test_an_unknown_limits_backend_is_a_configuration_error() -> None:
    config = podium.Config(
        {"limits_backend": "mongo://x", "agents": {"a": {"provider": "simulated", "model": "m", "rpm": 2}}}
    )
    with pytest.raises(
        podium.ConfigError, match="limits_backend: no installed plugin keeps rate limits at 'mongo://x'"
    ):
        await podium.Engine(config=config).start()


async def test_an_unreachable_shared_limits_backend_limits_in_process_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = podium.Config(
        {
            "limits_backend": "redis://127.0.0.1:1/0",
            "agents": {"a": {"provider": "simulated", "model": "m", "rpm": 2}},
        }
    )
    wf = podium.Workflow("limited", strategy="sequential")

    @wf.stage
    async def call(ctx: podium.Context) -> str:
        return (await ctx.agent("a").complete("hi")).text

    async with podium.Engine(config=config, cache_url=False) as engine:
        result = await engine.run(wf)
        used = await engine.agents.managed("a").limiter.used(engine.agents.managed("a").meters)
    assert result.ok
    assert used == {"agent:a:rpm": 1}  # counted by the local meters meanwhile
    assert "limiting in this process only" in caplog.text
