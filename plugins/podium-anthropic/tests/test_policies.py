"""End to end: `[agents.<name>] provider = "anthropic"` called from stages, through every agent
policy (limits fed by the headers, one retry loop, breaker and fallback, the agent-call cache,
prompt caching), against the fake Messages API with the real SDK client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

import podium
from podium.testing import HookRecorder, HTTPReply, MinuteQuota
from podium_anthropic.testing import FakeAnthropic, anthropic_error, estimate_tokens, stream_error

from .conftest import API_KEY, MODEL

#: Retries without the default one-second backoff, so that a test of three attempts is quick.
QUICK_RETRY = {"attempts": 3, "delay": 0.01}

Engines = Callable[..., podium.Engine]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=API_KEY, reply="Reviewed: looks right.") as server:
        yield server


def configured(fake: FakeAnthropic, agents: Mapping[str, Mapping[str, Any]], **section: Any) -> podium.Config:
    """``[agents.*]`` as a user writes them, the provider pointed at the fake."""
    plugin = {"api_key": API_KEY, "base_url": fake.url, "timeout": 2.0, **section}
    return podium.Config({"agents": dict(agents), "plugins": {"anthropic": plugin}})


def writer(**policies: Any) -> dict[str, Any]:
    return {"provider": "anthropic", "model": MODEL, "max_tokens": 64, **policies}


def calls(recorder: HookRecorder) -> list[podium.AgentCall]:
    return [hook.kwargs["call"] for hook in recorder.of("podium_agent_call_ended")]


def calling(*prompts: str, agent: str = "writer", together: bool = False) -> podium.Workflow:
    """One stage calling ``agent`` once per prompt, one after the other (or all at once)."""
    wf = podium.Workflow("review", strategy="sequential")

    @wf.stage
    async def review(ctx: podium.Context) -> list[str]:
        if together:
            replies = await asyncio.gather(*(ctx.agent(agent).complete(p) for p in prompts))
        else:
            replies = [await ctx.agent(agent).complete(p) for p in prompts]
        return [reply.text for reply in replies]

    return wf


async def test_a_declared_anthropic_agent_answers_a_stage_with_usage_and_cost_on_stage_and_run(
    fake: FakeAnthropic, podium_engine: Engines
) -> None:
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == ["Reviewed: looks right."]
    usage = result["review"].usage
    asked = fake.requests[0].body["messages"][0]["content"]
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (
        estimate_tokens(asked),
        estimate_tokens("Reviewed: looks right."),
        1,
    )
    # claude-sonnet-4-6: $3 per million input tokens, $15 per million output tokens
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 3 + usage.output_tokens * 15) / 1e6)
    assert result.usage == usage and result.cost_usd == pytest.approx(usage.cost_usd)


async def test_the_rate_limit_headers_make_calls_wait_instead_of_drawing_429s(
    fake: FakeAnthropic, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    # Three requests per (two-second) minute, and no limit declared: the headers alone slow it down.
    fake.quota = MinuteQuota(window_s=2.0)
    fake.requests_per_minute = 3
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling(*(f"patch {n}" for n in range(7))))

    assert result.ok and len(result["review"].value) == 7
    assert fake.statuses.count(429) == 0 and fake.quota.refused == 0
    assert [call.attempts for call in calls(podium_hook_recorder)] == [1] * 7
    arrivals = [seen.at for seen in fake.requests]
    assert arrivals[3] - arrivals[0] >= 2.0 and arrivals[6] - arrivals[3] >= 2.0


async def test_concurrent_calls_share_what_the_headers_said_is_left(
    fake: FakeAnthropic, podium_engine: Engines
) -> None:
    fake.quota = MinuteQuota(window_s=2.0)
    fake.requests_per_minute = 3
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        await engine.run(calling("first"))  # the provider speaks once
        result = await engine.run(calling(*(f"patch {n}" for n in range(8)), together=True))
        reported = (await engine.agents.managed("writer").describe())["reported"]

    assert result.ok and len(result["review"].value) == 8
    assert fake.statuses.count(429) == 0
    assert reported["requests"]["limit"] == 3


async def test_a_429_is_retried_by_the_agent_layer_after_its_retry_after(
    fake: FakeAnthropic, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(anthropic_error(429, "rate_limit_error", "Slow down", headers={"retry-after": "1"}))
    async with podium_engine(config=configured(fake, {"writer": writer()})) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == ["Reviewed: looks right."]
    assert fake.statuses == [429, 200] and calls(podium_hook_recorder)[0].attempts == 2
    first, second = fake.requests
    assert second.at - first.at >= 1.0  # the wait the API asked for, honoured
    assert second.headers.get("x-stainless-retry-count") == "0"  # a new request: the SDK did not retry
    assert result["review"].usage.requests == 1  # the refused request cost nothing


@pytest.mark.parametrize(
    "failures",
    [
        [anthropic_error(529, "overloaded_error", "Overloaded")],
        [anthropic_error(503, "api_error", "Service unavailable")],
        [anthropic_error(529, "overloaded_error", "Overloaded"), HTTPReply(503, b"upstream down", {})],
    ],
    ids=["529", "503", "529-then-503"],
)
async def test_overload_and_unavailability_are_retried_until_the_call_succeeds(
    fake: FakeAnthropic,
    podium_engine: Engines,
    podium_hook_recorder: HookRecorder,
    failures: list[HTTPReply],
) -> None:
    fake.script(*failures)
    async with podium_engine(config=configured(fake, {"writer": writer(retry=QUICK_RETRY)})) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == ["Reviewed: looks right."]
    assert fake.count("/v1/messages") == len(failures) + 1
    assert calls(podium_hook_recorder)[0].attempts == len(failures) + 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            anthropic_error(400, "invalid_request_error", "messages: roles must alternate"),
            "agent 'writer': 400 invalid_request_error: messages: roles must alternate",
        ),
        (
            anthropic_error(401, "authentication_error", "invalid x-api-key"),
            "agent 'writer': 401 authentication_error: invalid x-api-key",
        ),
    ],
    ids=["400", "401"],
)
async def test_a_client_error_fails_the_stage_at_once_with_the_apis_message_and_no_key(
    fake: FakeAnthropic,
    podium_engine: Engines,
    caplog: pytest.LogCaptureFixture,
    reply: HTTPReply,
    message: str,
) -> None:
    fake.script(reply)
    with caplog.at_level(logging.DEBUG, logger="podium"):
        async with podium_engine(config=configured(fake, {"writer": writer(retry=QUICK_RETRY)})) as engine:
            result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert result["review"].status is podium.StageStatus.FAILED
    assert isinstance(error, podium.ProviderError) and not error.transient
    assert str(error) == message
    assert fake.count("/v1/messages") == 1  # never retried
    assert API_KEY not in f"{error!r} {caplog.text} {result!r}"


async def test_a_wrong_key_fails_the_stage_with_the_apis_message_and_neither_key(
    fake: FakeAnthropic, podium_engine: Engines, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-ant-wrong-5ecret-fedcba9876543210"
    with caplog.at_level(logging.DEBUG, logger="podium"):
        async with podium_engine(config=configured(fake, {"writer": writer(api_key=wrong)})) as engine:
            result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.AUTHENTICATION
    assert str(error) == "agent 'writer': 401 authentication_error: invalid x-api-key"
    assert fake.count("/v1/messages") == 1
    text = f"{error!r} {caplog.text} {result!r}"
    assert wrong not in text and API_KEY not in text


async def test_a_hung_server_times_out_and_the_retry_gets_the_answer(
    fake: FakeAnthropic, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(HTTPReply(delay=30))
    config = configured(fake, {"writer": writer(retry=QUICK_RETRY)}, timeout=0.3)
    async with podium_engine(config=config) as engine:
        result = await engine.run(calling("Review this patch."))

    assert result["review"].value == ["Reviewed: looks right."]
    assert calls(podium_hook_recorder)[0].attempts == 2


async def test_a_server_that_never_answers_fails_the_stage_after_the_retries_with_a_clear_error(
    fake: FakeAnthropic, podium_engine: Engines
) -> None:
    fake.script(*[HTTPReply(delay=30)] * 3)
    config = configured(fake, {"writer": writer(retry=QUICK_RETRY)}, timeout=0.3)
    async with podium_engine(config=config) as engine:
        result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.TIMEOUT
    assert str(error) == "agent 'writer': no answer within 0.3 s (3 attempts)"
    assert fake.count("/v1/messages") == 3


async def test_repeated_server_errors_open_the_breaker_and_the_fallback_answers(
    fake: FakeAnthropic, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    fake.script(*[anthropic_error(500, "api_error", "Internal server error")] * 2)
    agents = {
        "writer": writer(retry=False, breaker={"failures": 2, "reset_s": 60}, fallback="backup"),
        "backup": {"provider": "simulated", "model": "claude-haiku-4-5", "reply": "Reviewed by the backup."},
    }
    async with podium_engine(config=configured(fake, agents)) as engine:
        result = await engine.run(calling("one", "two", "three"))

    assert result["review"].value == ["Reviewed by the backup."] * 3
    assert fake.count("/v1/messages") == 2  # the third call never reached the open circuit
    changes = [
        (h.kwargs["previous"], h.kwargs["state"]) for h in podium_hook_recorder.of("podium_breaker_changed")
    ]
    assert changes == [("closed", "open")]
    assert [call.fallback for call in calls(podium_hook_recorder)] == ["backup"] * 3


async def test_the_agent_call_cache_answers_a_repeated_prompt_without_a_second_request(
    fake: FakeAnthropic, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    async with podium_engine(config=configured(fake, {"writer": writer(cache=True)})) as engine:
        first = await engine.run(calling("Review this patch."))
        again = await engine.run(calling("Review this patch."))

    assert again["review"].value == first["review"].value
    assert fake.count("/v1/messages") == 1
    assert [call.cached for call in calls(podium_hook_recorder)] == [False, True]
    assert again.usage.requests == 0 and again.saved.cost_usd == pytest.approx(first.cost_usd)


@pytest.mark.parametrize("written_as", ["template", "prompt"])
async def test_a_cached_system_prefix_is_read_from_the_apis_cache_and_priced_as_cache_reads(
    fake: FakeAnthropic, podium_engine: Engines, written_as: str
) -> None:
    prefix = "You review code: style, tests, naming. " * 30
    config = configured(fake, {"writer": writer()})
    config = podium.Config(
        {**config.data, "templates": {"review": {"prefix": prefix, "body": "Review:\n{patch}"}}}
    )
    wf = podium.Workflow("templated", strategy="sequential")

    def prompt(ctx: podium.Context, patch: str) -> podium.Prompt:
        if written_as == "template":
            return ctx.template("review").render(patch=patch)
        return podium.Prompt(f"Review:\n{patch}", system=prefix, cache_system=True)

    @wf.stage
    async def check(ctx: podium.Context) -> list[podium.Usage]:
        return [(await ctx.agent("writer").complete(prompt(ctx, p))).usage for p in ("a", "b")]

    async with podium_engine(config=config) as engine:
        result = await engine.run(wf)

    cached = estimate_tokens(prefix)
    assert [seen.body["system"] for seen in fake.requests] == [
        [{"type": "text", "text": prefix, "cache_control": {"type": "ephemeral"}}]
    ] * 2
    first, second = result["check"].value
    assert (first.cache_write_tokens, first.cache_read_tokens) == (cached, 0)
    assert (second.cache_write_tokens, second.cache_read_tokens) == (0, cached)
    usage = result.usage
    assert usage.cache_read_tokens == cached
    # claude-sonnet-4-6: input $3, output $15, cache read $0.30, cache write $3.75 per million
    expected = (usage.input_tokens * 3 + usage.output_tokens * 15 + cached * 0.30 + cached * 3.75) / 1e6
    assert usage.cost_usd == pytest.approx(expected)


async def test_an_overload_inside_a_streamed_answer_is_retried_by_the_agent_layer(
    fake: FakeAnthropic, podium_engine: Engines, podium_hook_recorder: HookRecorder
) -> None:
    # max_tokens this large is streamed; the API's error event comes after its 200.
    fake.script(stream_error("overloaded_error", "Overloaded"))
    agents = {"writer": writer(max_tokens=64_000, retry=QUICK_RETRY)}
    async with podium_engine(config=configured(fake, agents)) as engine:
        result = await engine.run(calling("Write the design document."))

    assert result["review"].value == ["Reviewed: looks right."]
    assert [seen.body.get("stream") for seen in fake.requests] == [True, True]
    assert calls(podium_hook_recorder)[0].attempts == 2
    assert result["review"].usage.requests == 1


async def test_a_spent_monthly_limit_fails_the_stage_with_one_request_and_no_retry(
    fake: FakeAnthropic, podium_engine: Engines
) -> None:
    fake.script(
        anthropic_error(
            429, "rate_limit_error", "Monthly spend limit reached", error_code="enforced_spend_limit_reached"
        )
    )
    async with podium_engine(config=configured(fake, {"writer": writer(retry=QUICK_RETRY)})) as engine:
        result = await engine.run(calling("Review this patch."))

    error = result["review"].error
    assert isinstance(error, podium.ProviderError) and error.kind is podium.ProviderErrorKind.QUOTA_EXHAUSTED
    assert "Monthly spend limit reached" in str(error) and str(error).startswith("agent 'writer': ")
    assert fake.count("/v1/messages") == 1  # retrying cannot help until the next month
