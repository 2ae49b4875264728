"""Caching through the engine's cache backend: snippets per (library, query), resolutions for days."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import pytest

import podium
from podium_context7.testing import FakeContext7

from .conftest import docs, make_config, run_docs


async def test_the_same_library_and_query_is_served_from_cache_whatever_the_budget(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    first = await docs(engine, ["fastapi", "pytest"], tokens=1000)
    second = await docs(engine, ["fastapi", "pytest"], tokens=4000)

    assert fake.count() == 4
    assert second.requests_made == 0
    assert (second.requests_cached, second.requests_avoided) == (4, 4)
    assert [d.source for d in second.documents] == ["cache", "cache"]
    assert first.tokens <= 1000 < second.tokens <= 4000


async def test_a_different_query_fetches_again_but_reuses_the_resolution(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    await docs(engine, ["fastapi"], query="dependency injection")
    bundle = await docs(engine, ["fastapi"], query="background tasks")

    assert fake.count("/v2/libs/search") == 1
    assert fake.count("/v2/context") == 2
    assert (bundle.requests_made, bundle.requests_cached) == (1, 1)


async def test_documents_expire_after_their_ttl(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake, docs_ttl=0.2)) as engine:
        await docs(engine, ["/tiangolo/fastapi"])
        await asyncio.sleep(0.3)
        bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert bundle["/tiangolo/fastapi"].source == "network"
    assert fake.count("/v2/context") == 2


async def test_without_a_cache_every_call_asks_the_service(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        await docs(engine, ["fastapi"])
        bundle = await docs(engine, ["fastapi"])

    assert bundle.requests_cached == 0
    assert fake.count("/v2/libs/search") == 2
    assert fake.count("/v2/context") == 2


async def test_cache_hits_and_misses_are_announced_as_docs(fake: FakeContext7) -> None:
    events: list[tuple[str, str, podium.Usage | None]] = []

    class Listener:
        @podium.hookimpl
        def podium_cache_hit(self, kind: str, key: str, saved: podium.Usage) -> None:
            events.append(("hit", kind, saved))

        @podium.hookimpl
        def podium_cache_miss(self, kind: str, key: str) -> None:
            events.append(("miss", kind, None))

    config = make_config(fake, price_per_request=0.002)
    async with podium.Engine(config=config, plugins=[Listener()]) as engine:
        await docs(engine, ["/tiangolo/fastapi"])
        await docs(engine, ["/tiangolo/fastapi"])

    assert events == [("miss", "docs", None), ("hit", "docs", podium.Usage(requests=1, cost_usd=0.002))]


async def test_an_unreachable_cache_degrades_to_fetching(
    fake: FakeContext7, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"redis://127.0.0.1:{closed_port}/0"
    async with podium.Engine(config=make_config(fake), cache_url=url) as engine:
        first = await docs(engine, ["fastapi"])
        second = await docs(engine, ["fastapi"])

    assert first.ok
    assert second.ok
    assert fake.count("/v2/context") == 2
    assert "running uncached" in caplog.text


async def test_cache_keys_are_namespaced_and_hold_no_query_text(engine: podium.Engine) -> None:
    await docs(engine, ["fastapi"], query="secret project codename")

    keys: Sequence[str] = list(engine.result_cache.backend.snapshot())
    assert sorted({k.rsplit(":", 1)[0] for k in keys}) == ["podium:context7:docs", "podium:context7:resolve"]
    assert not any("codename" in k or "fastapi" in k for k in keys)


async def test_stages_of_one_workflow_share_the_cache(engine: podium.Engine, fake: FakeContext7) -> None:
    call = {"libraries": ["fastapi", "sqlalchemy", "pytest"], "query": "async sessions", "tokens": 2400}
    result = await run_docs(engine, [call, call, call])

    bundles = [result[f"stage{n}"].value for n in range(3)]
    assert [b.requests_made for b in bundles] == [6, 0, 0]
    assert [b.requests_cached for b in bundles] == [0, 6, 6]
    assert fake.count() == 6
