"""Streaming: text and usage from the chunks, an error inside a 200 mapped."""

from __future__ import annotations

import pytest

import podium
from podium import ProviderErrorKind as Kind
from podium.testing import HTTPReply
from podium_openai.testing import FakeOpenAI, stream_error

from .conftest import MODEL, agent_of, make_config


async def test_a_streamed_reply_has_the_text_and_the_usage_of_the_last_chunk(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    reply = await agent_of(engine, stream=True).complete("Say hello.")

    assert fake.requests[0].body["stream_options"] == {"include_usage": True}
    assert reply.text == "Hello from the fake Chat Completions."
    assert reply.usage == podium.Usage(input_tokens=2, output_tokens=9, requests=1)
    assert (reply.model, reply.stop_reason) == (MODEL, "end_turn")
    assert reply.limits is not None and reply.request_id is not None


async def test_an_error_inside_a_200_stream_is_mapped_by_its_type(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    fake.script(stream_error("server_error", "The model crashed"))
    with pytest.raises(podium.ProviderError) as info:
        await agent_of(engine).complete("Hi", stream=True)
    assert (info.value.kind, info.value.transient) == (Kind.SERVER_ERROR, True)
    assert "The model crashed" in str(info.value)


async def test_a_stream_that_stalls_after_its_200_is_a_transient_timeout(fake: FakeOpenAI) -> None:
    fake.script(HTTPReply(200, events=stream_error("server_error", "unused").events, stall_after=1))
    async with podium.Engine(config=make_config(fake, timeout=0.3), cache_url=False) as engine:
        with pytest.raises(podium.ProviderError) as info:
            await agent_of(engine, stream=True).complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.TIMEOUT, True)


async def test_a_stream_that_ends_before_a_choice_finishes_is_a_server_error(
    engine: podium.Engine, fake: FakeOpenAI
) -> None:
    fake.script(HTTPReply(200, events=stream_error("server_error", "unused").events[:-1]))
    with pytest.raises(podium.ProviderError) as info:
        await agent_of(engine, stream=True).complete("Hi")
    assert (info.value.kind, info.value.transient) == (Kind.SERVER_ERROR, True)
