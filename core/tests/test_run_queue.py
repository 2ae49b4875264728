"""The workflow scheduler: max_concurrent runs, a bounded queue, priorities, cancellation, drain."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

import podium


class Concurrency:
    """Counts runs in progress from the workflow events (a run cancelled in the queue is
    announced too, but never ran)."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.started: list[str] = []
        self._running: set[str] = set()

    @podium.hookimpl
    def podium_workflow_started(self, run: podium.RunState) -> None:
        if not run.started:
            return
        self._running.add(run.id)
        self.now += 1
        self.peak = max(self.peak, self.now)
        self.started.append(str(run.inputs.get("tag", "")))

    @podium.hookimpl
    def podium_workflow_ended(self, run: podium.RunState, result: podium.RunResult) -> None:
        if run.id in self._running:
            self._running.discard(run.id)
            self.now -= 1


def three_stages(delay: float = 0.0) -> podium.Workflow:
    wf = podium.Workflow("three", strategy="sequential", inputs={"tag": "", "fail": False})

    @wf.stage
    async def a(tag: str) -> str:
        await asyncio.sleep(delay)
        return tag

    @wf.stage(needs=["a"])
    async def b(a: str, fail: bool) -> str:
        await asyncio.sleep(delay)
        if fail:
            raise RuntimeError("scripted")
        return a

    @wf.stage(needs=["b"])
    async def c(b: str) -> str:
        return b

    return wf


async def test_ten_thousand_submissions_never_exceed_max_concurrent_and_none_is_lost() -> None:
    rng = random.Random(7)
    seen = Concurrency()
    wf = three_stages()
    async with podium.Engine(
        config=podium.Config(), max_concurrent=25, plugins=[seen], cache_url=False
    ) as engine:
        handles = []
        for n in range(10_000):
            handle = await engine.submit(
                wf, {"tag": str(n), "fail": rng.random() < 0.1}, priority=rng.randint(0, 3)
            )
            handles.append(handle)
            if rng.random() < 0.1:
                handle.cancel()
            if n % 500 == 0:
                await asyncio.sleep(0)
        results = [await h for h in handles]
    assert seen.peak <= 25 and engine.runs.peak <= 25
    assert len(results) == 10_000 and all(r.run_id == h.id for r, h in zip(results, handles, strict=True))
    statuses = Counter(r.status for r in results)
    assert set(statuses) <= {podium.RunStatus.SUCCEEDED, podium.RunStatus.FAILED, podium.RunStatus.CANCELLED}
    assert statuses[podium.RunStatus.FAILED] > 0 and statuses[podium.RunStatus.CANCELLED] > 0
    assert engine.runs.running == 0 and engine.runs.queued == 0


async def test_a_full_queue_raises_queue_full_when_asked_not_to_wait() -> None:
    async with podium.Engine(
        config=podium.Config(), max_concurrent=1, queue_size=1, cache_url=False
    ) as engine:
        first = await engine.submit(three_stages(0.05))
        second = await engine.submit(three_stages(0.05), wait=False)  # queued
        with pytest.raises(podium.QueueFull, match=r"the run queue is full \(1 runs waiting for 1 slots"):
            await engine.submit(three_stages(0.05), wait=False)
        third = await engine.submit(three_stages(0.05))  # waits for room, then queues
        results = [await h for h in (first, second, third)]
    assert all(r.ok for r in results)
    assert results[1].run_id == second.id and second.run.queue_wait_s > 0


async def test_queued_runs_start_by_priority_then_in_submission_order() -> None:
    seen = Concurrency()
    async with podium.Engine(
        config=podium.Config(), max_concurrent=1, plugins=[seen], cache_url=False
    ) as engine:
        wf = three_stages(0.01)
        handles = [await engine.submit(wf, {"tag": "first"})]
        for tag, priority in (("low", 0), ("high", 5), ("mid", 2), ("high2", 5)):
            handles.append(await engine.submit(wf, {"tag": tag}, priority=priority))
        for handle in handles:
            await handle
    assert seen.started == ["first", "high", "high2", "mid", "low"]


async def test_a_cancelled_queued_run_leaves_the_queue_and_still_gives_a_result() -> None:
    async with podium.Engine(config=podium.Config(), max_concurrent=1, cache_url=False) as engine:
        running = await engine.submit(three_stages(0.05))
        queued = await engine.submit(three_stages(0.05))
        queued.cancel("not needed")
        result = await queued
        assert engine.runs.queued == 0
        await running
    assert result.status is podium.RunStatus.CANCELLED
    assert result["a"].reason == "not needed"


async def test_stop_with_drain_finishes_queued_and_running_runs() -> None:
    engine = podium.Engine(config=podium.Config(), max_concurrent=2, cache_url=False)
    await engine.start()
    handles = [await engine.submit(three_stages(0.01)) for _ in range(6)]
    await engine.stop(drain=True)
    results = [await h for h in handles]
    assert all(r.ok for r in results)


async def test_stop_without_drain_cancels_queued_and_running_runs_with_their_results() -> None:
    engine = podium.Engine(config=podium.Config(), max_concurrent=1, cache_url=False)
    await engine.start()
    handles = [await engine.submit(three_stages(0.5)) for _ in range(3)]
    await asyncio.sleep(0.01)
    await engine.stop()
    results = [await h for h in handles]
    assert [r.status for r in results] == [podium.RunStatus.CANCELLED] * 3
    assert results[2]["a"].reason == "the engine is shutting down"


async def test_a_draining_engine_accepts_no_new_run() -> None:
    engine = podium.Engine(config=podium.Config(), max_concurrent=1, cache_url=False)
    await engine.start()
    await engine.submit(three_stages(0.05))
    stopping = asyncio.create_task(engine.stop(drain=True))
    await asyncio.sleep(0)
    with pytest.raises(podium.PodiumError, match="accepts no new runs"):
        await engine.submit(three_stages())
    await stopping


async def test_engine_run_waits_for_a_slot_too() -> None:
    seen = Concurrency()
    async with podium.Engine(
        config=podium.Config(), max_concurrent=2, plugins=[seen], cache_url=False
    ) as engine:
        await asyncio.gather(*(engine.run(three_stages(0.005)) for _ in range(10)))
    assert seen.peak == 2


def test_max_concurrent_must_be_a_positive_integer() -> None:
    with pytest.raises(
        podium.PodiumError, match=r"Engine\(max_concurrent=...\): must be a positive integer, got 0"
    ):
        podium.Engine(config=podium.Config(), max_concurrent=0)


async def test_a_priority_that_is_not_an_integer_is_refused_before_anything_runs() -> None:
    async with podium.Engine(config=podium.Config(), max_concurrent=1, cache_url=False) as engine:
        with pytest.raises(
            podium.PodiumError, match=r"priority must be an integer \(higher runs first\), got 'high'"
        ):
            await engine.submit(three_stages(), priority="high")  # type: ignore[arg-type]
        assert engine.runs.running == 0
