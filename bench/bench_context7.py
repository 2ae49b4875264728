"""Benchmark: documentation for a 3-stage workflow, naive Context7 client vs podium-context7.

The seed's scenario: each of three stages needs docs for fastapi, sqlalchemy and pytest.
The naive client does what the official MCP server does: one request per stage per
library, the whole text response (about 5,000 tokens, the old API's default size) put
into the prompt. podium-context7 shares a 2,400-token budget per call, coalesces and caches.
Both talk to the same fake Context7 on 127.0.0.1 and both run through a real podium.Engine
with the sequential strategy; requests are counted by the server, tokens with one ruler
(the fake's token counts are 4 characters a token, as ``estimate_tokens`` measures).

    python bench/bench_context7.py [--workflows 1000] [--concurrency 20]

Prints JSON and writes bench/results/context7.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

import podium
from podium_context7.snippets import estimate_tokens
from podium_context7.testing import FakeContext7, make_library

LIBRARIES = {
    "fastapi": "/tiangolo/fastapi",
    "sqlalchemy": "/sqlalchemy/sqlalchemy",
    "pytest": "/pytest-dev/pytest",
}
STAGES = ("spec", "implement", "review")
BUDGET = 2400
RESULTS = Path(__file__).parent / "results" / "context7.json"


def fake_service() -> FakeContext7:
    return FakeContext7(
        [
            make_library("/tiangolo/fastapi", "FastAPI", trust=9.9),
            make_library("/websites/fastapi_tiangolo", "FastAPI", trust=7.5, total_tokens=900),
            make_library("/sqlalchemy/sqlalchemy", "SQLAlchemy", trust=9.5),
            make_library("/pytest-dev/pytest", "pytest", trust=9.6),
        ]
    )


def workflow(name: str, fetch: Any, queries: dict[str, str], ledger: list[int]) -> podium.Workflow:
    """Three chained stages; each fetches docs with ``fetch`` and prompts an agent with them."""
    wf = podium.Workflow(name, strategy="sequential")
    previous: str | None = None
    for stage in STAGES:

        async def body(ctx: podium.Context, _stage: str = stage) -> str:
            text = await fetch(ctx, queries[_stage])
            ledger.append(estimate_tokens(text) if text else 0)
            reply = await ctx.agent("coder").complete(f"{text}\n\nTask for {_stage}: do the work.")
            return reply.text

        wf.add_stage(body, name=stage, needs=[previous] if previous else None)
        previous = stage
    return wf


async def run_many(engine: podium.Engine, wf: podium.Workflow, count: int, concurrency: int) -> list[Any]:
    results: list[Any] = []
    for start in range(0, count, concurrency):
        batch = min(concurrency, count - start)
        results += await asyncio.gather(*(engine.run(wf) for _ in range(batch)))
    return results


async def measure(mode: str, count: int, concurrency: int, queries: dict[str, str]) -> dict[str, Any]:
    ledger: list[int] = []
    with fake_service() as fake:
        config = podium.Config({"strategy": "sequential", "plugins": {"context7": {"base_url": fake.url}}})
        agent = podium.SimulatedAgent("ok", output_tokens=10)
        async with (
            podium.Engine(config=config, agents={"coder": agent}) as engine,
            httpx.AsyncClient(base_url=fake.url + "/") as http,
        ):

            async def naive(ctx: podium.Context, query: str) -> str:
                texts = []
                for library_id in LIBRARIES.values():
                    params = {"libraryId": library_id, "query": query, "type": "txt"}
                    response = await http.get("v2/context", params=params)
                    response.raise_for_status()
                    texts.append(response.text)
                return "\n\n".join(texts)

            async def batched(ctx: podium.Context, query: str) -> str:
                bundle = await ctx.docs(list(LIBRARIES), query=query, tokens=BUDGET)
                assert bundle.ok, bundle.failures
                return bundle.text

            wf = workflow(f"feature-{mode}", naive if mode == "naive" else batched, queries, ledger)
            started = time.perf_counter()
            results = await run_many(engine, wf, count, concurrency)
            elapsed = time.perf_counter() - started
        assert all(r.ok for r in results), [r.failed() for r in results if not r.ok][:1]
        return {
            "workflows": count,
            "requests": fake.count(),
            "requests_per_workflow": round(fake.count() / count, 4),
            "doc_tokens_in_prompts": sum(ledger),
            "doc_tokens_per_stage_max": max(ledger),
            "prompt_input_tokens": sum(r.usage.input_tokens for r in results),
            "seconds": round(elapsed, 3),
        }


def reduction(naive: dict[str, Any], ours: dict[str, Any], key: str) -> float:
    return round(1 - float(ours[key]) / float(naive[key]), 4)


async def scenario(workflows: int, concurrency: int, queries: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, count in (("one_workflow", 1), (f"{workflows}_workflows", workflows)):
        naive = await measure("naive", count, concurrency, queries)
        ours = await measure("podium", count, concurrency, queries)
        out[label] = {
            "naive": naive,
            "podium_context7": ours,
            "fewer_doc_tokens": reduction(naive, ours, "doc_tokens_in_prompts"),
            "fewer_requests": reduction(naive, ours, "requests"),
            "wall_ratio_vs_naive": round(ours["seconds"] / max(naive["seconds"], 1e-9), 4),
        }
    return out


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    same = dict.fromkeys(STAGES, "async sessions")
    per_stage = {"spec": "async sessions", "implement": "dependency injection", "review": "test fixtures"}
    seed = await scenario(args.workflows, args.concurrency, same)
    varied = await scenario(args.workflows, args.concurrency, per_stage)
    many = f"{args.workflows}_workflows"
    report = {
        "benchmark": "context7",
        "budget_tokens": BUDGET,
        "libraries": list(LIBRARIES),
        "stages": list(STAGES),
        "notes": (
            "naive gets library ids for free (no search requests); podium-context7 resolves names, "
            "so its counts include the searches"
        ),
        "same_query_every_stage": seed,
        "one_query_per_stage": varied,
        "targets": {
            "fewer_doc_tokens_one_workflow": 0.60,
            "fewer_requests_many_workflows": 0.95,
            "met": seed["one_workflow"]["fewer_doc_tokens"] >= 0.60
            and seed[many]["fewer_requests"] >= 0.95
            and varied["one_workflow"]["fewer_doc_tokens"] >= 0.60
            and varied[many]["fewer_requests"] >= 0.95,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    asyncio.run(main())
