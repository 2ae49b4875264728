"""The metrics an operator charts: runs, durations, tokens, cost, cache, docs and alerts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import podium
from podium import CachePolicy, RunStatus, SimulatedAgent
from podium_otel import OtelPlugin

FANOUT = "otel-test-fanout"
SONNET = "claude-sonnet-4-5"
HAIKU = "claude-haiku-4-5"


def priced_workflow() -> podium.Workflow:
    wf = podium.Workflow("priced", strategy=FANOUT)

    @wf.stage(cache=CachePolicy(), version="1")
    async def summarize(ctx: podium.Context) -> str:
        return (await ctx.agent("big").complete("summarize")).text

    @wf.stage(needs=["summarize"])
    async def classify(ctx: podium.Context, summarize: str) -> str:
        await ctx.agent("small").complete("classify")
        return (await ctx.agent("small").complete("classify again")).text

    @wf.stage(needs=["summarize"])
    async def check(summarize: str) -> str:
        raise RuntimeError("checker down")

    return wf


def priced_agents() -> dict[str, podium.Agent]:
    return {
        "big": SimulatedAgent("summary", model=SONNET, input_tokens=1000, output_tokens=200),
        "small": SimulatedAgent("label", model=HAIKU, input_tokens=300, output_tokens=10),
    }


async def run_twice(make_engine: Any) -> tuple[podium.RunResult, podium.RunResult]:
    async with make_engine(agents=priced_agents()) as engine:
        return await engine.run(priced_workflow()), await engine.run(priced_workflow())


async def test_workflow_runs_are_counted_by_status_with_their_durations(
    telemetry: Any, make_engine: Any
) -> None:
    first, second = await run_twice(make_engine)
    assert first.status is second.status is RunStatus.FAILED

    assert telemetry.value("podium.workflow.runs", podium__workflow__name="priced") == 2
    assert telemetry.value("podium.workflow.runs", podium__run__status="failed") == 2
    assert telemetry.count("podium.workflow.duration", podium__run__status="failed") == 2
    assert telemetry.value("podium.workflow.duration") == pytest.approx(first.duration_s + second.duration_s)
    assert telemetry.value("podium.workflow.active", podium__workflow__name="priced") == 0


async def test_stage_outcomes_and_durations_are_recorded_per_stage(telemetry: Any, make_engine: Any) -> None:
    first, second = await run_twice(make_engine)

    def runs(stage: str, status: str) -> float:
        return telemetry.value("podium.stage.runs", podium__stage__name=stage, podium__stage__status=status)

    assert runs("summarize", "succeeded") == 1
    assert runs("summarize", "cached") == 1
    assert runs("classify", "succeeded") == 2
    assert runs("check", "failed") == 2
    assert telemetry.count("podium.stage.duration", podium__stage__name="classify") == 2
    assert telemetry.value("podium.stage.duration", podium__stage__name="classify") == pytest.approx(
        first["classify"].duration_s + second["classify"].duration_s
    )


async def test_tokens_are_counted_by_model_and_direction_and_cost_by_model(
    telemetry: Any, make_engine: Any
) -> None:
    first, second = await run_twice(make_engine)

    def tokens(model: str, kind: str) -> float:
        return telemetry.value("podium.tokens", gen_ai__request__model=model, gen_ai__token__type=kind)

    # ``summarize`` is cached on the second run: its agent is called once in all.
    assert (tokens(SONNET, "input"), tokens(SONNET, "output")) == (1000, 200)
    assert (tokens(HAIKU, "input"), tokens(HAIKU, "output")) == (4 * 300, 4 * 10)
    assert telemetry.value("podium.cost", gen_ai__request__model=SONNET) == pytest.approx(
        (1000 * 3.0 + 200 * 15.0) / 1e6
    )
    assert telemetry.value("podium.cost") == pytest.approx(first.cost_usd + second.cost_usd)
    assert telemetry.count("gen_ai.client.token.usage", gen_ai__request__model=HAIKU) == 8
    assert telemetry.count("gen_ai.client.operation.duration") == 5
    assert telemetry.value("podium.agent.calls", podium__agent__name="small") == 4


async def test_cache_hits_misses_and_savings_are_counted(telemetry: Any, make_engine: Any) -> None:
    _, second = await run_twice(make_engine)

    assert telemetry.value("podium.cache.misses", podium__cache__kind="stage") == 1
    assert telemetry.value("podium.cache.hits", podium__cache__kind="stage") == 1
    assert telemetry.value("podium.cache.saved.tokens") == 1200
    assert telemetry.value("podium.cache.saved.cost") == pytest.approx(second.saved_cost_usd)
    assert second.saved_cost_usd > 0


async def test_failed_agent_calls_are_counted_with_their_error_type(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("flaky", strategy=FANOUT)

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("flaky").complete("q")).text

    async with make_engine(agents={"flaky": SimulatedAgent(fail_on=[1])}) as engine:
        await engine.run(wf)

    assert telemetry.value("podium.agent.calls", error__type="SimulatedAgentError") == 1
    assert telemetry.value("podium.agent.failures", podium__agent__name="flaky") == 1
    assert telemetry.count("gen_ai.client.operation.duration", error__type="SimulatedAgentError") == 1
    assert [p.value for p in telemetry.points("podium.tokens")] == [0, 0]  # published from 0, none spent


async def test_retries_are_counted_per_stage(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("retrying", strategy=FANOUT)

    @wf.stage(retry=podium.Retry(attempts=3, delay=0, jitter=False))
    async def wobbly(ctx: podium.Context) -> int:
        if ctx.attempt < 3:
            raise ConnectionError("again")
        return ctx.attempt

    async with make_engine() as engine:
        await engine.run(wf)

    assert telemetry.value("podium.stage.retries", podium__stage__name="wobbly") == 2


async def test_alerts_are_counted_by_name_and_severity(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("costly", strategy=FANOUT, budget=podium.Budget(tokens=10))

    @wf.stage
    async def spend(ctx: podium.Context) -> str:
        return (await ctx.agent("big").complete("go")).text

    async with make_engine(agents=priced_agents()) as engine:
        await engine.run(wf)
        engine.raise_alert("success_rate", "success rate 80% < 95%", severity="critical")
        await asyncio.sleep(0)

    assert (
        telemetry.value(
            "podium.alerts", podium__alert__name="budget_exceeded", podium__workflow__name="costly"
        )
        == 1
    )
    assert (
        telemetry.value(
            "podium.alerts", podium__alert__name="success_rate", podium__alert__severity="critical"
        )
        == 1
    )


async def test_doc_requests_made_and_avoided_and_tokens_delivered(
    telemetry: Any, make_engine: Any, docs_plugin: Any
) -> None:
    wf = podium.Workflow("docs", strategy=FANOUT)

    @wf.stage
    async def read(ctx: podium.Context) -> int:
        return (await ctx.docs(["fastapi", "sqlalchemy", "pytest"], query="sessions", tokens=2400)).tokens

    async with make_engine(extra=[docs_plugin]) as engine:
        await engine.run(wf)

    assert telemetry.value("podium.docs.requests", podium__docs__outcome="made") == 1
    assert telemetry.value("podium.docs.requests", podium__docs__outcome="avoided") == 2
    assert telemetry.value("podium.docs.tokens") == 360


async def test_a_sampled_out_run_makes_no_spans_but_is_measured_and_keeps_its_trace(
    telemetry: Any, make_engine: Any
) -> None:
    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer_provider.add_span_processor(SimpleSpanProcessor(telemetry.exporter))
    plugin = OtelPlugin(tracer_provider=tracer_provider, meter_provider=telemetry.meter_provider)
    trace_ids: list[int] = []
    wf = podium.Workflow("unsampled", strategy=FANOUT)

    @wf.stage
    async def first(ctx: podium.Context) -> str:
        trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        return (await ctx.agent("big").complete("go")).text

    @wf.stage(needs=["first"])
    async def second(first: str) -> str:
        trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        return first

    async with make_engine(plugin=plugin, agents=priced_agents()) as engine:
        assert (await engine.run(wf)).ok

    assert telemetry.spans() == []
    assert telemetry.value("podium.workflow.runs", podium__run__status="succeeded") == 1
    assert telemetry.value("podium.stage.runs", podium__stage__name="second") == 1
    assert telemetry.value("podium.tokens", gen_ai__token__type="input") == 1000
    assert trace_ids[0] != 0
    assert trace_ids[0] == trace_ids[1], "both stages run in the run's trace"


async def test_alert_and_run_series_are_published_from_zero_when_a_workflow_first_runs(
    telemetry: Any, make_engine: Any
) -> None:
    wf = podium.Workflow("quiet", strategy=FANOUT)

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("steady").complete("q")).text

    async with make_engine(agents={"steady": SimulatedAgent("ok")}) as engine:
        await engine.run(wf)

    alerts = {p.attributes["podium.alert.name"]: p.value for p in telemetry.points("podium.alerts")}
    assert alerts == dict.fromkeys(podium.KERNEL_ALERTS, 0)
    runs = {p.attributes["podium.run.status"]: p.value for p in telemetry.points("podium.workflow.runs")}
    assert runs == {status.value: 1 if status == "succeeded" else 0 for status in podium.RunStatus}
    assert telemetry.value("podium.agent.failures", podium__agent__name="steady") == 0
    assert len(telemetry.points("podium.agent.failures")) == 1  # the healthy agent has a failure series
