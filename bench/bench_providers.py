"""Benchmark: what the provider plugins add to a call, against the bare SDK call they wrap.

For each provider, the same number of calls to the same fake server on 127.0.0.1 (the
plugin's own ``testing`` fake): the bare SDK (``messages.create`` / ``chat.completions.create``
with ``max_retries=0``, the reply and usage read), then the Podium agent's ``complete``
(option merge, request building, raw response for headers, usage / limits / reply
mapping). Both run in this process, interleaved in rounds, so the ratio compares like
with like; most of a call's time is the HTTP round trip, which both pay. The fake runs in
a child process: in this one, its thread would contend for the GIL with the client.

    python bench/bench_providers.py [--calls 500] [--rounds 4]

Prints JSON and writes bench/results/providers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import anthropic
import openai

import podium
from podium_anthropic.testing import FakeAnthropic
from podium_openai.testing import FakeOpenAI

KEY = "sk-bench"
RESULTS = Path(__file__).parent / "results" / "providers.json"

Call = Callable[[], Awaitable[Any]]


def _serve(kind: str, pipe: Connection) -> None:
    fake_type = FakeAnthropic if kind == "anthropic" else FakeOpenAI
    with fake_type(api_key=KEY, reply="A reply of a few words.", requests_per_minute=10**9) as fake:
        pipe.send(fake.url)
        pipe.recv()  # until the benchmark is done


@contextmanager
def fake_server(kind: str) -> Iterator[str]:
    """The URL of the provider's fake, serving from a child process."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve, args=(kind, child), daemon=True)
    process.start()
    try:
        yield str(parent.recv())
    finally:
        parent.send("stop")
        process.join(timeout=10)


async def compare(bare: Call, agent: Call, calls: int, rounds: int) -> dict[str, Any]:
    """Per-call times, the two calls alternating, so that both meet the same load on the machine."""
    await bare(), await agent()  # connections open, imports warm
    bare_s: list[float] = []
    agent_s: list[float] = []
    for _ in range(rounds * calls):
        for call, times in ((bare, bare_s), (agent, agent_s)):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
    bare_ms, agent_ms = statistics.median(bare_s) * 1000, statistics.median(agent_s) * 1000
    return {
        "bare_sdk_ms_per_call_median": round(bare_ms, 3),
        "podium_agent_ms_per_call_median": round(agent_ms, 3),
        "overhead_ms_per_call": round(agent_ms - bare_ms, 3),
        "ratio": round(agent_ms / bare_ms, 3),
    }


async def anthropic_case(calls: int, rounds: int) -> dict[str, Any]:
    with fake_server("anthropic") as url:
        config = podium.Config({"plugins": {"anthropic": {"api_key": KEY, "base_url": url}}})
        async with podium.Engine(config=config, cache_url=False) as engine:
            spec = podium.AgentSpec("bench", "anthropic", "claude-sonnet-4-6", {"max_tokens": 256})
            agent = engine.providers["anthropic"](spec, engine.config)
            client = anthropic.AsyncAnthropic(api_key=KEY, base_url=url, max_retries=0, open_telemetry=False)

            async def bare() -> Any:
                message = await client.messages.create(
                    model="claude-sonnet-4-6", max_tokens=256, messages=[{"role": "user", "content": "Hi"}]
                )
                return message.content[0], message.usage

            try:
                return await compare(bare, lambda: agent.complete("Hi"), calls, rounds)
            finally:
                await client.close()


async def openai_case(calls: int, rounds: int) -> dict[str, Any]:
    with fake_server("openai") as root:
        url = f"{root}/v1"
        config = podium.Config({"plugins": {"openai": {"api_key": KEY, "base_url": url}}})
        async with podium.Engine(config=config, cache_url=False) as engine:
            spec = podium.AgentSpec("bench", "openai", "gpt-bench", {"max_tokens": 256})
            agent = engine.providers["openai"](spec, engine.config)
            client = openai.AsyncOpenAI(api_key=KEY, base_url=url, max_retries=0)

            async def bare() -> Any:
                completion = await client.chat.completions.create(
                    model="gpt-bench", max_completion_tokens=256, messages=[{"role": "user", "content": "Hi"}]
                )
                return completion.choices[0].message.content, completion.usage

            try:
                return await compare(bare, lambda: agent.complete("Hi"), calls, rounds)
            finally:
                await client.close()


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    report = {
        "benchmark": "providers",
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "note": (
            "medians of calls alternating bare/agent; a local fake in a child process, "
            "so the HTTP round trip dominates"
        ),
        "anthropic": await anthropic_case(args.calls, args.rounds),
        "openai": await openai_case(args.calls, args.rounds),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    asyncio.run(main())
