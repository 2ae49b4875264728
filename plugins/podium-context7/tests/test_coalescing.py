"""Identical requests in flight at once run once; the rest run concurrently under the cap."""

from __future__ import annotations

import asyncio

import podium
from podium_context7.testing import FakeContext7, make_library

from .conftest import make_config, run_docs


async def test_concurrent_workflows_share_identical_requests(fake: FakeContext7) -> None:
    fake.delay = 0.2
    call = {"libraries": ["fastapi", "sqlalchemy", "pytest"], "query": "async sessions", "tokens": 2400}
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        results = await asyncio.gather(*(run_docs(engine, [call], name=f"wf{n}") for n in range(5)))

    bundles = [r["stage0"].value for r in results]
    assert fake.count("/v2/libs/search") == 3
    assert fake.count("/v2/context") == 3
    assert sum(b.requests_made for b in bundles) == 6
    assert sum(b.requests_coalesced for b in bundles) == 4 * 6
    sources = sorted({d.source for b in bundles for d in b.documents})
    assert sources == ["network", "shared"]
    assert all(b.tokens == bundles[0].tokens for b in bundles)


async def test_concurrent_calls_within_a_stage_share_requests(fake: FakeContext7) -> None:
    fake.delay = 0.2
    wf = podium.Workflow("gathered")

    @wf.stage
    async def both(ctx: podium.Context) -> list[podium.DocBundle]:
        return list(
            await asyncio.gather(
                ctx.docs(["/tiangolo/fastapi"], query="routing", tokens=500),
                ctx.docs(["/tiangolo/fastapi"], query="routing", tokens=1500),
            )
        )

    async with podium.Engine(config=make_config(fake)) as engine:
        small, large = (await engine.run(wf))["both"].value

    assert fake.count("/v2/context") == 1
    assert small.tokens <= 500 < large.tokens <= 1500
    assert sorted([small.documents[0].source, large.documents[0].source]) == ["network", "shared"]


async def test_callers_joining_a_failing_request_share_its_error(fake: FakeContext7) -> None:
    fake.delay = 0.2
    fake.libraries["/tiangolo/fastapi"].state = "processing"
    call = {"libraries": ["/tiangolo/fastapi"], "query": "q"}
    async with podium.Engine(config=make_config(fake)) as engine:
        results = await asyncio.gather(*(run_docs(engine, [call], name=f"wf{n}") for n in range(3)))

    errors = [r["stage0"].value.failures[0].code for r in results]
    assert errors == ["library_not_finalized"] * 3
    assert fake.count("/v2/context") == 1


async def test_requests_in_flight_never_exceed_the_concurrency_cap() -> None:
    libraries = [make_library(f"/owner/lib{n}", f"Lib{n}", total_tokens=500) for n in range(8)]
    with FakeContext7(libraries) as fake:
        fake.delay = 0.1
        async with podium.Engine(config=make_config(fake, concurrency=2, api_key="")) as engine:
            result = await run_docs(engine, [{"libraries": [lib.id for lib in libraries], "query": "q"}])

    assert len(result["stage0"].value.documents) == 8
    assert fake.peak == 2


async def test_the_fetches_of_one_call_run_concurrently() -> None:
    libraries = [make_library(f"/owner/lib{n}", f"Lib{n}", total_tokens=500) for n in range(4)]
    with FakeContext7(libraries) as fake:
        fake.delay = 0.2
        async with podium.Engine(config=make_config(fake, concurrency=4, api_key="")) as engine:
            await run_docs(engine, [{"libraries": [lib.id for lib in libraries], "query": "q"}])

    assert fake.peak == 4


async def test_a_cancelled_stage_does_not_cancel_the_request_others_wait_for(fake: FakeContext7) -> None:
    fake.delay = 0.3
    async with podium.Engine(config=make_config(fake)) as engine:
        impatient = podium.Workflow("impatient", timeout=0.1)

        @impatient.stage
        async def ask(ctx: podium.Context) -> podium.DocBundle:
            return await ctx.docs(["/tiangolo/fastapi"], query="q")

        call = {"libraries": ["/tiangolo/fastapi"], "query": "q"}
        cancelled, patient = await asyncio.gather(
            engine.run(impatient), run_docs(engine, [call], name="patient")
        )

    assert cancelled.status is podium.RunStatus.TIMED_OUT
    assert patient["stage0"].value.ok
    assert fake.count("/v2/context") == 1


async def test_a_request_nobody_waits_for_any_more_is_dropped_and_asked_again_later(
    fake: FakeContext7,
) -> None:
    fake.delay = 0.6
    impatient = podium.Workflow("alone", timeout=0.3)

    @impatient.stage
    async def ask(ctx: podium.Context) -> podium.DocBundle:
        return await ctx.docs(["/tiangolo/fastapi"], query="q")

    async with podium.Engine(config=make_config(fake)) as engine:
        timed_out = await engine.run(impatient)
        fake.delay = 0.0
        later = await run_docs(engine, [{"libraries": ["/tiangolo/fastapi"], "query": "q"}])

    assert timed_out.status is podium.RunStatus.TIMED_OUT
    assert later["stage0"].value["/tiangolo/fastapi"].source == "network"
    assert fake.count("/v2/context") == 2
