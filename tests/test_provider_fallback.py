"""One provider standing in for the other: a breaker on a Claude agent opens after repeated
server errors, and an OpenAI-compatible agent answers instead (both fakes on 127.0.0.1,
both SDKs' real clients)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import podium
from podium_anthropic.testing import FakeAnthropic, anthropic_error, estimate_tokens
from podium_openai.testing import FakeOpenAI, openai_error

ANTHROPIC_KEY = "sk-ant-fallback-5ecret"
OPENAI_KEY = "sk-proj-fallback-5ecret"


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=ANTHROPIC_KEY, reply="Claude reviewed it.") as fake:
        yield fake


@pytest.fixture
def local_model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=OPENAI_KEY, reply="The local model reviewed it.") as fake:
        yield fake


def config(claude: FakeAnthropic, local_model: FakeOpenAI, **local: object) -> podium.Config:
    """A Claude reviewer with a breaker, falling back to a local model (with ``local``'s policies)."""
    reviewer = {
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "max_tokens": 256,
        "retry": False,
        "breaker": {"failures": 2, "reset_s": 60},
        "fallback": "local",
    }
    return podium.Config(
        {
            "agents": {
                "reviewer": reviewer,
                "local": {"provider": "openai", "model": "llama3.2", "max_tokens": 256, **local},
            },
            "plugins": {
                "anthropic": {"api_key": ANTHROPIC_KEY, "base_url": claude.url, "timeout": 2},
                "openai": {"api_key": OPENAI_KEY, "base_url": f"{local_model.url}/v1", "timeout": 2},
            },
            "pricing": {"llama3.2": {"input": 0.0, "output": 0.0}},
        }
    )


def reviewing(count: int) -> podium.Workflow:
    wf = podium.Workflow("reviews", strategy="sequential")

    @wf.stage
    async def review(ctx: podium.Context) -> list[str]:
        return [(await ctx.agent("reviewer").complete(f"Review patch {n}")).text for n in range(count)]

    return wf


async def test_an_open_breaker_on_claude_sends_the_calls_to_the_openai_compatible_fallback(
    claude: FakeAnthropic, local_model: FakeOpenAI
) -> None:
    claude.script(*[anthropic_error(529, "overloaded_error", "Overloaded")] * 2)
    async with podium.Engine(config=config(claude, local_model), cache_url=False) as engine:
        result = await engine.run(reviewing(4))
        breaker = (await engine.agents.managed("reviewer").describe())["breaker"]

    assert result["review"].value == ["The local model reviewed it."] * 4
    assert claude.count("/v1/messages") == 2  # the open circuit sends nothing more to Claude
    assert local_model.count("/v1/chat/completions") == 4
    assert breaker["state"] == "open" and "529 overloaded_error: Overloaded" in breaker["last_error"]


async def test_the_fallback_calls_usage_is_recorded_under_the_model_that_answered(
    claude: FakeAnthropic, local_model: FakeOpenAI
) -> None:
    claude.script(anthropic_error(500, "api_error", "Internal server error"))
    async with podium.Engine(config=config(claude, local_model), cache_url=False) as engine:
        result = await engine.run(reviewing(2))

    usage = result["review"].usage
    assert result["review"].value == ["The local model reviewed it.", "Claude reviewed it."]
    assert usage.requests == 2  # the failed request to Claude cost nothing
    local = local_model.requests[0].body
    assert local["model"] == "llama3.2"
    # Claude's answer priced at claude-sonnet-4-6's rates, the local model's at its own (0)
    claude_usage = podium.Usage(
        input_tokens=usage.input_tokens - estimate_tokens("Review patch 0"),
        output_tokens=estimate_tokens("Claude reviewed it."),
    )
    assert usage.cost_usd == pytest.approx(
        (claude_usage.input_tokens * 3 + claude_usage.output_tokens * 15) / 1e6
    )


async def test_when_the_fallback_fails_too_the_stage_fails_with_its_error(
    claude: FakeAnthropic, local_model: FakeOpenAI
) -> None:
    claude.script(anthropic_error(529, "overloaded_error", "Overloaded"))
    local_model.script(openai_error(503, "server_error", "The server is overloaded"))
    async with podium.Engine(config=config(claude, local_model, retry=False), cache_url=False) as engine:
        result = await engine.run(reviewing(1))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.provider == "openai"
    assert str(error) == "agent 'local': 503 server_error: The server is overloaded"
