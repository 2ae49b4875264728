"""ctx.docs through a real engine: documents, resolution, aliases, format, headers."""

from __future__ import annotations

import logging

import pytest

import podium
from podium_context7.snippets import SEPARATOR
from podium_context7.testing import FakeContext7, make_library

from .conftest import API_KEY, docs, make_config


async def test_one_document_per_library_with_resolved_id_and_total(engine: podium.Engine) -> None:
    bundle = await docs(engine, ["fastapi", "sqlalchemy", "pytest"], tokens=2400)

    assert [d.library for d in bundle.documents] == ["fastapi", "sqlalchemy", "pytest"]
    assert [d.library_id for d in bundle.documents] == [
        "/tiangolo/fastapi",
        "/sqlalchemy/sqlalchemy",
        "/pytest-dev/pytest",
    ]
    assert all(d.source == "network" and d.text and d.tokens > 0 for d in bundle.documents)
    assert bundle.tokens == sum(d.tokens for d in bundle.documents)
    assert bundle.ok
    assert bundle.budget == 2400
    assert bundle["sqlalchemy"].library_id == "/sqlalchemy/sqlalchemy"


async def test_explicit_ids_skip_resolution(engine: podium.Engine, fake: FakeContext7) -> None:
    bundle = await docs(engine, ["/tiangolo/fastapi", "/pytest-dev/pytest"])

    assert [d.library_id for d in bundle.documents] == ["/tiangolo/fastapi", "/pytest-dev/pytest"]
    assert fake.count("/v2/libs/search") == 0
    assert fake.count("/v2/context") == 2


async def test_aliases_pin_a_library_without_searching(fake: FakeContext7) -> None:
    config = make_config(fake, aliases={"fastapi": "/websites/fastapi_tiangolo"})
    async with podium.Engine(config=config) as engine:
        bundle = await docs(engine, ["fastapi"])

    assert bundle["fastapi"].library_id == "/websites/fastapi_tiangolo"
    assert fake.count("/v2/libs/search") == 0


async def test_resolution_prefers_finalized_then_name_trust_and_benchmark(
    fake: FakeContext7, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add(make_library("/acme/widgets-next", "Widgets", state="processing", trust=10, benchmark=99))
    fake.add(make_library("/acme/widgets-legacy", "Widgets", trust=6.0, benchmark=95))
    fake.add(make_library("/acme/widgets", "Widgets", trust=8.5, benchmark=70))
    fake.add(make_library("/other/widgets", "Widgets", trust=8.5, benchmark=75))
    caplog.set_level(logging.INFO, logger="podium")
    async with podium.Engine(config=make_config(fake)) as engine:
        bundle = await docs(engine, ["widgets"])

    assert bundle["widgets"].library_id == "/other/widgets"
    assert "'widgets' resolved to /other/widgets" in caplog.text


async def test_search_receives_the_library_name_and_the_query(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    await docs(engine, ["fastapi"], query="dependency injection")

    search = next(r for r in fake.requests if r.path == "/v2/libs/search")
    assert search.params == {"libraryName": "fastapi", "query": "dependency injection"}
    context = next(r for r in fake.requests if r.path == "/v2/context")
    assert context.params == {
        "libraryId": "/tiangolo/fastapi",
        "query": "dependency injection",
        "type": "json",
    }


async def test_requests_identify_the_client_and_carry_the_key(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    await docs(engine, ["/tiangolo/fastapi"])

    headers = fake.requests[0].headers
    assert headers["x-context7-source"] == "podium"
    assert headers["user-agent"].startswith("podium-context7/")
    assert headers["authorization"] == f"Bearer {API_KEY}"


async def test_anonymous_calls_send_no_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTEXT7_API_KEY", raising=False)
    with FakeContext7([make_library("/tiangolo/fastapi", "FastAPI")]) as fake:
        config = podium.Config({"plugins": {"context7": {"base_url": fake.url}}})
        async with podium.Engine(config=config) as engine:
            bundle = await docs(engine, ["/tiangolo/fastapi"])
    assert bundle.ok
    assert "authorization" not in fake.requests[0].headers


async def test_text_follows_context7_text_format(engine: podium.Engine) -> None:
    document = (await docs(engine, ["/tiangolo/fastapi"], tokens=3000))["/tiangolo/fastapi"]

    snippets = document.text.split(SEPARATOR)
    assert len(snippets) > 1
    assert SEPARATOR == "\n\n" + "-" * 32 + "\n\n"
    for snippet in snippets:
        assert snippet.startswith("### ")
        assert "\n\nSource: https://github.com/tiangolo/fastapi/" in snippet
    assert "```python\n" in document.text


async def test_repeated_libraries_in_one_call_are_fetched_once(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    bundle = await docs(engine, ["fastapi", "pytest", "fastapi", " pytest ", "FastAPI"])

    assert [d.library for d in bundle.documents] == ["fastapi", "pytest"]
    assert fake.count("/v2/context") == 2
    assert bundle.requests_coalesced == 3


async def test_without_a_budget_the_configured_default_applies(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake, default_tokens=700)) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"], tokens=None)
    assert bundle.budget == 700
    assert 0 < bundle.tokens <= 700


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"libraries": [], "query": "q"}, "needs at least one library"),
        ({"libraries": ["fastapi"], "query": "  "}, "query must be 1-500 characters"),
        ({"libraries": ["fastapi"], "query": "x" * 501}, "query must be 1-500 characters"),
        ({"libraries": ["fastapi"], "query": "q", "tokens": 0}, "tokens must be a positive integer"),
        ({"libraries": [""], "query": "q"}, "is not a library name or id"),
    ],
)
async def test_bad_calls_fail_the_stage_before_any_request(
    engine: podium.Engine, fake: FakeContext7, call: dict[str, object], message: str
) -> None:
    wf = podium.Workflow("bad")

    @wf.stage
    async def ask(ctx: podium.Context) -> podium.DocBundle:
        return await ctx.docs(**call)  # type: ignore[arg-type]

    result = await engine.run(wf)

    assert not result["ask"].ok
    assert "stage 'ask': ctx.docs" in str(result["ask"].error)
    assert message in str(result["ask"].error)
    assert fake.requests == []
