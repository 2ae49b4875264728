"""Failures become podium.ProviderError: a kind that says whether to retry, after one attempt."""

from __future__ import annotations

import socket

import pytest

import podium
from podium import ProviderErrorKind as Kind
from podium.testing import HTTPReply
from podium_anthropic.testing import FakeAnthropic, anthropic_error

from .conftest import agent_of, make_config


async def failure(engine: podium.Engine, fake: FakeAnthropic, reply: HTTPReply) -> podium.ProviderError:
    fake.script(reply)
    with pytest.raises(podium.ProviderError) as info:
        await agent_of(engine).complete("Hi")
    assert fake.count("/v1/messages") == 1, "the SDK's own retries are off: one attempt only"
    return info.value


async def test_a_429_is_transient_with_its_retry_after_and_limits(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    limits = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0"}
    error = await failure(
        engine,
        fake,
        anthropic_error(
            429, "rate_limit_error", "Too many requests", headers={"retry-after": "12", **limits}
        ),
    )

    assert (error.kind, error.transient, error.status, error.retry_after) == (
        Kind.RATE_LIMITED,
        True,
        429,
        12.0,
    )
    assert error.limits is not None and error.limits.requests == podium.Quota(limit=50, remaining=0)
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert "Too many requests" in str(error)


async def test_a_spend_limit_429_is_not_worth_retrying(engine: podium.Engine, fake: FakeAnthropic) -> None:
    reply = anthropic_error(429, "rate_limit_error", "Monthly cap", error_code="enforced_spend_limit_reached")
    error = await failure(engine, fake, reply)
    assert (error.kind, error.transient) == (Kind.QUOTA_EXHAUSTED, False)


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (529, "overloaded_error", Kind.OVERLOADED),
        (503, "api_error", Kind.SERVER_ERROR),
        (500, "api_error", Kind.SERVER_ERROR),
        (504, "timeout_error", Kind.TIMEOUT),
    ],
)
async def test_overload_and_server_errors_are_transient(
    engine: podium.Engine, fake: FakeAnthropic, status: int, error_type: str, kind: Kind
) -> None:
    error = await failure(engine, fake, anthropic_error(status, error_type, "Try again"))
    assert (error.kind, error.transient, error.status) == (kind, True, status)


async def test_a_503_without_an_error_type_is_an_overload(engine: podium.Engine, fake: FakeAnthropic) -> None:
    error = await failure(
        engine, fake, HTTPReply(503, b"upstream unavailable", {"content-type": "text/plain"})
    )
    assert (error.kind, error.transient) == (Kind.OVERLOADED, True)
    assert "upstream unavailable" in str(error)


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (400, "invalid_request_error", Kind.BAD_REQUEST),
        (401, "authentication_error", Kind.AUTHENTICATION),
        (403, "permission_error", Kind.PERMISSION),
        (404, "not_found_error", Kind.NOT_FOUND),
        (413, "request_too_large", Kind.BAD_REQUEST),
        (402, "billing_error", Kind.QUOTA_EXHAUSTED),
    ],
)
async def test_client_errors_are_permanent_with_the_apis_message(
    engine: podium.Engine, fake: FakeAnthropic, status: int, error_type: str, kind: Kind
) -> None:
    error = await failure(engine, fake, anthropic_error(status, error_type, f"the API says {status}"))
    assert (error.kind, error.transient, error.status) == (kind, False, status)
    assert f"the API says {status}" in str(error) and error_type in str(error)


async def test_a_wrong_key_is_an_authentication_error(fake: FakeAnthropic) -> None:
    async with podium.Engine(config=make_config(fake, api_key="sk-ant-wrong"), cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine).complete("Hi")
    assert (info.value.kind, info.value.status) == (Kind.AUTHENTICATION, 401)


async def test_an_html_error_page_is_a_server_error_with_its_text(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    error = await failure(
        engine, fake, HTTPReply(502, b"<html><h1>502 Bad Gateway</h1></html>", {"content-type": "text/html"})
    )
    assert (error.kind, error.status) == (Kind.SERVER_ERROR, 502)
    assert "502 Bad Gateway" in str(error)


async def test_a_hung_server_is_a_transient_timeout(fake: FakeAnthropic) -> None:
    fake.script(HTTPReply(delay=30))
    async with podium.Engine(config=make_config(fake, timeout=0.3), cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine).complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.TIMEOUT, True)
    assert "0.3 s" in str(info.value)


async def test_an_unreachable_api_is_a_transient_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = podium.Config(
        {"plugins": {"anthropic": {"api_key": "k", "base_url": f"http://127.0.0.1:{port}"}}}
    )
    async with podium.Engine(config=config, cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine).complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.CONNECTION, True)
    assert str(info.value).startswith(f"could not reach http://127.0.0.1:{port}/v1/messages: ")


async def test_a_failed_call_fails_only_its_stage(engine: podium.Engine, fake: FakeAnthropic) -> None:
    fake.script(anthropic_error(400, "invalid_request_error", "messages: bad"))
    engine.agents.register("writer", agent_of(engine))
    wf = podium.Workflow("two", strategy="sequential")

    @wf.stage
    async def first(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete("one")).text

    @wf.stage
    async def second(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete("two")).text

    result = await engine.run(wf)
    assert isinstance(result["first"].error, podium.ProviderError)
    assert result["second"].ok and result["second"].value.startswith("Hello")


async def test_the_quota_drains_in_the_headers_before_the_429_that_asks_to_wait(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    fake.requests_per_minute = 2
    agent = agent_of(engine)
    replies = [await agent.complete("one"), await agent.complete("two")]
    with pytest.raises(podium.ProviderError) as info:
        await agent.complete("three")

    remaining = [r.limits.requests.remaining for r in replies if r.limits and r.limits.requests]
    assert remaining == [1, 0]
    assert (info.value.kind, info.value.status) == (Kind.RATE_LIMITED, 429)
    assert info.value.retry_after is not None and 1 <= info.value.retry_after <= 60
