"""The parallel strategy in concrete scenarios: event-driven starts, caps, failures, cancellation."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

import podium
import podium_parallel
from podium import Config, Engine, RunResult, RunStatus, StageStatus, create_plugin_manager, hookimpl


class Finished:
    """Observer plugin keeping the results announced by ``podium_workflow_ended``."""

    def __init__(self) -> None:
        self.results: list[RunResult] = []

    @hookimpl
    def podium_workflow_ended(self, result: RunResult) -> None:
        self.results.append(result)


def engine(*plugins: object) -> Engine:
    pm = create_plugin_manager(autoload=False, plugins=[podium_parallel, *plugins])
    return Engine(config=Config(), plugin_manager=pm)


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_installed_entry_point_registers_the_parallel_strategy() -> None:
    async with Engine(config=Config()) as discovered:
        assert isinstance(discovered.strategies["parallel"], podium_parallel.ParallelStrategy)


async def test_a_stage_starts_when_its_own_dependencies_finish_not_when_its_level_does() -> None:
    # `late` waits for `quick_child`, which sits on the same level as `late`'s siblings:
    # a level-by-level scheduler would wait for `late` before starting `quick_child` and hang.
    wf = podium.Workflow("event-driven", strategy="parallel", timeout=5)
    child_ran = asyncio.Event()

    @wf.stage
    async def quick() -> str:
        return "q"

    @wf.stage
    async def late() -> str:
        await child_ran.wait()
        return "l"

    @wf.stage(needs=["quick"])
    async def quick_child(quick: str) -> str:
        child_ran.set()
        return quick + "c"

    async with engine() as e:
        result = await e.run(wf)
    assert result.ok
    assert result.outputs == {"quick": "q", "late": "l", "quick_child": "qc"}


async def test_the_cap_binds_and_the_longest_remaining_path_starts_first() -> None:
    wf = podium.Workflow("capped", strategy="parallel", max_concurrency=1)
    order: list[str] = []

    def stage(name: str, estimate: float, needs: tuple[str, ...] = ()) -> None:
        async def body() -> str:
            order.append(name)
            return name

        wf.add_stage(body, name=name, needs=needs, estimate=estimate)

    stage("short", 1.0)  # declared first, but its path is the shortest
    stage("long_head", 1.0)
    stage("long_tail", 5.0, needs=("long_head",))
    stage("medium", 3.0)
    async with engine() as e:
        result = await e.run(wf)
    assert result.ok
    assert order == ["long_head", "long_tail", "medium", "short"]


async def test_equal_paths_start_in_declaration_order() -> None:
    wf = podium.Workflow("ties", strategy="parallel", max_concurrency=1)
    order: list[str] = []
    for name in ["c", "a", "b"]:

        async def body(name: str = name) -> None:
            order.append(name)

        wf.add_stage(body, name=name, estimate=2.0)
    async with engine() as e:
        await e.run(wf)
    assert order == ["c", "a", "b"]


async def test_without_estimates_the_moving_average_of_past_runs_orders_a_capped_run() -> None:
    wf = podium.Workflow("learned", strategy="parallel", max_concurrency=1)
    order: list[str] = []

    async def quick() -> None:
        order.append("quick")

    async def slow() -> None:
        order.append("slow")
        await asyncio.sleep(0.05)

    wf.add_stage(quick, name="quick")
    wf.add_stage(slow, name="slow")
    async with engine() as e:
        await e.run(wf)
        assert order == ["quick", "slow"]  # nothing learned yet: declaration order
        order.clear()
        await e.run(wf)
    assert order == ["slow", "quick"]


async def test_a_failure_skips_its_dependents_by_name_and_independent_branches_go_on() -> None:
    wf = podium.Workflow("failure", strategy="parallel")

    @wf.stage
    async def broken() -> str:
        raise ValueError("no")

    @wf.stage(needs=["broken"])
    async def child(broken: str) -> str:
        return broken

    @wf.stage(needs=["child"])
    async def grandchild(child: str) -> str:
        return child

    @wf.stage
    async def independent() -> str:
        await asyncio.sleep(0.01)
        return "fine"

    async with engine() as e:
        result = await e.run(wf)
    assert result.status is RunStatus.FAILED
    assert result["broken"].status is StageStatus.FAILED
    assert result["child"].reason == "dependency 'broken' failed"
    assert result["grandchild"].reason == "dependency 'broken' failed"
    assert result["independent"].value == "fine"


async def test_fail_fast_cancels_running_stages_and_reports_them_cancelled() -> None:
    wf = podium.Workflow("fast-fail", strategy="parallel", fail_fast=True)
    slow_started = asyncio.Event()

    @wf.stage
    async def slow() -> str:
        slow_started.set()
        await asyncio.sleep(30)
        return "never"

    @wf.stage
    async def broken() -> None:
        await slow_started.wait()
        raise RuntimeError("boom")

    @wf.stage(needs=["slow"])
    async def after_slow(slow: str) -> str:
        return slow

    async with engine() as e:
        result = await e.run(wf)
    assert result.status is RunStatus.FAILED
    assert result["slow"].status is StageStatus.CANCELLED
    assert result["slow"].reason == "fail_fast: stage 'broken' failed"
    assert result["after_slow"].reason == "dependency 'slow' was cancelled"
    assert not other_tasks()


async def test_cancelling_the_caller_cancels_every_stage_and_announces_what_finished() -> None:
    finished = Finished()
    wf = podium.Workflow("cancel-outside", strategy="parallel")
    blocked = asyncio.Event()

    @wf.stage
    async def done() -> str:
        return "kept"

    @wf.stage
    async def hanging() -> None:
        blocked.set()
        await asyncio.sleep(30)

    @wf.stage(needs=["hanging"])
    async def after(hanging: None) -> None:
        return None

    async with engine(finished) as e:
        task = asyncio.create_task(e.run(wf))
        await blocked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not other_tasks()
    (result,) = finished.results
    assert result.status is RunStatus.CANCELLED
    assert result["done"].value == "kept"
    assert result["hanging"].status is StageStatus.CANCELLED
    assert result["after"].status is StageStatus.SKIPPED


async def test_a_submitted_run_cancelled_through_its_handle_returns_what_finished() -> None:
    wf = podium.Workflow("cancel-handle", strategy="parallel")
    blocked = asyncio.Event()

    @wf.stage
    async def done() -> str:
        return "kept"

    @wf.stage
    async def hanging() -> None:
        blocked.set()
        await asyncio.sleep(30)

    async with engine() as e:
        handle = await e.submit(wf)
        await blocked.wait()
        handle.cancel()
        result = await handle
        assert not other_tasks()
    assert result.status is RunStatus.CANCELLED
    assert result["done"].value == "kept"
    assert result["hanging"].status is StageStatus.CANCELLED
    assert result["hanging"].reason == "cancelled by the caller"
    assert handle.run.result is result


async def test_a_submitted_run_whose_task_is_cancelled_still_has_its_result() -> None:
    wf = podium.Workflow("cancel-task", strategy="parallel")
    blocked = asyncio.Event()

    @wf.stage
    async def hanging() -> None:
        blocked.set()
        await asyncio.sleep(30)

    async with engine() as e:
        handle = await e.submit(wf)
        await blocked.wait()
        handle.task.cancel()
        result = await handle.result()
    assert result.status is RunStatus.CANCELLED
    assert result["hanging"].status is StageStatus.CANCELLED


async def test_the_workflow_timeout_cancels_running_stages_and_keeps_finished_ones() -> None:
    wf = podium.Workflow("timeout", strategy="parallel", timeout=0.05)

    @wf.stage
    async def quick() -> int:
        return 1

    @wf.stage
    async def endless() -> None:
        await asyncio.sleep(30)

    async with engine() as e:
        result = await e.run(wf)
        assert not other_tasks()
    assert result.status is RunStatus.TIMED_OUT
    assert result["quick"].value == 1
    assert result["endless"].status is StageStatus.CANCELLED
    assert result["endless"].reason == "workflow timed out after 0.05s"


async def test_a_failure_at_the_head_of_a_very_long_chain_skips_it_all_without_recursion() -> None:
    wf = podium.Workflow("long-chain", strategy="parallel")

    async def head() -> None:
        raise ValueError("head")

    wf.add_stage(head, name="n0")
    for i in range(1, 5000):

        async def link() -> None:
            return None

        wf.add_stage(link, name=f"n{i}", needs=[f"n{i - 1}"])
    async with engine() as e:
        result = await e.run(wf)
    assert result["n4999"].reason == "dependency 'n0' failed"
    assert sum(r.status is StageStatus.SKIPPED for r in result.values()) == 4999


async def test_cache_retry_fallback_and_thread_stages_mix_with_plain_ones() -> None:
    wf = podium.Workflow("mixed", strategy="parallel", max_concurrency=2)
    attempts: list[int] = []

    @wf.stage(cache=podium.CachePolicy(), version="1")
    async def cached() -> str:
        return "computed"

    @wf.stage(retry=podium.Retry(attempts=2, delay=0))
    async def flaky(ctx: podium.Context) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("transient")
        return ctx.attempt

    @wf.stage(fallback="fallback value")
    async def broken() -> str:
        raise ValueError("always")

    @wf.stage(needs=["cached", "flaky", "broken"])
    def in_a_thread(cached: str, flaky: int, broken: str) -> str:
        return f"{cached}/{flaky}/{broken}"

    pm = create_plugin_manager(autoload=False, plugins=[podium_parallel])
    async with Engine(config=Config(), plugin_manager=pm, cache_url="memory://") as e:
        first = await e.run(wf)
        second = await e.run(wf)
    assert first["in_a_thread"].value == "computed/2/fallback value"
    assert first["broken"].fallback
    assert attempts == [1, 2, 1, 2]
    assert second["cached"].status is StageStatus.CACHED
    assert second["in_a_thread"].value == "computed/2/fallback value"


async def test_a_spent_budget_stops_new_stages_and_keeps_what_finished() -> None:
    wf = podium.Workflow("budget", strategy="parallel", budget=podium.Budget(tokens=100))

    @wf.stage
    async def spender(ctx: podium.Context) -> str:
        ctx.record_usage(input_tokens=150, output_tokens=10)
        return "spent"

    @wf.stage(needs=["spender"])
    async def later(spender: str) -> str:
        return spender

    async with engine() as e:
        result = await e.run(wf)
    assert result.status is RunStatus.BUDGET_EXCEEDED
    assert result["spender"].value == "spent"
    assert result["later"].reason == "budget exceeded: tokens 160 > 100"


async def test_a_context_variable_set_in_stage_started_reaches_the_stage_body() -> None:
    current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="unset")

    class Tracer:
        @hookimpl
        def podium_stage_started(self, stage: podium.Stage) -> None:
            current.set(f"span of {stage.name}")

    wf = podium.Workflow("traced", strategy="parallel")

    @wf.stage
    async def first() -> str:
        return current.get()

    @wf.stage(needs=["first"])
    async def second(first: str) -> str:
        return current.get()

    async with engine(Tracer()) as e:
        result = await e.run(wf)
    assert result.outputs == {"first": "span of first", "second": "span of second"}


async def test_a_plain_stage_result_describes_its_single_attempt_fully() -> None:
    wf = podium.Workflow("plain", strategy="parallel")

    @wf.stage
    async def plain() -> str:
        await asyncio.sleep(0.01)
        return "done"

    async with engine() as e:
        result = (await e.run(wf))["plain"]
    assert (result.name, result.status, result.value) == ("plain", StageStatus.SUCCEEDED, "done")
    assert (result.error, result.reason, result.route, result.fallback) == (None, None, None, False)
    assert (result.attempts, result.visit) == (1, 1)
    assert result.started_at is not None
    assert result.finished_at is not None
    assert result.started_at < result.finished_at
    assert result.duration_s >= 0.01
    assert result.usage == podium.Usage()
    assert result.saved == podium.Usage()


async def test_stopping_the_engine_cancels_submitted_runs_and_their_handles_keep_the_results() -> None:
    wf = podium.Workflow("submitted", strategy="parallel")

    @wf.stage
    async def quick() -> str:
        return "done"

    @wf.stage(needs=["quick"])
    async def slow(quick: str) -> None:
        await asyncio.sleep(60)

    engine = podium.Engine(config=podium.Config(), cache_url=False)
    await engine.start()
    handle = await engine.submit(wf)
    await asyncio.sleep(0.05)
    await engine.stop()
    result = await handle
    assert result.status is podium.RunStatus.CANCELLED
    assert result["quick"].value == "done"
    assert result["slow"].reason == "the engine is shutting down"
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("podium")]
