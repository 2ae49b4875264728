"""Usage, cost and savings in the run; the doc-fetch event; one HTTP client per engine."""

from __future__ import annotations

import pytest

import podium
from podium_context7 import service_for
from podium_context7.testing import FakeContext7

from .conftest import docs, make_config, run_docs

CALL = {"libraries": ["fastapi", "sqlalchemy", "pytest"], "query": "async sessions", "tokens": 2400}


async def test_requests_and_their_price_feed_the_runs_usage_and_cost(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake, price_per_request=0.01)) as engine:
        result = await run_docs(engine, [CALL, CALL])

    assert result["stage0"].usage.requests == 6
    assert result["stage0"].usage.cost_usd == pytest.approx(0.06)
    assert result["stage1"].usage.requests == 0
    assert result.usage.requests == 6
    assert result.cost_usd == pytest.approx(0.06)
    assert result.saved.requests == 6
    assert result.saved_cost_usd == pytest.approx(0.06)


async def test_documentation_tokens_count_toward_the_agent_prompt(fake: FakeContext7) -> None:
    agent = podium.SimulatedAgent("done")
    wf = podium.Workflow("prompted")

    @wf.stage
    async def plan(ctx: podium.Context) -> str:
        bundle = await ctx.docs(["fastapi", "pytest"], query="testing dependencies", tokens=1200)
        reply = await ctx.agent("planner").complete(f"{bundle.text}\n\nPlan the change.")
        return reply.text

    async with podium.Engine(config=make_config(fake), agents={"planner": agent}) as engine:
        result = await engine.run(wf)

    assert result.ok
    assert 600 < result["plan"].usage.input_tokens <= 1200 + 50


async def test_doc_fetch_finished_carries_the_bundle_and_its_counters(fake: FakeContext7) -> None:
    seen: list[tuple[str, podium.DocBundle]] = []

    class Listener:
        @podium.hookimpl
        def podium_doc_fetch_ended(
            self, run: podium.RunState, stage: podium.Stage, bundle: podium.DocBundle
        ) -> None:
            seen.append((stage.name, bundle))

    async with podium.Engine(config=make_config(fake), plugins=[Listener()]) as engine:
        await run_docs(engine, [CALL, CALL])

    assert [name for name, _ in seen] == ["stage0", "stage1"]
    first, second = (bundle for _, bundle in seen)
    assert (first.requests_made, first.requests_avoided) == (6, 0)
    assert (second.requests_made, second.requests_cached, second.requests_avoided) == (0, 6, 6)
    assert first.tokens <= 2400
    assert first.tokens_cut > 0


async def test_each_engine_has_its_own_client_closed_when_it_stops(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake)) as one, podium.Engine(config=make_config(fake)) as two:
        first, second = service_for(one), service_for(two)
        assert first is not second
        await docs(one, ["/tiangolo/fastapi"])
        await docs(two, ["/tiangolo/fastapi"])
        assert not first.client.closed
    assert first.client.closed
    assert second.client.closed
    assert fake.count("/v2/context") == 2


async def test_one_engine_reuses_its_connections(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        service = service_for(engine)
        for _ in range(3):
            await docs(engine, ["/tiangolo/fastapi"])
        assert service_for(engine) is service
        assert service.client.requests == 3
