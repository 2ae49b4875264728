"""The API key reaches the service's Authorization header and nowhere else."""

from __future__ import annotations

import logging

import pytest

import podium
from podium_context7 import Context7Error, service_for
from podium_context7.testing import FakeContext7, Reply, make_library

from .conftest import API_KEY, docs, make_config


async def test_the_key_never_appears_in_logs_errors_reprs_or_cache_keys(
    fake: FakeContext7, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script(
        Reply(429, "rate_limit_exceeded", f"key {API_KEY} is over quota", headers={"Retry-After": "0"})
    )
    fake.script(Reply(401, "invalid_api_key", f"Invalid API key: {API_KEY}"), library="/pytest-dev/pytest")
    fake.script(Reply(500, body=f"<pre>Authorization: Bearer {API_KEY}</pre>"), library="sqlalchemy", times=9)
    async with podium.Engine(config=make_config(fake)) as engine:
        bundle = await docs(engine, ["fastapi", "/pytest-dev/pytest", "sqlalchemy"])
        service = service_for(engine)
        seen = [
            repr(engine.config.section("context7")),
            str(engine.config.section("context7")),
            repr(service),
            repr(service.client),
            repr(service.settings),
            repr(bundle),
            *(
                str(Context7Error(e.library, e.message, status=e.status, code=e.code))
                for e in bundle.failures
            ),
            *(f"{key} = {value}" for key, value in engine.result_cache.backend.snapshot().items()),
            *(f"{key} = {value}" for key, value, _ in engine.config.describe()),
        ]

    assert {e.library for e in bundle.failures} == {"/pytest-dev/pytest", "sqlalchemy"}
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert caplog.records, "the failures were logged"
    assert API_KEY not in caplog.text
    for text in seen:
        assert API_KEY not in text
    assert "Invalid API key: ********" in str(bundle.failures)


async def test_the_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeContext7([make_library("/tiangolo/fastapi", "FastAPI")], api_key=API_KEY) as fake:
        monkeypatch.setenv("CONTEXT7_API_KEY", API_KEY)
        monkeypatch.setenv("CONTEXT7_API_URL", fake.url)
        async with podium.Engine(config=podium.Config({})) as engine:
            bundle = await docs(engine, ["/tiangolo/fastapi"])
            described = {key: value for key, value, _ in engine.config.describe()}

    assert bundle.ok
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in repr(described)


async def test_configured_values_win_over_the_environment(
    fake: FakeContext7, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTEXT7_API_KEY", "ctx7sk-from-the-environment")
    monkeypatch.setenv("CONTEXT7_API_URL", "http://127.0.0.1:9/nowhere")
    async with podium.Engine(config=make_config(fake)) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert bundle.ok
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_config_shows_the_key_masked(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake)) as engine:
        described = {key: value for key, value, _ in engine.config.describe()}
    assert described["plugins.context7.api_key"] == "********"
