"""The plugin as installed: discovered by its entry point, providing `anthropic`, closing its clients."""

from __future__ import annotations

from importlib.metadata import entry_points

import podium
from podium_anthropic import AnthropicAgent, build_agent
from podium_anthropic.testing import FakeAnthropic

from .conftest import agent_of, make_config


def test_the_entry_point_names_the_plugin_module() -> None:
    (point,) = [p for p in entry_points(group="podium") if p.name == "anthropic"]
    assert point.value == "podium_anthropic"


async def test_podium_register_providers_registers_the_anthropic_factory(engine: podium.Engine) -> None:
    assert engine.providers["anthropic"] is build_agent


async def test_stopping_the_engine_closes_the_sdk_clients(fake: FakeAnthropic) -> None:
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        agent: AnthropicAgent = agent_of(engine)
        await agent.complete("Hi")
        client = agent.client()
    assert client.is_closed()
