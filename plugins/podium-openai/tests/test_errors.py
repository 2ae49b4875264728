"""Failures become podium.ProviderError: a kind that says whether to retry, after one attempt."""

from __future__ import annotations

import socket

import pytest

import podium
from podium import ProviderErrorKind as Kind
from podium.testing import HTTPReply
from podium_openai.testing import FakeOpenAI, openai_error

from .conftest import agent_of, make_config


async def failure(engine: podium.Engine, fake: FakeOpenAI, reply: HTTPReply) -> podium.ProviderError:
    fake.script(reply)
    with pytest.raises(podium.ProviderError) as info:
        await agent_of(engine).complete("Hi")
    assert fake.count("/v1/chat/completions") == 1, "the SDK's own retries are off: one attempt only"
    return info.value


async def test_a_429_is_transient_with_its_retry_after_and_limits(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    headers = {"retry-after": "20", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}
    reply = openai_error(429, "tokens", "Rate limit reached", code="rate_limit_exceeded", headers=headers)
    error = await failure(engine, fake, reply)

    assert (error.kind, error.transient, error.status, error.retry_after) == (
        Kind.RATE_LIMITED,
        True,
        429,
        20.0,
    )
    assert error.limits is not None and error.limits.tokens == podium.Quota(remaining=0, reset_s=360.0)
    assert error.request_id is not None and "Rate limit reached" in str(error)


async def test_retry_after_ms_is_read_in_milliseconds(engine: podium.Engine, fake: FakeOpenAI) -> None:
    reply = openai_error(429, "requests", "slow down", headers={"retry-after-ms": "250"})
    assert (await failure(engine, fake, reply)).retry_after == pytest.approx(0.25)


async def test_insufficient_quota_is_not_worth_retrying(engine: podium.Engine, fake: FakeOpenAI) -> None:
    reply = openai_error(
        429, "insufficient_quota", "You exceeded your current quota", code="insufficient_quota"
    )
    error = await failure(engine, fake, reply)
    assert (error.kind, error.transient) == (Kind.QUOTA_EXHAUSTED, False)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(503, Kind.OVERLOADED), (500, Kind.SERVER_ERROR), (502, Kind.SERVER_ERROR), (504, Kind.TIMEOUT)],
)
async def test_overload_and_server_errors_are_transient(
    engine: podium.Engine, fake: FakeOpenAI, status: int, kind: Kind
) -> None:
    error = await failure(engine, fake, openai_error(status, "server_error", "The server had an error"))
    assert (error.kind, error.transient, error.status) == (kind, True, status)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, Kind.BAD_REQUEST),
        (401, Kind.AUTHENTICATION),
        (403, Kind.PERMISSION),
        (404, Kind.NOT_FOUND),
        (422, Kind.BAD_REQUEST),
    ],
)
async def test_client_errors_are_permanent_with_the_servers_message(
    engine: podium.Engine, fake: FakeOpenAI, status: int, kind: Kind
) -> None:
    error = await failure(
        engine, fake, openai_error(status, "invalid_request_error", f"the server says {status}")
    )
    assert (error.kind, error.transient, error.status) == (kind, False, status)
    assert f"the server says {status}" in str(error)


async def test_a_wrong_key_is_an_authentication_error_without_the_key(fake: FakeOpenAI) -> None:
    async with podium.Engine(
        config=make_config(fake, api_key="sk-wrong-0123456789"), cache_url=False
    ) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine).complete("Hi")
    assert (info.value.kind, info.value.status) == (Kind.AUTHENTICATION, 401)
    assert "Incorrect API key provided: ********" in str(info.value)


async def test_a_hung_server_is_a_transient_timeout(fake: FakeOpenAI) -> None:
    fake.script(HTTPReply(delay=30))
    async with podium.Engine(config=make_config(fake, timeout=0.3), cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine).complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.TIMEOUT, True)


async def test_an_unreachable_server_is_a_transient_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = podium.Config({"plugins": {"openai": {"base_url": f"http://127.0.0.1:{port}/v1"}}})
    async with podium.Engine(config=config, cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine).complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.CONNECTION, True)
    assert str(info.value).startswith(f"could not reach http://127.0.0.1:{port}/v1/chat/completions: ")


async def test_the_quota_drains_in_the_headers_before_the_429_that_asks_to_wait(
    engine: podium.Engine, fake: FakeOpenAI
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
