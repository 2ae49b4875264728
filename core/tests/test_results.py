"""Results tell the whole truth: fallbacks keep their cause, cancellation keeps what finished,
cancelled stages keep their timing, and a budget says how far past it a run went."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import podium
from podium import BudgetExceeded, RunStatus, SimulatedAgent, StageStatus
from podium.cli.console import result_dict, summary_table


def sequential(name: str = "results", **options: Any) -> podium.Workflow:
    return podium.Workflow(name, strategy="sequential", **options)


def engine(**agents: podium.Agent) -> podium.Engine:
    return podium.Engine(config=podium.Config(), agents=agents, cache_url=False)


async def test_a_fallback_keeps_the_error_it_replaced() -> None:
    wf = sequential()

    @wf.stage(fallback="default", retry=podium.Retry(attempts=2, delay=0))
    async def flaky() -> str:
        raise ValueError("upstream said no")

    async with engine() as started:
        result = await started.run(wf)
    stage = result["flaky"]
    assert (stage.status, stage.value, stage.fallback) == (StageStatus.SUCCEEDED, "default", True)
    assert isinstance(stage.error, ValueError) and str(stage.error) == "upstream said no"
    assert stage.attempts == 2
    table = summary_table(result)
    notes = [str(cell) for cell in table.columns[-1]._cells]
    assert "fallback after 2 attempt(s): ValueError: upstream said no" in notes
    entry = result_dict(result)["stages"][0]
    assert (entry["error"], entry["error_type"], entry["fallback"]) == (
        "ValueError: upstream said no",
        "ValueError",
        True,
    )


async def test_an_on_error_handler_keeps_the_error_it_replaced() -> None:
    wf = sequential()

    @wf.stage(on_error=lambda error: f"handled {type(error).__name__}")
    async def fragile() -> str:
        raise KeyError("missing")

    async with engine() as started:
        result = await started.run(wf)
    assert result["fragile"].value == "handled KeyError"
    assert isinstance(result["fragile"].error, KeyError)


async def slow_workflow() -> podium.Workflow:
    wf = sequential("slow")

    @wf.stage
    async def first() -> str:
        return "first"

    @wf.stage(needs=["first"])
    async def second(first: str) -> str:
        await asyncio.sleep(30)
        return "second"

    return wf


@pytest.mark.parametrize("attempt", range(20))
async def test_cancelling_the_handles_task_at_once_still_gives_a_cancelled_result(attempt: int) -> None:
    async with engine() as started:
        handle = await started.submit(await slow_workflow())
        handle.task.cancel()
        result = await handle
    assert result.status is RunStatus.CANCELLED
    assert result.reason == "the run was cancelled before it started"
    assert {r.status for r in result.stages.values()} == {StageStatus.SKIPPED}


async def test_cancelling_the_handles_task_midway_keeps_the_finished_stages() -> None:
    async with engine() as started:
        handle = await started.submit(await slow_workflow())
        await asyncio.sleep(0.05)
        handle.task.cancel()
        result = await handle
    assert result.status is RunStatus.CANCELLED
    assert result["first"].value == "first"
    assert result["second"].status is StageStatus.CANCELLED


async def test_stopping_the_engine_gives_its_runs_a_cancelled_result() -> None:
    started = engine()
    await started.start()
    handle = await started.submit(await slow_workflow())
    await asyncio.sleep(0.05)
    await started.stop()
    result = await handle
    assert result.status is RunStatus.CANCELLED
    assert result.reason == "the engine is shutting down"
    assert result["first"].ok


async def test_a_cancelled_stage_keeps_its_real_start_and_duration() -> None:
    async with engine() as started:
        handle = await started.submit(await slow_workflow())
        await asyncio.sleep(0.3)
        handle.cancel()
        result = await handle
    second = result["second"]
    assert second.status is StageStatus.CANCELLED
    assert second.started_at is not None and second.finished_at is not None
    assert second.duration_s >= 0.2
    assert second.started_at >= result["first"].finished_at  # type: ignore[operator]


def agent_workflow(calls_per_stage: int, stages: int, budget: int) -> podium.Workflow:
    wf = sequential("spender", budget=podium.Budget(tokens=budget))
    for n in range(stages):

        async def spend(ctx: podium.Context) -> int:
            for _ in range(calls_per_stage):
                await ctx.agent("model").complete("x")
            return calls_per_stage

        wf.add_stage(spend, name=f"stage{n}", version="1")
    return wf


async def test_no_agent_call_starts_once_the_budget_is_spent() -> None:
    # Each call costs 1,000 tokens; the budget of 2,000 is passed by the third call.
    agent = SimulatedAgent(input_tokens=600, output_tokens=400)
    async with engine(model=agent) as started:
        result = await started.run(agent_workflow(calls_per_stage=2, stages=3, budget=2000))
    assert result.status is RunStatus.BUDGET_EXCEEDED
    assert agent.calls == 3  # the fourth call was refused
    assert result.usage.total_tokens == 3000
    assert isinstance(result["stage1"].error, BudgetExceeded)
    assert result["stage2"].status is StageStatus.SKIPPED
    assert result.reason == "budget exceeded: tokens 3000 > 2000 (1.5x the budget)"


async def test_calls_already_in_flight_finish_and_the_overshoot_is_reported() -> None:
    wf = sequential("burst", budget=podium.Budget(tokens=2000))
    agent = SimulatedAgent(input_tokens=600, output_tokens=400, latency=0.05)

    @wf.stage
    async def burst(ctx: podium.Context) -> int:
        # Five calls are admitted at once, before any of them has spent a token.
        replies = await asyncio.gather(*(ctx.agent("model").complete(str(n)) for n in range(5)))
        return len(replies)

    @wf.stage(needs=["burst"])
    async def after(ctx: podium.Context, burst: int) -> None:
        await ctx.agent("model").complete("more")

    async with engine(model=agent) as started:
        result = await started.run(wf)
    assert result.usage.total_tokens == 5000
    assert agent.calls == 5
    assert result.reason == (
        "budget exceeded: tokens 5000 > 2000 at the end (2.5x the budget; first exceeded at "
        "tokens 3000 > 2000, then the calls in flight finished)"
    )
