"""Streaming: transparent when max_tokens needs it, usage accumulated, errors inside a 200 mapped."""

from __future__ import annotations

import pytest

import podium
from podium import ProviderErrorKind as Kind
from podium.testing import HTTPReply
from podium_anthropic import NONSTREAMING_MAX_TOKENS
from podium_anthropic.testing import FakeAnthropic, stream_error

from .conftest import MODEL, agent_of, make_config


async def test_a_max_tokens_too_large_for_one_response_streams_transparently(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    reply = await agent_of(engine, max_tokens=64_000).complete("Write a long essay.")

    assert fake.requests[0].body["stream"] is True
    assert reply.text == "Hello from the fake Messages API."
    assert reply.usage == podium.Usage(input_tokens=4, output_tokens=8, requests=1)
    assert (reply.model, reply.stop_reason) == (MODEL, "end_turn")
    assert reply.limits is not None and reply.request_id is not None


async def test_a_small_max_tokens_does_not_stream(engine: podium.Engine, fake: FakeAnthropic) -> None:
    await agent_of(engine, max_tokens=NONSTREAMING_MAX_TOKENS).complete("Hi")
    assert "stream" not in fake.requests[0].body


async def test_a_streamed_reply_reports_cache_reads(engine: podium.Engine, fake: FakeAnthropic) -> None:
    agent = agent_of(engine, stream="always", system="y" * 400, cache_system=True)
    await agent.complete("one")
    reply = await agent.complete("two")
    assert (reply.usage.cache_read_tokens, reply.usage.cache_write_tokens) == (100, 0)


async def test_an_error_event_after_a_200_is_mapped_by_its_type(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    fake.script(stream_error("overloaded_error", "Overloaded"))
    with pytest.raises(podium.ProviderError) as info:
        await agent_of(engine, stream="always").complete("Hi")
    assert (info.value.kind, info.value.transient, info.value.status) == (Kind.OVERLOADED, True, 200)
    assert "Overloaded" in str(info.value)


async def test_never_streaming_a_reply_that_needs_it_is_a_configuration_error(fake: FakeAnthropic) -> None:
    # The SDK's guard applies with its default timeout (600 s, 5 s to connect).
    async with podium.Engine(config=make_config(fake, timeout=600), cache_url=False) as engine:
        with pytest.raises(podium.ConfigError, match="max_tokens = 64000 needs a streamed response"):
            await agent_of(engine, max_tokens=64_000, stream="never").complete("Hi")
    assert fake.requests == []


async def test_a_stream_that_stalls_after_its_200_is_a_transient_timeout(fake: FakeAnthropic) -> None:
    fake.script(HTTPReply(200, events=stream_error("overloaded_error", "unused").events, stall_after=2))
    async with podium.Engine(config=make_config(fake, timeout=0.3), cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine, stream="always").complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.TIMEOUT, True)
    assert "the stream sent nothing for 0.3 s" in str(info.value)


async def test_a_stream_that_ends_before_the_message_is_a_server_error(
    engine: podium.Engine, fake: FakeAnthropic
) -> None:
    events = stream_error("overloaded_error", "unused").events
    fake.script(HTTPReply(200, events=events[:-1]))  # message_start and text, then the end
    with pytest.raises(podium.ProviderError) as info:
        await agent_of(engine, stream="always").complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.SERVER_ERROR, True)
