"""A successful call: the reply, usage with cached prompt tokens, limits, the request sent."""

from __future__ import annotations

import pytest

import podium
from podium_openai.testing import FakeOpenAI

from .conftest import API_KEY, MODEL, agent_of, make_config


async def test_a_reply_carries_text_usage_model_finish_reason_and_request_id(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    reply = await agent_of(engine).complete("Say hello.")

    assert reply.text == "Hello from the fake Chat Completions."
    assert reply.usage == podium.Usage(input_tokens=2, output_tokens=9, requests=1)
    assert (reply.model, reply.stop_reason) == (MODEL, "end_turn")
    assert reply.request_id is not None and reply.request_id.startswith("req_")


async def test_cached_prompt_tokens_are_cache_reads_not_input(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    agent = agent_of(engine, system="The house style guide. " * 20)
    await agent.complete("one")
    reply = await agent.complete("two")

    # prompt_tokens (116) includes cached_tokens (115): only the rest is uncached input.
    assert (reply.usage.input_tokens, reply.usage.cache_read_tokens) == (1, 115)


async def test_the_rate_limit_headers_come_back_as_limits(engine: podium.Engine, fake: FakeOpenAI) -> None:
    fake.requests_per_minute, fake.tokens_per_minute = 60, 30_000
    reply = await agent_of(engine).complete("Say hello.")

    assert reply.limits is not None and reply.limits.requests is not None and reply.limits.tokens is not None
    assert (reply.limits.requests.limit, reply.limits.requests.remaining) == (60, 59)
    assert (reply.limits.tokens.limit, reply.limits.tokens.remaining) == (30_000, 30_000 - 11)
    assert reply.limits.input_tokens is None  # OpenAI counts input and output together


async def test_the_request_carries_the_bearer_key_messages_and_max_tokens(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    prompt = podium.Prompt("And now?", system="Be brief.", history=(podium.Message("assistant", "Hi"),))
    await agent_of(engine, max_tokens=50, stop=["END"]).complete(prompt)
    sent = fake.requests[0]

    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "And now?"},
    ]
    assert (sent.body["max_completion_tokens"], sent.body["stop"]) == (50, ["END"])


async def test_an_older_server_gets_max_tokens_under_its_old_name(fake: FakeOpenAI) -> None:
    config = make_config(fake, max_tokens=64, max_tokens_field="max_tokens")
    async with podium.Engine(config=config, cache_url=False) as engine:
        await agent_of(engine).complete("Hi")
    assert fake.requests[0].body["max_tokens"] == 64 and "max_completion_tokens" not in fake.requests[0].body


async def test_params_pass_sampling_fields_through(engine: podium.Engine, fake: FakeOpenAI) -> None:
    await agent_of(engine, params={"temperature": 0.2, "seed": 7}).complete("Hi")
    assert (fake.requests[0].body["temperature"], fake.requests[0].body["seed"]) == (0.2, 7)


async def test_a_reply_cut_by_max_tokens_says_so(engine: podium.Engine) -> None:
    reply = await agent_of(engine, max_tokens=3).complete("Hi")
    assert (reply.stop_reason, reply.usage.output_tokens) == ("max_tokens", 3)


async def test_a_self_hosted_server_needs_no_key() -> None:
    with FakeOpenAI(reply="local") as server:
        config = podium.Config({"plugins": {"openai": {"base_url": f"{server.url}/v1"}}})
        async with podium.Engine(config=config, cache_url=False) as engine:
            reply = await agent_of(engine, model="llama3.2").complete("Hi")
    assert reply.text == "local"


async def test_a_stage_is_priced_from_the_configured_pricing_table(fake: FakeOpenAI) -> None:
    config = make_config(fake)
    config = podium.Config(
        {**config.data, "pricing": {MODEL: {"input": 1.0, "output": 4.0, "cache_read": 0.1}}}
    )
    async with podium.Engine(config=config, cache_url=False) as engine:
        engine.agents.register("writer", agent_of(engine))
        wf = podium.Workflow("priced", strategy="sequential")

        @wf.stage
        async def write(ctx: podium.Context) -> str:
            return (await ctx.agent("writer").complete("Hi")).text

        result = await engine.run(wf)
    usage = result["write"].usage
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 1.0 + usage.output_tokens * 4.0) / 1_000_000)
