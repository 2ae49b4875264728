"""The traces a user sees: one tree per run, stages under it, calls under their stage."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.trace import StatusCode

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
        return (await ctx.agent("writer").complete(f"write the {plan}")).text

    @wf.stage(needs=["plan"], cache=CachePolicy(), version="1")
    async def research(plan: str) -> str:
        return f"notes on {plan}"

    @wf.stage(needs=["plan"])
    async def lint(ctx: podium.Context, plan: str) -> str:
        await both_running.wait()
        await ctx.agent("writer").complete("check the style of the secret plan")
        raise ValueError("style check failed")

    @wf.stage(needs=["lint"])
    async def publish(lint: str) -> str:
        return lint

    @wf.stage(needs=["draft", "research"])
    async def review(ctx: podium.Context, draft: str, research: str) -> str:
        return (await ctx.agent("reviewer").complete(f"review {draft} with {research}")).text

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


async def test_a_skipped_stage_is_a_zero_length_span_at_the_moment_it_was_skipped(
    telemetry: Any, make_engine: Any
) -> None:
    async with make_engine(agents=agents()) as engine:
        await engine.run(review_workflow())

    publish, lint = telemetry.span("stage publish"), telemetry.span("stage lint")
    assert publish.attributes["podium.stage.status"] == "skipped"
    assert publish.end_time == publish.start_time
    assert publish.start_time >= lint.end_time  # skipped once the stage it needs had failed


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


async def test_workflow_inputs_and_stage_values_never_reach_spans(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("keys", strategy=FANOUT)

    @wf.stage
    async def use(api_key: podium.Secret, customer: str) -> str:
        return f"{customer}:{api_key.reveal()}"

    async with make_engine() as engine:
        result = await engine.run(wf, {"api_key": podium.Secret("sk-live-123"), "customer": "ACME Corp"})

    assert result["use"].value == "ACME Corp:sk-live-123"
    recorded = repr([(s.attributes, [e.attributes for e in s.events]) for s in telemetry.spans()])
    assert "sk-live-123" not in recorded
    assert "ACME" not in recorded


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
        return (await ctx.agent("writer").complete("go")).text

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


async def test_a_stage_killed_by_a_base_exception_leaves_no_span_open(
    telemetry: Any, make_engine: Any
) -> None:
    class Abort(BaseException):
        pass

    wf = podium.Workflow("aborted", strategy=FANOUT)

    @wf.stage
    async def doomed(ctx: podium.Context) -> None:
        await ctx.agent("writer").complete("start")
        raise Abort

    async with make_engine(agents=agents()) as engine:
        result = await engine.run(wf)

    assert result.status is RunStatus.FAILED
    stage = telemetry.span("stage doomed")
    assert stage.attributes["podium.stage.status"] == "failed"
    assert stage.status.status_code is StatusCode.ERROR
    assert telemetry.span("workflow aborted").end_time is not None
