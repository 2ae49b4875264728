"""The API key reaches the request's auth header and nowhere else."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import podium
from podium_anthropic.testing import FakeAnthropic, anthropic_error
from podium_otel import OtelPlugin, OtelSettings

from .conftest import API_KEY, agent_of, make_config


async def test_the_key_never_appears_in_logs_spans_errors_reprs_or_cache_keys(
    fake: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exporter = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    otel = OtelPlugin(tracer_provider=tracing, settings=OtelSettings(capture_content=True))
    fake.script(anthropic_error(401, "authentication_error", f"invalid x-api-key: {API_KEY}"))
    async with podium.Engine(config=make_config(fake), plugins=[otel], cache_url=False) as engine:
        agent = agent_of(engine, cache_system=True, system="Be brief.")
        engine.agents.register("writer", agent)
        wf = podium.Workflow("secrets", strategy="sequential")

        @wf.stage
        async def refused(ctx: podium.Context) -> str:
            return (await ctx.agent("writer").complete("first")).text

        @wf.stage
        async def answered(ctx: podium.Context) -> str:
            return (await ctx.agent("writer").complete("second")).text

        result = await engine.run(wf)
        seen = [
            repr(agent),
            str(agent.settings),
            repr(engine.config.section("anthropic")),
            repr(result["refused"].error),
            str(result["refused"].error),
            podium.agent_key(agent.provider, agent.model, "second", agent.reply_options),
            *(f"{key} = {value}" for key, value, _ in engine.config.describe()),
        ]

    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert result["answered"].ok and not result["refused"].ok
    assert "invalid x-api-key: ********" in str(result["refused"].error)
    assert caplog.records, "the SDK and Podium logged the calls"
    assert API_KEY not in caplog.text
    spans = exporter.get_finished_spans()
    assert spans
    for span in spans:
        assert API_KEY not in repr(dict(span.attributes or {}))
        assert all(API_KEY not in repr(dict(event.attributes or {})) for event in span.events)
    for text in seen:
        assert API_KEY not in text
