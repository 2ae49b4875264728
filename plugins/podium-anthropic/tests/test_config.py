"""Configuration: [plugins.anthropic], agent options, the environment, and every bad value named."""

from __future__ import annotations

import pytest

import podium
from podium_anthropic.testing import FakeAnthropic

from .conftest import API_KEY, agent_of, make_config


async def test_agent_options_win_over_the_plugin_section(fake: FakeAnthropic) -> None:
    async with podium.Engine(
        config=make_config(fake, max_tokens=111, cache_system=True), cache_url=False
    ) as engine:
        await agent_of(engine, system="S", cache_system=False).complete("Hi")
        await agent_of(engine, system="S").complete("Hi")
    assert fake.requests[0].body["max_tokens"] == 111
    assert fake.requests[0].body["system"] == "S"
    assert fake.requests[1].body["system"][0]["cache_control"] == {"type": "ephemeral"}


async def test_the_key_and_base_url_come_from_the_environment(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    async with podium.Engine(config=podium.Config({}), cache_url=False) as engine:
        reply = await agent_of(engine).complete("Hi")
    assert reply.text.startswith("Hello")
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_configured_values_win_over_the_environment(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/nowhere")
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        await agent_of(engine).complete("Hi")
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_no_key_anywhere_is_a_configuration_error_saying_where_to_put_one() -> None:
    async with podium.Engine(config=podium.Config({}), cache_url=False) as engine:
        with pytest.raises(podium.ConfigError) as info:
            agent_of(engine, name="planner")
    message = str(info.value)
    assert "agents.planner" in message and "ANTHROPIC_API_KEY" in message and "[plugins.anthropic]" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_tokenz": 10}, "unknown option 'max_tokenz' (known: api_key, base_url, timeout, max_tokens"),
        (
            {"temperature": 0.2},
            "'temperature' is not accepted by the Messages API (version 2026-10-21 removed",
        ),
        ({"max_tokens": 0}, "max_tokens must be > 0, got 0 @ agents.writer"),
        ({"max_tokens": "lots"}, "@ agents.writer.max_tokens"),
        ({"stream": "sometimes"}, "@ agents.writer.stream"),
        ({"base_url": "api.anthropic.com"}, "base_url must be an http(s) URL, got 'api.anthropic.com'"),
    ],
)
async def test_a_bad_agent_option_is_named_with_its_path_before_any_request(
    engine: podium.Engine, fake: FakeAnthropic, options: dict[str, object], expected: str
) -> None:
    with pytest.raises(podium.ConfigError) as info:
        agent_of(engine, **options)
    assert expected in str(info.value)
    assert fake.requests == []


async def test_a_call_may_not_change_the_client(engine: podium.Engine, fake: FakeAnthropic) -> None:
    with pytest.raises(
        podium.ConfigError, match=r"unknown option 'base_url' .*@ agent 'writer': complete\(\)"
    ):
        await agent_of(engine).complete("Hi", base_url="http://elsewhere")
    assert fake.requests == []


async def test_a_bad_plugin_section_fails_when_the_engine_starts() -> None:
    config = podium.Config({"plugins": {"anthropic": {"timeout": -1, "colour": "blue"}}})
    with pytest.raises(podium.ConfigError) as info:
        async with podium.Engine(config=config, cache_url=False):
            pass
    assert "config.plugins.anthropic" in str(info.value)


async def test_a_single_stop_sequence_must_still_be_a_list(engine: podium.Engine) -> None:
    with pytest.raises(
        podium.ConfigError, match=r"expected a list of strings, got 'END' @ agents.writer.stop_sequences"
    ):
        agent_of(engine, stop_sequences="END")
