"""Fixtures: a fake Chat Completions server on 127.0.0.1 and agents of the real provider talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import podium
from podium_openai import OpenAIAgent
from podium_openai.testing import FakeOpenAI

API_KEY = "sk-proj-test-5ecret-0123456789abcdef"
MODEL = "gpt-5.1-mini"


@pytest.fixture(autouse=True)
def only_the_plugins_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines load this plugin and podium-sequential only, and no key leaks in from outside."""
    monkeypatch.setenv("PODIUM_LOAD_PLUGINS", "sequential,openai,otel")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=API_KEY, reply="Hello from the fake Chat Completions.") as server:
        yield server


def make_config(fake: FakeOpenAI, **section: Any) -> podium.Config:
    """A configuration pointing the provider at ``fake``, with a short timeout."""
    values: dict[str, Any] = {"api_key": API_KEY, "base_url": f"{fake.url}/v1", "timeout": 2.0, **section}
    return podium.Config({"strategy": "sequential", "plugins": {"openai": values}})


@pytest.fixture
async def engine(fake: FakeOpenAI) -> AsyncIterator[podium.Engine]:
    async with podium.Engine(config=make_config(fake), cache_url=False) as started:
        yield started


def agent_of(engine: podium.Engine, name: str = "writer", **options: Any) -> OpenAIAgent:
    """An agent built through the registered ``openai`` provider, as a declaration would."""
    spec = podium.AgentSpec(name, "openai", options.pop("model", MODEL), options)
    agent: OpenAIAgent = engine.providers["openai"](spec, engine.config)
    return agent
