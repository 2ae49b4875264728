"""The plugin as installed: discovered by its entry point, providing `openai`, closing its clients."""

from __future__ import annotations

from importlib.metadata import entry_points

import podium
from podium_openai import OpenAIAgent, build_agent
from podium_openai.testing import FakeOpenAI

from .conftest import agent_of, make_config


def test_the_entry_point_names_the_plugin_module() -> None:
    (point,) = [p for p in entry_points(group="podium") if p.name == "openai"]
    assert point.value == "podium_openai"


async def test_podium_register_providers_registers_the_anthropic_factory(engine: podium.Engine) -> None:
    assert engine.providers["openai"] is build_agent


async def test_stopping_the_engine_closes_the_sdk_clients(fake: FakeOpenAI) -> None:
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        agent: OpenAIAgent = agent_of(engine)
        await agent.complete("Hi")
        client = agent.client()
    assert client.is_closed()
