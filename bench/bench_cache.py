"""Caching benchmark: hit latency, single-flight, and the tokens a realistic repeat rate saves.

    python bench/bench_cache.py [--redis redis://127.0.0.1:6379/15] [--runs 1000] [--repeat 0.4]

Prints JSON and writes ``bench/results/cache.json``. Three measurements:

1. **Hit latency**: per-stage time of a cache hit against a no-op stage, both run through
   the engine in this process (memory, SQLite, and Redis when reachable).
2. **Single-flight**: 1,000 concurrent runs with an identical cached stage; executions must be 1.
3. **Seed scenario**: 1,000 runs of a 3-stage agent workflow (simulated agent, real token
   usage and prices) where a share of inputs repeat, without and with caching: tokens and
   cost spent, the hit rate against the repeat rate, and misses that should have hit (bugs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import podium
from podium import CachePolicy, Config, Engine, SimulatedAgent, StageStatus, Workflow

RESULTS = Path(__file__).parent / "results" / "cache.json"
STAGES_PER_RUN = 100


def reachable(url: str) -> str | None:
    """``None`` when the server of ``url`` accepts connections, else the reason."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=0.5).close()
    except OSError as error:
        return f"{parts.hostname}:{parts.port} unreachable ({error.strerror})"
    return None


def wide_workflow(name: str, cached: bool) -> Workflow:
    """``STAGES_PER_RUN`` independent no-op stages; cached ones hit after the first run."""
    wf = Workflow(name, strategy="sequential")
    for n in range(STAGES_PER_RUN):

        async def noop(x: int) -> int:
            return x

        wf.add_stage(noop, name=f"s{n}", cache=CachePolicy() if cached else None, version="1")
    return wf


async def per_stage_seconds(engine: Engine, wf: Workflow, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        result = await engine.run(wf, {"x": 1})
        assert result.ok
    return (time.perf_counter() - started) / (repeats * STAGES_PER_RUN)


async def hit_latency(url: str, repeats: int, trials: int = 5) -> dict[str, Any]:
    """Best-of-``trials`` per-stage time, the no-op and the hit measured alternately."""
    async with Engine(config=Config({"cache_url": url})) as engine:
        await engine.result_cache.clear()
        plain, cached = wide_workflow("bench-noop", cached=False), wide_workflow("bench-hit", cached=True)
        for wf in (plain, cached):  # warm up, and fill the cache
            await engine.run(wf, {"x": 1})
        await engine.result_cache.flights.drain()
        hits_before = engine.result_cache.counters.hits
        noops, hits = [], []
        for _ in range(trials):
            noops.append(await per_stage_seconds(engine, plain, repeats))
            hits.append(await per_stage_seconds(engine, cached, repeats))
        noop, hit = min(noops), min(hits)
        ratios = [h / n for h, n in zip(hits, noops, strict=True)]
        counters = engine.result_cache.counters
        hits_expected = trials * repeats * STAGES_PER_RUN
        await engine.result_cache.clear()
    return {
        "noop_stage_us": round(noop * 1e6, 1),
        "cache_hit_stage_us": round(hit * 1e6, 1),
        "ratio_hit_to_noop": round(hit / noop, 2),
        "ratio_min": round(min(ratios), 2),
        "ratio_max": round(max(ratios), 2),
        "hits": counters.hits - hits_before,
        "hits_expected": hits_expected,
    }


async def single_flight(url: str, callers: int) -> dict[str, Any]:
    executions = 0
    wf = Workflow("bench-single-flight", strategy="sequential")

    @wf.stage(cache=CachePolicy(), version="1")
    async def expensive(q: str) -> str:
        nonlocal executions
        executions += 1
        await asyncio.sleep(0.05)
        return q.upper()

    async with Engine(config=Config({"cache_url": url})) as engine:
        await engine.result_cache.clear()
        started = time.perf_counter()
        results = await asyncio.gather(*(engine.run(wf, {"q": "same"}) for _ in range(callers)))
        elapsed = time.perf_counter() - started
        await engine.result_cache.clear()
    statuses = [r["expensive"].status for r in results]
    return {
        "concurrent_requests": callers,
        "executions": executions,
        "ok": executions == 1 and all(r.ok for r in results),
        "coalesced": statuses.count(StageStatus.CACHED),
        "wall_s": round(elapsed, 3),
    }


def seed_workflow() -> Workflow:
    wf = Workflow("feature", strategy="sequential")

    @wf.stage(cache=CachePolicy(), version="1")
    async def spec(ctx: podium.Context, ticket: str) -> str:
        return (await ctx.agent("planner").complete(f"Write a spec for: {ticket}")).text

    @wf.stage(needs="spec", cache=CachePolicy(), version="1")
    async def implement(ctx: podium.Context, spec: str) -> str:
        return (await ctx.agent("coder").complete(f"Implement this spec:\n{spec}")).text

    @wf.stage(needs="implement", cache=CachePolicy(), version="1")
    async def review(ctx: podium.Context, implement: str) -> str:
        return (await ctx.agent("reviewer").complete(f"Review this change:\n{implement}")).text

    return wf


def seed_inputs(runs: int, repeat: float, seed: int = 7) -> tuple[list[str], list[bool]]:
    """Tickets where a ``repeat`` share re-uses an earlier ticket, and which runs repeat."""
    rng = random.Random(seed)
    repeats = set(rng.sample(range(1, runs), round(runs * repeat)))
    tickets: list[str] = []
    flags: list[bool] = []
    for n in range(runs):
        if n in repeats:
            tickets.append(rng.choice(tickets))
            flags.append(True)
        else:
            tickets.append(f"ticket {n}: add rate limiting to endpoint /v{n % 7}/items, paging {n % 13}")
            flags.append(False)
    return tickets, flags


def seed_agents(latency: float) -> dict[str, SimulatedAgent]:
    """Replies grow with the prompt, so tokens (priced per model) vary with the input."""
    return {
        "planner": SimulatedAgent(lambda p: "SPEC " + p * 3, model="claude-sonnet-4-5", latency=latency),
        "coder": SimulatedAgent(lambda p: "CODE " + p * 4, model="claude-sonnet-4-5", latency=latency),
        "reviewer": SimulatedAgent(lambda p: "LGTM " + p[:400], model="claude-haiku-4-5", latency=latency),
    }


async def seed_scenario(
    url: str | bool, runs: int, repeat: float, concurrency: int, latency: float
) -> dict[str, Any]:
    tickets, repeated = seed_inputs(runs, repeat)
    wf = seed_workflow()
    agents = seed_agents(latency)
    limit = asyncio.Semaphore(concurrency)
    config = Config({"cache_url": url}) if isinstance(url, str) else Config({})

    async with Engine(config=config, agents=agents, cache_url=None if url else False) as engine:
        if url:
            await engine.result_cache.clear()

        async def one(ticket: str) -> podium.RunResult:
            async with limit:
                return await engine.run(wf, {"ticket": ticket})

        started = time.perf_counter()
        results = await asyncio.gather(*(one(t) for t in tickets))
        elapsed = time.perf_counter() - started
        counters = engine.result_cache.counters.as_dict()
        if url:
            await engine.result_cache.clear()
    spent = sum((r.usage for r in results), podium.Usage())
    saved = sum((r.saved for r in results), podium.Usage())
    stage_calls = runs * len(wf.stages)
    avoided = sum(1 for r in results for s in r.values() if s.cached)
    executions = sum(a.calls for a in agents.values())
    # Each distinct input must run each stage once; an execution beyond that is a miss that
    # should have hit (a bug). Under concurrency a repeat may run a stage for its original,
    # which then shares it, so this is counted by executions, not by which run executed.
    necessary = len(set(tickets)) * len(wf.stages)
    return {
        "runs": runs,
        "failed_runs": sum(not r.ok for r in results),
        "repeat_rate": round(sum(repeated) / runs, 4),
        "stage_calls": stage_calls,
        "executions": executions,
        "avoided_rate": round(avoided / stage_calls, 4),
        "hit_rate": counters["hit_rate"],
        "hits": counters["hits"],
        "coalesced": counters["coalesced"],
        "misses_that_should_have_hit": executions - necessary if url else None,
        "tokens_spent": spent.total_tokens,
        "cost_spent_usd": round(spent.cost_usd, 4),
        "tokens_saved": saved.total_tokens,
        "cost_saved_usd": round(saved.cost_usd, 4),
        "wall_s": round(elapsed, 3),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="podium-bench-")
    backends: dict[str, str] = {"memory": "memory://", "sqlite": f"sqlite:///{tmp}/cache.sqlite3"}
    skipped: dict[str, str] = {}
    why = reachable(args.redis)
    if why is None:
        backends["redis"] = args.redis
    else:
        skipped["redis"] = why
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "skipped": skipped,
        "settings": {k: v for k, v in vars(args).items() if k != "redis"},
    }
    report["hit_latency"] = {
        name: await hit_latency(url, args.latency_runs) for name, url in backends.items()
    }
    report["single_flight"] = {name: await single_flight(url, args.callers) for name, url in backends.items()}
    scenario_args = (args.runs, args.repeat, args.concurrency, args.agent_latency)
    baseline = await seed_scenario(False, *scenario_args)
    scenario: dict[str, Any] = {"uncached": baseline}
    for name, url in backends.items():
        cached = await seed_scenario(url, *scenario_args)
        cached["tokens_ratio_vs_uncached"] = round(cached["tokens_spent"] / baseline["tokens_spent"], 4)
        cached["cost_ratio_vs_uncached"] = round(cached["cost_spent_usd"] / baseline["cost_spent_usd"], 4)
        cached["wall_ratio_vs_uncached"] = round(cached["wall_s"] / baseline["wall_s"], 4)
        scenario[name] = cached
    report["seed_scenario"] = scenario
    return report


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=float, default=0.4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--agent-latency", type=float, default=0.01, help="Seconds per simulated agent call.")
    return parser.parse_args()


if __name__ == "__main__":
    report = asyncio.run(main(parse()))
    text = json.dumps(report, indent=2)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")
