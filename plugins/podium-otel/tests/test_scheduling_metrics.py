"""Queue depth, queue waits and breaker changes as metrics: the engine's scheduler and agents."""

from __future__ import annotations

import asyncio
from typing import Any

import podium
from podium import SimulatedAgent

FANOUT = "otel-test-fanout"


def waiting(seconds: float) -> podium.Workflow:
    wf = podium.Workflow("queued", strategy=FANOUT)

    @wf.stage
    async def work() -> str:
        await asyncio.sleep(seconds)
        return "done"

    return wf


async def test_queue_depth_and_queue_waits_are_published(telemetry: Any, make_engine: Any) -> None:
    async with make_engine(config={"scheduler": {"max_concurrent": 1}}) as engine:
        handles = [await engine.submit(waiting(0.02)) for _ in range(3)]
        await asyncio.sleep(0.005)
        depth = telemetry.value("podium.workflow.queue.depth")
        for handle in handles:
            await handle
    assert depth == 2
    assert telemetry.count("podium.workflow.queue.wait", podium__workflow__name="queued") == 3
    assert telemetry.value("podium.workflow.queue.wait", podium__workflow__name="queued") > 0.02


async def test_podium_breaker_changed_is_counted_by_agent_and_state(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("breaking", strategy=FANOUT)

    @wf.stage
    async def call(ctx: podium.Context) -> list[str]:
        out = []
        for _ in range(3):
            try:
                out.append((await ctx.agent("flaky").complete("hi")).text)
            except Exception as error:
                out.append(type(error).__name__)
        return out

    config = {"agents": {"flaky": {"breaker": {"failures": 2}, "retry": False}}}
    async with make_engine(config=config, agents={"flaky": SimulatedAgent(fail_on=[1, 2])}) as engine:
        result = await engine.run(wf)
    assert result["call"].value == ["SimulatedAgentError", "SimulatedAgentError", "CircuitOpen"]
    assert (
        telemetry.value(
            "podium.agent.breaker.changes", podium__agent__name="flaky", podium__breaker__state="open"
        )
        == 1
    )
