"""Configuration: [plugins.openai], agent options, the environment, and every bad value named."""

from __future__ import annotations

import pytest

import podium
from podium_openai.testing import FakeOpenAI

from .conftest import API_KEY, agent_of, make_config


async def test_the_key_and_base_url_come_from_the_environment(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    async with podium.Engine(config=podium.Config({}), cache_url=False) as engine:
        await agent_of(engine).complete("Hi")
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_agent_options_win_over_the_plugin_section(fake: FakeOpenAI) -> None:
    async with podium.Engine(config=make_config(fake, max_tokens=99), cache_url=False) as engine:
        await agent_of(engine, max_tokens=7).complete("Hi")
        await agent_of(engine).complete("Hi")
    assert [r.body["max_completion_tokens"] for r in fake.requests] == [7, 99]


async def test_no_key_for_openais_own_api_is_a_configuration_error() -> None:
    async with podium.Engine(config=podium.Config({}), cache_url=False) as engine:
        with pytest.raises(podium.ConfigError) as info:
            agent_of(engine, name="coder")
    assert "agents.coder" in str(info.value) and "OPENAI_API_KEY" in str(info.value)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"temprature": 0.2}, "unknown option 'temprature' (known: api_key, base_url"),
        ({"max_tokens": -5}, "max_tokens must be > 0, got -5 @ agents.writer"),
        ({"max_tokens_field": "max_output"}, "@ agents.writer.max_tokens_field"),
        ({"stop": "END"}, "expected a list of strings, got 'END' @ agents.writer.stop"),
        ({"base_url": "localhost:8000"}, "base_url must be an http(s) URL, got 'localhost:8000'"),
    ],
)
async def test_a_bad_agent_option_is_named_with_its_path_before_any_request(
    engine: podium.Engine, fake: FakeOpenAI, options: dict[str, object], expected: str
) -> None:
    with pytest.raises(podium.ConfigError) as info:
        agent_of(engine, **options)
    assert expected in str(info.value)
    assert fake.requests == []


async def test_a_bad_plugin_section_fails_when_the_engine_starts() -> None:
    config = podium.Config({"plugins": {"openai": {"max_tokens_field": "tokens"}}})
    with pytest.raises(podium.ConfigError, match=r"config\.plugins\.openai\.max_tokens_field"):
        async with podium.Engine(config=config, cache_url=False):
            pass
