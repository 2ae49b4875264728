"""End to end: `[agents.<name>] provider = "openai"` called from stages, through every agent
policy (limits fed by the headers, one retry loop, breaker and fallback, the agent-call cache,
cached prompt tokens), against the fake Chat Completions server with the real SDK client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

import podium
from podium.testing import HookRecorder, HTTPReply, MinuteQuota
from podium_openai.testing import FakeOpenAI, estimate_tokens, openai_error, stream_error

from .conftest import API_KEY, MODEL

#: Retries without the default one-second backoff, so that a test of three attempts is quick.
QUICK_RETRY = {"attempts": 3, "delay": 0.01}
#: USD per million tokens for the test's model (core's table prices Anthropic's models only).
PRICE = {"input": 0.25, "output": 2.0, "cache_read": 0.025}
REPLY = "Reviewed: looks right."

Engines = Callable[..., podium.Engine]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=API_KEY, reply=REPLY) as server:
        yield server


def configured(fake: FakeOpenAI, agents: Mapping[str, Mapping[str, Any]], **section: Any) -> podium.Config:
    """``[agents.*]`` as a user writes them, the provider pointed at the fake, the model priced."""
    plugin = {"api_key": API_KEY, "base_url": f"{fake.url}/v1", "timeout": 2.0, **section}
    return podium.Config({"agents": dict(agents), "plugins": {"openai": plugin}, "pricing": {MODEL: PRICE}})


def writer(**policies: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": MODEL, "max_tokens": 64, **policies}


def calls(recorder: HookRecorder) -> list[podium.AgentCall]:
    return [hook.kwargs["call"] for hook in recorder.of("podium_agent_call_ended")]


def calling(*prompts: str | podium.Prompt, together: bool = False) -> podium.Workflow:
    """One stage calling agent ``writer`` once per prompt, one after the other (or all at once)."""
    wf = podium.Workflow("review", strategy="sequential")

    @wf.stage
    async def review(ctx: podium.Context) -> list[str]:
        if together:
            replies = await asyncio.gather(*(ctx.agent("writer").complete(p) for p in prompts))
        else:
            replies = [await ctx.agent("writer").complete(p) for p in prompts]
        return [reply.text for reply in replies]

    return wf


async def test_a_declared_openai_agent_answers_a_stage_with_usage_and_cost_on_stage_and_run(
    fake: FakeOpenAI, podium_engine: Engines
) -> None:
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == [REPLY]
    usage = result["review"].usage
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (
        estimate_tokens("Review this patch."),
        estimate_tokens(REPLY),
        1,
    )
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 0.25 + usage.output_tokens * 2.0) / 1e6)
    assert result.usage == usage and result.cost_usd == pytest.approx(usage.cost_usd)


async def test_the_rate_limit_headers_make_calls_wait_instead_of_drawing_429s(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    # Three requests per (one-second) minute, and no limit declared: the headers alone slow it down.
    fake.quota = MinuteQuota(window_s=1.0)
    fake.requests_per_minute = 3
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling(*(f"patch {n}" for n in range(7))))

    assert result.ok and len(result["review"].value) == 7
    assert fake.statuses.count(429) == 0 and fake.quota.refused == 0
    assert [call.attempts for call in calls(podium_hook_recorder)] == [1] * 7
    arrivals = [seen.at for seen in fake.requests]
    assert arrivals[3] - arrivals[0] >= 1.0 and arrivals[6] - arrivals[3] >= 1.0


async def test_concurrent_calls_share_the_tokens_the_headers_said_are_left(
    fake: FakeOpenAI, podium_engine: Engines
) -> None:
    # A quota of tokens this time: each call draws its prompt and up to max_tokens.
    fake.quota = MinuteQuota(window_s=1.0)
    fake.tokens_per_minute = 30
    async with podium_engine(config=configured(fake, {"writer": writer(max_tokens=10)})) as engine:
        await engine.run(calling("first"))  # the server speaks once
        result = await engine.run(calling(*(f"patch {n}" for n in range(8)), together=True))

    assert result.ok and len(result["review"].value) == 8
    assert fake.statuses.count(429) == 0


async def test_a_429_is_retried_by_the_agent_layer_after_its_retry_after(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(
        openai_error(
            429, "requests", "Rate limit reached", code="rate_limit_exceeded", headers={"retry-after": "1"}
        )
    )
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == [REPLY]
    assert fake.statuses == [429, 200] and calls(podium_hook_recorder)[0].attempts == 2
    first, second = fake.requests
    assert second.at - first.at >= 1.0
    assert second.headers.get("x-stainless-retry-count") == "0"  # a new request: the SDK did not retry


@pytest.mark.parametrize(
    "failures",
    [
        [openai_error(503, "server_error", "The server is overloaded")],
        [HTTPReply(529, b"overloaded", {}), openai_error(500, "server_error", "Internal error")],
    ],
    ids=["503", "529-then-500"],
)
async def test_overload_and_server_errors_are_retried_until_the_call_succeeds(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder, failures: list[HTTPReply]
) -> None:
    fake.script(*failures)
    async with podium_engine(config=configured(fake, {"writer": writer(retry=QUICK_RETRY)})) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == [REPLY]
    assert fake.count("/v1/chat/completions") == len(failures) + 1
    assert calls(podium_hook_recorder)[0].attempts == len(failures) + 1


async def test_a_bad_request_fails_the_stage_at_once_with_the_servers_message(
    fake: FakeOpenAI, podium_engine: Engines
) -> None:
    fake.script(openai_error(400, "invalid_request_error", "max_completion_tokens is too large"))
    async with podium_engine(config=configured(fake, {"writer": writer(retry=QUICK_RETRY)})) as engine:
        result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.BAD_REQUEST
    assert str(error) == "agent 'writer': 400 invalid_request_error: max_completion_tokens is too large"
    assert fake.count("/v1/chat/completions") == 1


async def test_a_wrong_key_fails_the_stage_at_once_and_the_key_the_server_quoted_is_masked(
    fake: FakeOpenAI, podium_engine: Engines, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-proj-wrong-5ecret-fedcba9876543210"
    with caplog.at_level(logging.DEBUG, logger="podium"):
        async with podium_engine(config=configured(fake, {"writer": writer(api_key=wrong)})) as engine:
            result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.AUTHENTICATION
    assert str(error).startswith("agent 'writer': 401 invalid_api_key: Incorrect API key provided")
    assert fake.count("/v1/chat/completions") == 1
    text = f"{error!r} {caplog.text} {result!r}"
    assert wrong not in text and API_KEY not in text


async def test_a_server_that_never_answers_fails_the_stage_after_the_retries_with_a_clear_error(
    fake: FakeOpenAI, podium_engine: Engines
) -> None:
    fake.script(*[HTTPReply(delay=30)] * 3)
    config = configured(fake, {"writer": writer(retry=QUICK_RETRY)}, timeout=0.3)
    async with podium_engine(config=config) as engine:
        result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.TIMEOUT
    assert str(error) == "agent 'writer': no answer within 0.3 s (3 attempts)"
    assert fake.count("/v1/chat/completions") == 3


async def test_a_hung_server_times_out_and_the_retry_gets_the_answer(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(HTTPReply(delay=30))
    config = configured(fake, {"writer": writer(retry=QUICK_RETRY)}, timeout=0.3)
    async with podium_engine(config=config) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == [REPLY]
    assert calls(podium_hook_recorder)[0].attempts == 2


async def test_repeated_server_errors_open_the_breaker_and_the_fallback_answers(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(*[openai_error(500, "server_error", "The server had an error")] * 2)
    agents = {
        "writer": writer(retry=False, breaker={"failures": 2, "reset_s": 60}, fallback="backup"),
        "backup": {"provider": "simulated", "model": "claude-haiku-4-5", "reply": "Reviewed by the backup."},
    }
    async with podium_engine(config=configured(fake, agents)) as engine:
        result = await engine.run(calling("one", "two", "three"))

    assert result["review"].value == ["Reviewed by the backup."] * 3
    assert fake.count("/v1/chat/completions") == 2
    changes = [
        (h.kwargs["previous"], h.kwargs["state"]) for h in podium_hook_recorder.of("podium_breaker_changed")
    ]
    assert changes == [("closed", "open")]
    assert [call.fallback for call in calls(podium_hook_recorder)] == ["backup"] * 3


async def test_the_agent_call_cache_answers_a_repeated_prompt_without_a_second_request(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    async with podium_engine(config=configured(fake, {"writer": writer(cache=True)})) as engine:
        first = await engine.run(calling("Review this patch."))
        again = await engine.run(calling("Review this patch."))

    assert again["review"].value == first["review"].value
    assert fake.count("/v1/chat/completions") == 1
    assert [call.cached for call in calls(podium_hook_recorder)] == [False, True]
    assert again.usage.requests == 0 and again.saved.cost_usd == pytest.approx(first.cost_usd)


async def test_cached_prompt_tokens_of_a_repeated_prefix_are_priced_as_cache_reads(
    fake: FakeOpenAI, podium_engine: Engines
) -> None:
    prefix = "You review code: style, tests, naming. " * 30
    prompts = [podium.Prompt(f"Review {p}", system=prefix, cache_system=True) for p in ("a", "b")]
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling(*prompts))

    assert fake.requests[0].body["messages"][0] == {"role": "system", "content": prefix}
    usage = result.usage
    assert usage.cache_read_tokens == estimate_tokens(prefix)  # the second call's prefix
    expected = (usage.input_tokens * 0.25 + usage.output_tokens * 2.0 + usage.cache_read_tokens * 0.025) / 1e6
    assert usage.cost_usd == pytest.approx(expected)


async def test_an_error_inside_a_streamed_answer_is_retried_by_the_agent_layer(
    fake: FakeOpenAI, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(stream_error("server_error", "The model crashed"))
    agents = {"writer": writer(stream=True, retry=QUICK_RETRY)}
    async with podium_engine(config=configured(fake, agents)) as engine:
        result = await engine.run(calling("Write the design document."))

    assert result["review"].value == [REPLY]
    assert [seen.body.get("stream") for seen in fake.requests] == [True, True]
    assert calls(podium_hook_recorder)[0].attempts == 2
    assert result["review"].usage.requests == 1


async def test_an_exhausted_quota_fails_the_stage_with_one_request_and_no_retry(
    fake: FakeOpenAI, podium_engine: Engines
) -> None:
    fake.script(
        openai_error(429, "insufficient_quota", "You exceeded your current quota", code="insufficient_quota")
    )
    async with podium_engine(config=configured(fake, {"writer": writer(retry=QUICK_RETRY)})) as engine:
        result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.QUOTA_EXHAUSTED
    assert "You exceeded your current quota" in str(error) and str(error).startswith("agent 'writer': ")
    assert fake.count("/v1/chat/completions") == 1  # another request gets the same answer
