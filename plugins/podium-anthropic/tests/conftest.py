"""Fixtures: a fake Messages API on 127.0.0.1 and agents of the real provider talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

import podium
from podium_anthropic import AnthropicAgent
from podium_anthropic.testing import FakeAnthropic

API_KEY = "sk-ant-test-5ecret-0123456789abcdef"
MODEL = "claude-sonnet-4-6"


@pytest.fixture(autouse=True)
def only_the_plugins_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines load this plugin and podium-sequential only, and no key leaks in from outside."""
    monkeypatch.setenv("PODIUM_LOAD_PLUGINS", "sequential,anthropic,otel")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=API_KEY, reply="Hello from the fake Messages API.") as server:
        yield server


def make_config(fake: FakeAnthropic, **section: Any) -> podium.Config:
    """A configuration pointing the provider at ``fake``, with a short timeout."""
    values: dict[str, Any] = {"api_key": API_KEY, "base_url": fake.url, "timeout": 2.0, **section}
    return podium.Config({"strategy": "sequential", "plugins": {"anthropic": values}})


@pytest.fixture
async def engine(fake: FakeAnthropic) -> AsyncIterator[podium.Engine]:
    async with podium.Engine(config=make_config(fake), cache_url=False) as started:
        yield started


def agent_of(engine: podium.Engine, name: str = "writer", **options: Any) -> AnthropicAgent:
    """An agent built through the registered ``anthropic`` provider, as a declaration would."""
    spec = podium.AgentSpec(name, "anthropic", options.pop("model", MODEL), options)
    agent: AnthropicAgent = engine.providers["anthropic"](spec, engine.config)
    return agent


async def run_stage(
    engine: podium.Engine, agent: podium.Agent, prompt: str | podium.Prompt
) -> podium.RunResult:
    """A one-stage workflow calling ``agent`` through ``ctx.agent``, as stages do."""
    engine.agents.register("writer", agent)
    wf = podium.Workflow("one-call", strategy="sequential")

    @wf.stage
    async def write(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete(prompt)).text

    return await engine.run(wf)


def header(fake: FakeAnthropic, name: str, index: int = -1) -> str | None:
    headers: Mapping[str, str] = fake.requests[index].headers
    return headers.get(name)
