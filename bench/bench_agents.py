"""Benchmarks of agents and the workflow scheduler; every ratio is to a baseline of the same run.

- A1 admission against a quota: 500 workflows x 3 agent calls against a simulated
  provider metering tokens per minute. Podium with the matching ``tpm`` vs a naive client
  (the same calls under ``asyncio.gather``, retrying 429s with exponential backoff and
  full jitter): 429s received, wall time over the ideal ``total tokens / tpm``, tokens
  sent in rejected calls. Simulated minutes run on a virtual clock (bench/virtual_time.py),
  so the figures are exact and the run takes seconds.
- A2 many workflows: 10,000 runs of a 3-stage workflow whose stages call an agent with
  1-5 ms of simulated latency, through the scheduler at ``max_concurrent = 100``:
  throughput, wall over ideal (total latency / 100), peak RSS; and W4's 200 x 3 stages
  at 10 ms, 10 at once, through ``engine.submit`` vs the plain-asyncio baseline.
- A3 overhead per agent call: a bare ``await agent.complete()`` vs ``ctx.agent().complete()``
  with default policies, and with limits (rpm, tpm, a provider key), a breaker and a pool.
- A4 admission by the provider's headers: A1's workload with **no limit declared**, Podium
  obeying only the rate-limit state the provider reports on each answer, vs the same naive
  client. Nothing is known before the first answers, so the first burst draws 429s; the
  figures say how many, and how many came after it (the claim: none).

Run: ``python bench/bench_agents.py [--quick]``. Prints JSON and writes
``bench/results/agents.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench_scheduling import make_workflow, plain_scheduler, sleeping, wall_times
from virtual_time import run_virtual

import podium
import podium_conditional
import podium_parallel
import podium_sequential
from podium import Config, Engine, SimulatedAgent, SimulatedQuota, create_plugin_manager


def engine(config: Config | None = None, **options: Any) -> Engine:
    """An engine with Podium's strategies only (no installed observer plugin), no cache."""
    pm = create_plugin_manager(
        autoload=False, plugins=[podium_parallel, podium_sequential, podium_conditional]
    )
    return Engine(config=config or Config(), plugin_manager=pm, cache_url=False, **options)


# --------------------------------------------------------------------------- A1 admission

TPM = 60_000
WORKFLOWS, CALLS = 500, 3
PROMPT = "x" * 800  # 200 tokens at the estimator's 4 characters a token
MAX_TOKENS = 120


def provider(quota: SimulatedQuota, seed: int) -> SimulatedAgent:
    """Replies of 60-120 tokens after 0.5-2 s, drawn from one seed for both contenders."""
    rng = random.Random(seed)
    return SimulatedAgent(
        lambda _: "y" * 4 * rng.randint(60, MAX_TOKENS),
        quota=quota,
        latency=lambda r: r.uniform(0.5, 2.0),
        seed=seed,
    )


async def naive(seed: int) -> dict[str, Any]:
    quota = SimulatedQuota(tpm=TPM)
    agent = provider(quota, seed)
    rng = random.Random(seed)
    spent = 0

    async def call() -> None:
        nonlocal spent
        attempt = 0
        while True:
            try:
                reply = await agent.complete(PROMPT, max_tokens=MAX_TOKENS)
            except podium.ProviderError:
                attempt += 1
                await asyncio.sleep(rng.uniform(0, min(60.0, 2.0**attempt)))
                continue
            spent += reply.usage.total_tokens
            return

    async def workflow() -> None:
        for _ in range(CALLS):
            await call()

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.gather(*(workflow() for _ in range(WORKFLOWS)))
    return {
        "wall_s": loop.time() - t0,
        "rate_limited": quota.rate_limited,
        "wasted": quota.wasted_tokens,
        "spent": spent,
    }


def three_calls() -> podium.Workflow:
    wf = podium.Workflow("three-calls", strategy="sequential")
    for i in range(CALLS):

        async def body(ctx: podium.Context) -> int:
            reply = await ctx.agent("writer").complete(PROMPT, max_tokens=MAX_TOKENS)
            return reply.usage.total_tokens

        wf.add_stage(body, name=f"call{i}", needs=[f"call{i - 1}"] if i else [])
    return wf


async def with_podium(seed: int, *, declared: bool = True) -> dict[str, Any]:
    """A1's workload through Podium: with the quota declared as ``tpm``, or with no limit
    (only what the provider reports; retries without end, as the naive client's)."""
    quota = SimulatedQuota(tpm=TPM)
    agent = provider(quota, seed)
    table: dict[str, Any] = {"tpm": TPM} if declared else {"retry": {"attempts": 1000, "max_delay": 60}}
    config = Config({"agents": {"writer": table}})
    loop = asyncio.get_running_loop()
    refusals: list[float] = []
    started = quota.take

    def take(*args: Any) -> Any:
        try:
            return started(*args)
        except podium.ProviderError:
            refusals.append(loop.time() - t0)
            raise

    quota.take = take  # type: ignore[method-assign]
    async with engine(config, agents={"writer": agent}) as running:
        wf = three_calls()
        t0 = loop.time()
        results = await asyncio.gather(*(running.run(wf) for _ in range(WORKFLOWS)))
        wall = loop.time() - t0
    assert all(r.ok for r in results), [r.failed() for r in results if not r.ok][:1]
    spent = sum(r.usage.total_tokens for r in results)
    return {
        "wall_s": wall,
        "rate_limited": quota.rate_limited,
        "wasted": quota.wasted_tokens,
        "spent": spent,
        "refused_at": refusals,
    }


def admission(seed: int = 1) -> dict[str, Any]:
    started = time.perf_counter()
    naive_run = run_virtual(lambda: naive(seed))
    podium_run = run_virtual(lambda: with_podium(seed))
    ideal = podium_run["spent"] / TPM * 60
    return {
        "workflows": WORKFLOWS,
        "calls": WORKFLOWS * CALLS,
        "tpm": TPM,
        "total_tokens": podium_run["spent"],
        "ideal_s": round(ideal, 1),
        "podium_429s": podium_run["rate_limited"],
        "naive_429s": naive_run["rate_limited"],
        **_against_the_naive_client(podium_run, naive_run, ideal, started),
    }


def _against_the_naive_client(
    podium_run: dict[str, Any], naive_run: dict[str, Any], ideal: float, started: float
) -> dict[str, Any]:
    """The figures A1 and A4 both report: wall time over the ideal, tokens sent in vain."""
    return {
        "podium_wall_over_ideal": round(podium_run["wall_s"] / ideal, 3),
        "naive_wall_over_ideal": round(naive_run["wall_s"] / (naive_run["spent"] / TPM * 60), 3),
        "podium_tokens_in_rejected_calls": podium_run["wasted"],
        "naive_tokens_in_rejected_calls": naive_run["wasted"],
        "real_seconds": round(time.perf_counter() - started, 2),
    }


def reported_admission(seed: int = 1) -> dict[str, Any]:
    started = time.perf_counter()
    naive_run = run_virtual(lambda: naive(seed))
    podium_run = run_virtual(lambda: with_podium(seed, declared=False))
    ideal = podium_run["spent"] / TPM * 60
    refused = podium_run["refused_at"]
    # The first burst: every workflow's first call goes before any answer is back.
    first_answer = min(refused) if refused else 0.0
    in_first_burst = sum(1 for at in refused if at <= first_answer)
    return {
        "workflows": WORKFLOWS,
        "calls": WORKFLOWS * CALLS,
        "tpm": TPM,
        "declared_limits": "none",
        "podium_429s": podium_run["rate_limited"],
        "podium_429s_in_the_first_burst": in_first_burst,
        "podium_429s_after_it": len(refused) - in_first_burst,
        "naive_429s": naive_run["rate_limited"],
        **_against_the_naive_client(podium_run, naive_run, ideal, started),
    }


# --------------------------------------------------------------------------- A2 many workflows


async def many_runs(count: int, cap: int = 100) -> dict[str, Any]:
    rng = random.Random(3)
    latencies = [rng.uniform(0.001, 0.005) for _ in range(count * 3)]
    agent = SimulatedAgent("ok", latency=latencies)
    wf = podium.Workflow("three-stages", strategy="sequential")

    @wf.stage
    async def a(ctx: podium.Context) -> str:
        return (await ctx.agent("fast").complete("a")).text

    @wf.stage(needs=["a"])
    async def b(ctx: podium.Context, a: str) -> str:
        return (await ctx.agent("fast").complete("b")).text

    @wf.stage(needs=["b"])
    async def c(ctx: podium.Context, b: str) -> str:
        return (await ctx.agent("fast").complete("c")).text

    gc.collect()
    async with engine(agents={"fast": agent}, max_concurrent=cap) as running:
        t0 = time.perf_counter()
        handles = [await running.submit(wf) for _ in range(count)]
        results = [await h for h in handles]
        wall = time.perf_counter() - t0
        peak = running.runs.peak
    assert all(r.ok for r in results)
    ideal = sum(latencies) / cap
    return {
        "runs": count,
        "max_concurrent": cap,
        "peak_concurrent": peak,
        "runs_per_s": round(count / wall),
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "wall_over_ideal": round(wall / ideal, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def submitted_w4(repeats: int) -> dict[str, Any]:
    chain = [[], [0], [1]]
    body = sleeping([0.010] * 3)
    wf = make_workflow("w4-submit", chain, [0.010] * 3, strategy="parallel")
    count, at_once = 200, 10

    async def baseline() -> None:
        gate = asyncio.Semaphore(at_once)

        async def one() -> None:
            async with gate:
                await plain_scheduler(chain, body)

        await asyncio.gather(*(one() for _ in range(count)))

    scheduler = engine(max_concurrent=at_once)
    await scheduler.start()

    async def through_submit() -> None:
        handles = [await scheduler.submit(wf) for _ in range(count)]
        for handle in handles:
            await handle

    walls = await wall_times(repeats, {"baseline": baseline, "podium": through_submit})
    await scheduler.stop()
    ideal = count / at_once * 3 * 0.010
    return {
        "ideal_s": ideal,
        "baseline_wall_over_ideal": round(walls["baseline"] / ideal, 3),
        "podium_wall_over_ideal": round(walls["podium"] / ideal, 3),
        "podium_over_baseline": round(walls["podium"] / walls["baseline"], 3),
    }


# --------------------------------------------------------------------------- A3 overhead


async def per_call(calls: int, repeats: int) -> dict[str, Any]:
    bare_agent = SimulatedAgent("ok", input_tokens=10, output_tokens=5)

    async def bare() -> None:
        for _ in range(calls):
            await bare_agent.complete("hello")

    def looping(agent: str) -> podium.Workflow:
        wf = podium.Workflow(f"loop-{agent}", strategy="sequential")

        @wf.stage
        async def loop(ctx: podium.Context) -> None:
            bound = ctx.agent(agent)
            for _ in range(calls):
                await bound.complete("hello")

        return wf

    config = Config(
        {
            "agents": {"guarded": {"rpm": 10**9, "tpm": 10**12, "pool": 8, "breaker": True}},
            "limits": {"simulated": {"rpm": 10**9}},
        }
    )
    agents = {
        "plain": SimulatedAgent("ok", input_tokens=10, output_tokens=5),
        "guarded": SimulatedAgent("ok", input_tokens=10, output_tokens=5),
    }
    async with engine(config, agents=agents) as running:
        plain, guarded = looping("plain"), looping("guarded")
        runs: dict[str, Callable[[], Awaitable[Any]]] = {
            "bare": bare,
            "default_policies": lambda: running.run(plain),
            "limits_breaker_pool": lambda: running.run(guarded),
        }
        cpu: dict[str, float] = {}
        for _ in range(repeats):
            for name, run in runs.items():
                gc.collect()
                t0 = time.process_time()
                await run()
                spent = (time.process_time() - t0) / calls
                cpu[name] = min(cpu.get(name, spent), spent)
    return {
        "calls": calls,
        **{f"{name}_us_per_call": round(v * 1e6, 2) for name, v in cpu.items()},
        "default_policies_overhead_us": round((cpu["default_policies"] - cpu["bare"]) * 1e6, 2),
        "limits_breaker_pool_overhead_us": round((cpu["limits_breaker_pool"] - cpu["bare"]) * 1e6, 2),
    }


async def real_time(quick: bool) -> dict[str, Any]:
    return {
        "A2_10000_runs_at_100": await many_runs(2_000 if quick else 10_000),
        "A2_W4_200_runs_10_at_once_submitted": await submitted_w4(1 if quick else 10),
        "A3_overhead_per_call": await per_call(2_000 if quick else 20_000, 2 if quick else 5),
    }


def main(quick: bool) -> dict[str, Any]:
    a1 = admission()
    a4 = reported_admission()
    rest = asyncio.run(real_time(quick))
    w4 = rest["A2_W4_200_runs_10_at_once_submitted"]
    targets = {
        "A1_podium_no_429s": a1["podium_429s"] == 0,
        "A1_podium_wall_at_most_1.10x_ideal": a1["podium_wall_over_ideal"] <= 1.10,
        "A2_W4_submit_at_most_1.03x_baseline": w4["podium_over_baseline"] <= 1.03,
        "A2_never_above_max_concurrent": rest["A2_10000_runs_at_100"]["peak_concurrent"] <= 100,
        "A4_no_429s_after_the_first_burst": a4["podium_429s_after_it"] == 0,
    }
    return {
        "benchmark": "agents",
        "targets_met": targets,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "A1_admission_against_a_quota": a1,
        "A4_admission_by_the_providers_headers": a4,
        **rest,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    options = parser.parse_args()
    report = main(options.quick)
    text = json.dumps(report, indent=2)
    print(text)
    out = Path(__file__).parent / "results" / "agents.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    sys.exit(0)
