"""A successful call: the reply, usage with cache reads and writes, cost, limits, the request sent."""

from __future__ import annotations

import asyncio

import pytest

import podium
from podium_anthropic.testing import FakeAnthropic

from .conftest import API_KEY, MODEL, agent_of, header, run_stage


async def test_a_reply_carries_text_usage_model_stop_reason_and_request_id(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    reply = await agent_of(engine).complete("Say hello.")

    assert reply.text == "Hello from the fake Messages API."
    assert reply.usage == podium.Usage(input_tokens=2, output_tokens=8, requests=1)
    assert reply.model == MODEL
    assert reply.stop_reason == "end_turn"
    assert reply.request_id is not None and reply.request_id.startswith("req_")


async def test_the_rate_limit_headers_come_back_as_limits(engine: podium.Engine, fake: FakeAnthropic) -> None:
    fake.requests_per_minute, fake.tokens_per_minute = 50, 40_000
    reply = await agent_of(engine).complete("Say hello.")

    assert reply.limits is not None and reply.limits.requests is not None and reply.limits.tokens is not None
    assert (reply.limits.requests.limit, reply.limits.requests.remaining) == (50, 49)
    assert (reply.limits.tokens.limit, reply.limits.tokens.remaining) == (40_000, 40_000 - 10)
    assert 0 < (reply.limits.requests.reset_s or 0) <= 62


async def test_a_cached_system_prompt_is_written_once_then_read(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    agent = agent_of(engine, system="You are a careful reviewer. " * 20, cache_system=True)
    first = await agent.complete("Review A.")
    second = await agent.complete("Review B.")

    assert fake.requests[0].body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert (first.usage.cache_write_tokens, first.usage.cache_read_tokens) == (140, 0)
    assert (second.usage.cache_write_tokens, second.usage.cache_read_tokens) == (0, 140)


async def test_a_prompt_marks_its_own_static_prefix_for_caching(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    prompt = podium.Prompt("Review A.", system="The house style guide.", cache_system=True)
    await agent_of(engine).complete(prompt)

    assert fake.requests[0].body["system"] == [
        {"type": "text", "text": "The house style guide.", "cache_control": {"type": "ephemeral"}}
    ]


async def test_an_uncached_system_prompt_is_sent_as_a_string(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    await agent_of(engine, system="Be brief.").complete("Hi")
    assert fake.requests[0].body["system"] == "Be brief."


async def test_earlier_turns_are_sent_before_the_prompt(engine: podium.Engine, fake: FakeAnthropic) -> None:
    prompt = podium.Prompt(
        "And now?", history=(podium.Message("user", "Hi"), podium.Message("assistant", "Hello"))
    )
    await agent_of(engine).complete(prompt)
    assert fake.requests[0].body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "And now?"},
    ]


async def test_a_stage_pays_cache_reads_at_the_cache_read_price(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    agent = agent_of(engine, system="x" * 4000, cache_system=True)
    await agent.complete("warm the cache")
    result = await run_stage(engine, agent, "Review.")

    usage = result["write"].usage
    assert usage.cache_read_tokens == 1000
    # claude-sonnet-4-6: $3/M input, $15/M output, $0.30/M cache reads
    expected = (usage.input_tokens * 3 + usage.output_tokens * 15 + 1000 * 0.30) / 1_000_000
    assert usage.cost_usd == pytest.approx(expected)


async def test_the_request_carries_the_key_as_bearer_and_the_api_version(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    await agent_of(engine).complete("Hi")
    assert header(fake, "authorization") == f"Bearer {API_KEY}"
    assert header(fake, "anthropic-version") == "2026-10-21"


async def test_call_options_override_the_agents_for_one_call(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    agent = agent_of(engine, max_tokens=100, stop_sequences=["END"])
    await agent.complete("Hi", max_tokens=5, system="Be terse.")
    await agent.complete("Hi")

    assert (fake.requests[0].body["max_tokens"], fake.requests[0].body["system"]) == (5, "Be terse.")
    assert fake.requests[0].body["stop_sequences"] == ["END"]
    assert fake.requests[1].body["max_tokens"] == 100 and "system" not in fake.requests[1].body


async def test_params_pass_further_api_fields_through(engine: podium.Engine, fake: FakeAnthropic) -> None:
    await agent_of(engine, params={"metadata": {"user_id": "u-1"}}).complete("Hi")
    assert fake.requests[0].body["metadata"] == {"user_id": "u-1"}


async def test_a_reply_cut_by_max_tokens_says_so(engine: podium.Engine, fake: FakeAnthropic) -> None:
    reply = await agent_of(engine, max_tokens=3).complete("Hi")
    assert (reply.stop_reason, reply.usage.output_tokens) == ("max_tokens", 3)


def test_the_agent_works_in_a_second_event_loop() -> None:
    # run_sync twice: each run has its own event loop, and the SDK client must follow it.
    with FakeAnthropic(api_key=API_KEY) as fake:
        config = podium.Config({"plugins": {"anthropic": {"api_key": API_KEY, "base_url": fake.url}}})
        engine = podium.Engine(config=config, cache_url=False)
        engine.register_plugins()
        agent = agent_of(engine)
        wf = podium.Workflow("twice", strategy="sequential")

        @wf.stage
        async def call() -> str:
            return (await agent.complete("Hi")).text

        results = [podium.run_sync(wf, config=config) for _ in range(2)]
        asyncio.run(agent.aclose())  # no engine owns this agent: its owner closes it
    assert [r.ok for r in results] == [True, True]
