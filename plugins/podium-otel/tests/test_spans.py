"""The traces a user sees: one tree per run, stages under it, calls under their stage."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

import podium
from podium import CachePolicy, Retry, RunStatus, SimulatedAgent

#: The strategy conftest registers: every ready stage starts at once.
FANOUT = "otel-test-fanout"
SONNET = "claude-sonnet-4-5"
HAIKU = "claude-haiku-4-5"


def review_workflow() -> podium.Workflow:
    """Parallel branches with a retry, a cached stage, a failure and the stage it skips."""
    wf = podium.Workflow("review", strategy=FANOUT, timeout=10)
    # ``draft``'s first attempt and ``lint`` wait for each other: only concurrent stages get past it.
    both_running = asyncio.Barrier(2)

    @wf.stage
    async def plan() -> str:
        return "spec"

    @wf.stage(needs=["plan"], retry=Retry(attempts=3, delay=0, jitter=False))
    async def draft(ctx: podium.Context, plan: str) -> str:
        if ctx.attempt == 1:
            await both_running.wait()
            raise ConnectionError("provider overloaded")
        return (await ctx.agent("writer").run(f"write the {plan}")).text

    @wf.stage(needs=["plan"], cache=CachePolicy(), version="1")
    async def research(plan: str) -> str:
        return f"notes on {plan}"

    @wf.stage(needs=["plan"])
    async def lint(ctx: podium.Context, plan: str) -> str:
        await both_running.wait()
        await ctx.agent("writer").run("check the style of the secret plan")
        raise ValueError("style check failed")

    @wf.stage(needs=["lint"])
    async def publish(lint: str) -> str:
        return lint

    @wf.stage(needs=["draft", "research"])
    async def review(ctx: podium.Context, draft: str, research: str) -> str:
        return (await ctx.agent("reviewer").run(f"review {draft} with {research}")).text

    return wf


def agents() -> dict[str, podium.Agent]:
    return {
        "writer": SimulatedAgent(
            "draft text", model=SONNET, latency=0.01, input_tokens=100, output_tokens=40
        ),
        "reviewer": SimulatedAgent("approved", model=HAIKU, input_tokens=50, output_tokens=5),
    }


async def test_a_parallel_run_is_one_tree_of_stage_spans_with_calls_under_their_stage(
    telemetry: Any, make_engine: Any
) -> None:
    wf = review_workflow()
    async with make_engine(agents=agents()) as engine:
        first = await engine.run(wf)
        assert telemetry.span("stage research").attributes["podium.stage.cache_hit"] is False
        telemetry.exporter.clear()
        result = await engine.run(wf)

    assert first.status is RunStatus.FAILED
    assert result.status is RunStatus.FAILED
    root = telemetry.span("workflow review")
    assert root.parent is None
    chat_sonnet = ("chat " + SONNET, [])
    assert telemetry.tree(root) == (
        "workflow review",
        sorted(
            [
                ("stage draft", [chat_sonnet]),
                ("stage lint", [chat_sonnet]),
                ("stage plan", []),
                ("stage publish", []),
                ("stage research", []),
                ("stage review", [("chat " + HAIKU, [])]),
            ],
            key=repr,
        ),
    )
    assert {s.context.trace_id for s in telemetry.spans()} == {root.context.trace_id}

    draft, lint = telemetry.span("stage draft"), telemetry.span("stage lint")
    assert draft.start_time < lint.end_time, "ran concurrently"
    assert lint.start_time < draft.end_time, "ran concurrently"


async def test_stage_spans_carry_status_attempts_cache_hit_and_skip_reason(
    telemetry: Any, make_engine: Any
) -> None:
    wf = review_workflow()
    async with make_engine(agents=agents()) as engine:
        await engine.run(wf)
        telemetry.exporter.clear()
        result = await engine.run(wf)

    def attributes(stage: str) -> dict[str, Any]:
        return dict(telemetry.span(f"stage {stage}").attributes)

    assert attributes("plan") == {
        "podium.workflow.name": "review",
        "podium.run.id": result.run_id,
        "podium.stage.name": "plan",
        "podium.stage.status": "succeeded",
        "podium.stage.attempts": 1,
    }
    assert attributes("draft")["podium.stage.attempts"] == 2
    assert attributes("research")["podium.stage.status"] == "cached"
    assert attributes("research")["podium.stage.cache_hit"] is True
    assert attributes("publish")["podium.stage.status"] == "skipped"
    assert attributes("publish")["podium.stage.skip_reason"] == "dependency 'lint' failed"
    review = attributes("review")
    assert (review["podium.usage.input_tokens"], review["podium.usage.output_tokens"]) == (50, 5)
    assert review["podium.usage.cost_usd"] == result["review"].cost_usd > 0

    root = telemetry.span("workflow review")
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["podium.run.status"] == "failed"
    assert root.attributes["podium.workflow.strategy"] == FANOUT
    assert root.attributes["podium.usage.cost_usd"] == result.cost_usd


async def test_a_failed_stage_span_has_error_status_and_the_exception_recorded(
    telemetry: Any, make_engine: Any
) -> None:
    async with make_engine(agents=agents()) as engine:
        await engine.run(review_workflow())

    lint = telemetry.span("stage lint")
    assert lint.status.status_code is StatusCode.ERROR
    assert lint.status.description == "ValueError: style check failed"
    assert lint.attributes["podium.stage.status"] == "failed"
    assert lint.attributes["error.type"] == "ValueError"
    (event,) = [e for e in lint.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "style check failed"
    assert telemetry.span("stage review").status.status_code is StatusCode.UNSET


async def test_a_retry_is_an_event_on_the_stage_span(telemetry: Any, make_engine: Any) -> None:
    async with make_engine(agents=agents()) as engine:
        await engine.run(review_workflow())

    draft = telemetry.span("stage draft")
    (retry,) = [e for e in draft.events if e.name == "retry"]
    assert dict(retry.attributes) == {
        "podium.retry.attempt": 1,
        "podium.retry.delay_s": 0.0,
        "exception.type": "ConnectionError",
        "exception.message": "provider overloaded",
    }
    assert draft.status.status_code is StatusCode.UNSET


async def test_agent_call_spans_follow_the_genai_semantic_conventions(
    telemetry: Any, make_engine: Any
) -> None:
    wf = podium.Workflow("ask", strategy=FANOUT)

    @wf.stage
    async def answer(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").run("question", max_tokens=512, temperature=0.2)).text

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
        return (await ctx.agent("flaky").run("question")).text

    async with make_engine(agents={"flaky": SimulatedAgent(fail_on=[1])}) as engine:
        await engine.run(wf)

    call = telemetry.span("chat claude-sonnet-4-5")
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes["error.type"] == "SimulatedAgentError"
    assert "gen_ai.usage.input_tokens" not in call.attributes
    assert telemetry.parent_name(call) == "stage answer"


async def test_prompts_and_replies_stay_out_of_spans_by_default(
    telemetry: Any, make_engine: Any, docs_plugin: Any
) -> None:
    async with make_engine(agents=agents(), extra=[docs_plugin]) as engine:
        wf = review_workflow()

        @wf.stage(needs=["plan"])
        async def docs(ctx: podium.Context) -> str:
            return (await ctx.docs(["fastapi"], query="secret plan internals")).text

        await engine.run(wf)

    recorded = repr([(s.attributes, [e.attributes for e in s.events]) for s in telemetry.spans()])
    for content in ("secret plan", "draft text", "approved", "write the spec"):
        assert content not in recorded


async def test_capture_content_records_prompts_replies_and_doc_queries(
    telemetry: Any, make_engine: Any, docs_plugin: Any
) -> None:
    wf = podium.Workflow("ask", strategy=FANOUT)

    @wf.stage
    async def answer(ctx: podium.Context) -> str:
        await ctx.docs(["fastapi"], query="routing")
        return (await ctx.agent("writer").run("x" * 50)).text

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


async def test_a_route_is_recorded_on_the_routing_stage(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("triage", strategy=FANOUT)

    @wf.stage(route=lambda verdict: "fast" if verdict == "easy" else "slow")
    async def classify() -> str:
        return "easy"

    @wf.stage(needs=["classify"])
    async def fast(classify: str) -> str:
        return "done"

    @wf.stage(needs=["classify"])
    async def slow(classify: str) -> str:
        return "done slowly"

    async with make_engine() as engine:
        await engine.run(wf)

    classify_span = telemetry.span("stage classify")
    assert classify_span.attributes["podium.stage.route"] == ("fast",)
    assert classify_span.attributes["podium.stage.route_skipped"] == ("slow",)
    assert (
        telemetry.span("stage slow")
        .attributes["podium.stage.skip_reason"]
        .startswith("not chosen by the route of 'classify'")
    )


async def test_each_visit_of_a_looping_stage_is_its_own_span(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("loop", strategy=FANOUT)

    @wf.stage(max_visits=2)
    async def write(ctx: podium.Context) -> int:
        return ctx.visit

    @wf.stage(needs=["write"], route=lambda version: "write" if version == 1 else "ship")
    async def check(write: int) -> int:
        return write

    @wf.stage(needs=["check"])
    async def ship(check: int) -> int:
        return check

    async with make_engine() as engine:
        result = await engine.run(wf)

    assert result["ship"].value == 2
    writes = sorted(
        (s for s in telemetry.spans() if s.name == "stage write"), key=lambda s: s.start_time or 0
    )
    assert [s.attributes.get("podium.stage.visit") for s in writes] == [None, 2]
    checks = [s for s in telemetry.spans() if s.name == "stage check"]
    assert sorted(s.attributes["podium.stage.route"] for s in checks) == [("ship",), ("write",)]


async def test_a_timed_out_run_ends_its_running_stage_spans_as_cancelled(
    telemetry: Any, make_engine: Any
) -> None:
    wf = podium.Workflow("slow", strategy=FANOUT, timeout=0.05)

    @wf.stage
    async def wait() -> None:
        await asyncio.sleep(5)

    @wf.stage(needs=["wait"])
    async def after(wait: None) -> None:
        return None

    async with make_engine() as engine:
        result = await engine.run(wf)

    assert result.status is RunStatus.TIMED_OUT
    wait_span = telemetry.span("stage wait")
    assert wait_span.attributes["podium.stage.status"] == "cancelled"
    assert "timed out" in wait_span.attributes["podium.stage.reason"]
    assert telemetry.span("stage after").attributes["podium.stage.status"] == "skipped"
    root = telemetry.span("workflow slow")
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "run timed_out"
    assert len(telemetry.spans()) == 3, "no span left open"


async def test_a_budget_breach_is_an_event_and_an_alert_on_the_run_span(
    telemetry: Any, make_engine: Any
) -> None:
    wf = podium.Workflow("costly", strategy="sequential", budget=podium.Budget(tokens=100))

    @wf.stage
    async def first(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").run("go")).text

    @wf.stage(needs=["first"])
    async def second(first: str) -> str:
        return first

    async with make_engine(agents=agents()) as engine:
        result = await engine.run(wf)

    assert result.status is RunStatus.BUDGET_EXCEEDED
    root = telemetry.span("workflow costly")
    names = [e.name for e in root.events]
    assert names == ["budget_exceeded", "alert"]
    assert root.events[0].attributes["podium.budget.reason"] == "tokens 140 > 100"
    assert root.events[1].attributes["podium.alert.name"] == "budget_exceeded"


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
        return (await ctx.agent("claude").run("long shared prefix")).text

    async with make_engine(agents={"claude": CachingAgent()}) as engine:
        await engine.run(wf)

    call = telemetry.span("chat " + SONNET)
    assert call.attributes["gen_ai.provider.name"] == "anthropic"
    assert call.attributes["gen_ai.usage.cache_read.input_tokens"] == 900
    assert call.attributes["gen_ai.usage.cache_write.input_tokens"] == 100
    assert call.attributes["gen_ai.response.finish_reasons"] == ("max_tokens",)
    assert telemetry.value("podium.tokens", gen_ai__token__type="cache_read") == 900
    assert telemetry.value("podium.tokens", gen_ai__token__type="cache_write") == 100


async def test_a_stage_killed_by_a_base_exception_leaves_no_span_open(
    telemetry: Any, make_engine: Any
) -> None:
    class Abort(BaseException):
        pass

    wf = podium.Workflow("aborted", strategy=FANOUT)

    @wf.stage
    async def doomed(ctx: podium.Context) -> None:
        await ctx.agent("writer").run("start")
        raise Abort

    async with make_engine(agents=agents()) as engine:
        result = await engine.run(wf)

    assert result.status is RunStatus.FAILED
    stage = telemetry.span("stage doomed")
    assert stage.attributes["podium.stage.status"] == "failed"
    assert stage.status.status_code is StatusCode.ERROR
    assert telemetry.span("workflow aborted").end_time is not None
