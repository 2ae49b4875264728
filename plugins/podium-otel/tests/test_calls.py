"""Spans inside a stage: agent calls (GenAI conventions), doc fetches, threads, the caller's trace."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

import podium
from podium import SimulatedAgent

FANOUT = "otel-test-fanout"
SONNET = "claude-sonnet-4-5"


def agents() -> dict[str, podium.Agent]:
    return {"writer": SimulatedAgent("draft text", model=SONNET, input_tokens=100, output_tokens=40)}


async def test_agent_call_spans_follow_the_genai_semantic_conventions(
    telemetry: Any, make_engine: Any
) -> None:
    wf = podium.Workflow("ask", strategy=FANOUT)

    @wf.stage
    async def answer(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete("question", max_tokens=512, temperature=0.2)).text

    async with make_engine(agents=agents()) as engine:
        result = await engine.run(wf)

    call = telemetry.span("chat " + SONNET)
    assert call.kind is SpanKind.CLIENT
    assert dict(call.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "simulated",
        "gen_ai.request.model": SONNET,
        "gen_ai.request.max_tokens": 512,
        "gen_ai.request.temperature": 0.2,
        "podium.agent.name": "writer",
        "gen_ai.response.model": SONNET,
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 40,
        "podium.usage.cost_usd": result.cost_usd,
    }


async def test_a_failed_agent_call_span_records_the_error(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("ask", strategy=FANOUT)

    @wf.stage
    async def answer(ctx: podium.Context) -> str:
        return (await ctx.agent("flaky").complete("question")).text

    async with make_engine(agents={"flaky": SimulatedAgent(fail_on=[1])}) as engine:
        await engine.run(wf)

    call = telemetry.span("chat claude-sonnet-4-5")
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes["error.type"] == "SimulatedAgentError"
    assert "gen_ai.usage.input_tokens" not in call.attributes
    assert telemetry.parent_name(call) == "stage answer"


async def test_capture_content_records_prompts_replies_and_doc_queries(
    telemetry: Any, make_engine: Any, docs_plugin: Any
) -> None:
    wf = podium.Workflow("ask", strategy=FANOUT)

    @wf.stage
    async def answer(ctx: podium.Context) -> str:
        await ctx.docs(["fastapi"], query="routing")
        return (await ctx.agent("writer").complete("x" * 50)).text

    async with make_engine(
        agents=agents(), extra=[docs_plugin], capture_content=True, content_max_chars=10
    ) as engine:
        await engine.run(wf)

    call = telemetry.span("chat " + SONNET)
    assert call.attributes["gen_ai.input.messages"] == (
        '[{"role": "user", "parts": [{"type": "text", "content": "xxxxxxxxxx\\u2026"}]}]'
    )
    assert '"content": "draft text"' in call.attributes["gen_ai.output.messages"]
    assert telemetry.span("fetch docs").attributes["podium.docs.query"] == "routing"


async def test_a_doc_fetch_is_a_client_span_under_its_stage(
    telemetry: Any, make_engine: Any, docs_plugin: Any
) -> None:
    wf = podium.Workflow("docs", strategy=FANOUT)

    @wf.stage
    async def gather(ctx: podium.Context) -> int:
        bundle = await ctx.docs(["fastapi", "pytest", "missing"], query="q", tokens=2400)
        return bundle.tokens

    async with make_engine(extra=[docs_plugin]) as engine:
        await engine.run(wf)

    fetch = telemetry.span("fetch docs")
    assert fetch.kind is SpanKind.CLIENT
    assert telemetry.parent_name(fetch) == "stage gather"
    assert dict(fetch.attributes) == {
        "podium.docs.libraries": ("fastapi", "pytest", "missing"),
        "podium.docs.token_budget": 2400,
        "podium.docs.tokens": 240,
        "podium.docs.requests_made": 1,
        "podium.docs.requests_avoided": 2,
        "podium.docs.tokens_cut": 30,
        "podium.docs.failed_libraries": ("missing",),
    }
    assert fetch.end_time - fetch.start_time >= 1_000_000  # the fetch's own millisecond


async def test_a_span_started_in_a_sync_stage_on_a_thread_is_a_child_of_the_stage(
    telemetry: Any, make_engine: Any
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("user-code")
    wf = podium.Workflow("threads", strategy=FANOUT)

    @wf.stage(executor="thread")
    def crunch() -> str:
        with tracer.start_as_current_span("user work"):
            return threading.current_thread().name

    async with make_engine() as engine:
        result = await engine.run(wf)

    assert result["crunch"].value != threading.current_thread().name
    assert telemetry.parent_name(telemetry.span("user work")) == "stage crunch"


async def test_the_run_joins_the_callers_trace(telemetry: Any, make_engine: Any) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    wf = podium.Workflow("nested", strategy=FANOUT)

    @wf.stage
    async def only() -> int:
        return 1

    async with make_engine() as engine:
        with tracer.start_as_current_span("http request"):
            await engine.run(wf)

    assert telemetry.parent_name(telemetry.span("workflow nested")) == "http request"


async def test_a_failing_doc_fetch_is_an_error_span_and_the_stage_fails(
    telemetry: Any, make_engine: Any
) -> None:
    class BrokenDocs:
        @podium.hookimpl
        def podium_fetch_docs(self, libraries: list[str], query: str, tokens: int | None) -> Any:
            async def fetch() -> podium.DocBundle:
                raise ConnectionError("docs service unreachable")

            return fetch()

    wf = podium.Workflow("docs", strategy=FANOUT)

    @wf.stage
    async def gather(ctx: podium.Context) -> str:
        return (await ctx.docs(["fastapi"], query="q")).text

    async with make_engine(extra=[BrokenDocs()]) as engine:
        result = await engine.run(wf)

    assert isinstance(result["gather"].error, ConnectionError)
    fetch = telemetry.span("fetch docs")
    assert fetch.status.status_code is StatusCode.ERROR
    assert fetch.attributes["error.type"] == "ConnectionError"
    assert telemetry.span("stage gather").status.status_code is StatusCode.ERROR


async def test_prompt_cache_tokens_are_recorded_on_the_agent_span(telemetry: Any, make_engine: Any) -> None:
    class CachingAgent:
        provider = "anthropic"
        model = SONNET

        async def complete(self, prompt: str, **options: Any) -> podium.AgentReply:
            usage = podium.Usage(
                input_tokens=20, output_tokens=5, cache_read_tokens=900, cache_write_tokens=100
            )
            return podium.AgentReply("ok", usage, SONNET, stop_reason="max_tokens")

    wf = podium.Workflow("cached-prompt", strategy=FANOUT)

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("claude").complete("long shared prefix")).text

    async with make_engine(agents={"claude": CachingAgent()}) as engine:
        await engine.run(wf)

    call = telemetry.span("chat " + SONNET)
    assert call.attributes["gen_ai.provider.name"] == "anthropic"
    assert call.attributes["gen_ai.usage.cache_read.input_tokens"] == 900
    assert call.attributes["gen_ai.usage.cache_write.input_tokens"] == 100
    assert call.attributes["gen_ai.response.finish_reasons"] == ("max_tokens",)
    assert telemetry.value("podium.tokens", gen_ai__token__type="cache_read") == 900
    assert telemetry.value("podium.tokens", gen_ai__token__type="cache_write") == 100
