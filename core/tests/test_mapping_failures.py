"""Mapped stages when things go wrong: failed items, partial gathers, retries and fallbacks
per item, budgets, fail_fast, timeouts and cancellation; and usage per item."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import podium
from podium import GatherError, RunStatus, StageStatus

RunWorkflow = Callable[..., Awaitable[podium.RunResult]]


def workflow(strategy: str = "parallel", **options: Any) -> podium.Workflow:
    return podium.Workflow("mapping", strategy=strategy, **options)


async def test_a_failed_item_fails_the_stage_by_default_and_keeps_the_others(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> list[str]:
        return ["a", "bad", "c"]

    @wf.stage(map="files")
    async def review(files: str) -> str:
        if files == "bad":
            raise ValueError("cannot parse bad")
        return files.upper()

    @wf.stage(needs=["review"])
    async def summary(review: list[str]) -> str:
        return ",".join(review)

    result = await run_workflow(wf)
    assert result.status is RunStatus.FAILED
    gathered = result["review"]
    assert gathered.status is StageStatus.FAILED
    assert isinstance(gathered.error, GatherError)
    assert str(gathered.error) == (
        "1 of 3 items of stage 'review' did not succeed: [1] failed: ValueError: cannot parse bad "
        "(partial=True would pass on the items that did)"
    )
    assert list(gathered.error.failures) == [1]
    assert {v.item_key: v.value for v in result.visits("review") if v.ok} == {0: "A", 2: "C"}
    assert result["summary"].reason == "dependency 'review' failed"


async def test_a_partial_stage_passes_the_successes_with_the_failures_listed(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> dict[str, str]:
        return {"a.py": "x", "b.py": "!", "c.py": "y"}

    @wf.stage(map="files", partial=True)
    async def review(files: str) -> str:
        if files == "!":
            raise ValueError("unreadable")
        return files

    @wf.stage(needs=["review"])
    async def summary(review: podium.GatheredDict[str, str]) -> str:
        failed = {key: str(result.error) for key, result in review.failures.items()}
        return f"reviewed {sorted(review)}, failed {failed}"

    result = await run_workflow(wf)
    assert result.ok and result["review"].status is StageStatus.SUCCEEDED
    assert result["summary"].value == "reviewed ['a.py', 'c.py'], failed {'b.py': 'unreadable'}"
    assert [v.status for v in result.visits("review") if v.item_key == "b.py"] == [StageStatus.FAILED]


async def test_each_item_has_its_own_retries_and_timeout(run_workflow: RunWorkflow) -> None:
    wf = workflow()
    calls: dict[str, int] = {}

    @wf.stage
    async def files() -> list[str]:
        return ["flaky", "slow", "fine"]

    @wf.stage(map="files", partial=True, timeout=0.05, retry=podium.Retry(attempts=2, delay=0))
    async def review(files: str) -> str:
        calls[files] = calls.get(files, 0) + 1
        if files == "flaky" and calls[files] == 1:
            raise ConnectionError("try again")
        if files == "slow":
            await asyncio.sleep(1)
        return files

    result = await run_workflow(wf)
    by_item = {v.item_key: v for v in result.visits("review")}
    assert (by_item[0].status, by_item[0].attempts) == (StageStatus.SUCCEEDED, 2)
    assert (by_item[1].status, by_item[1].attempts) == (StageStatus.FAILED, 2)
    assert isinstance(by_item[1].error, podium.StageTimeout)
    assert (by_item[2].status, by_item[2].attempts) == (StageStatus.SUCCEEDED, 1)
    assert result["review"].value == ["flaky", "fine"]


async def test_a_fallback_applies_per_item(run_workflow: RunWorkflow) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> list[int]:
        return [1, 0, 2]

    @wf.stage(map="files", fallback=-1)
    async def invert(files: int) -> float:
        return 1 / files

    result = await run_workflow(wf)
    assert result["invert"].value == [1.0, -1, 0.5]
    assert [v.fallback for v in sorted(result.visits("invert"), key=lambda v: v.item_key)] == [
        False,
        True,
        False,
    ]


async def test_each_item_records_its_own_usage_and_the_visits_add_up_to_the_run(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> list[str]:
        return ["short", "a much longer text"]

    @wf.stage(map="files")
    async def review(ctx: podium.Context, files: str) -> str:
        ctx.record_usage(model="claude-sonnet-4-5", input_tokens=len(files), output_tokens=10)
        return (await ctx.agent("reviewer").complete(files)).text

    agent = podium.SimulatedAgent("fine", input_tokens=100, output_tokens=0)
    result = await run_workflow(wf, agents={"reviewer": agent})
    visits = {v.item_key: v for v in result.visits("review")}
    assert {k: v.usage.total_tokens for k, v in visits.items()} == {0: 115, 1: 128}
    assert visits[0].cost_usd > 0 and visits[1].cost_usd > visits[0].cost_usd
    assert result["review"].usage.total_tokens == 243
    assert result["review"].cost_usd == pytest.approx(visits[0].cost_usd + visits[1].cost_usd)
    assert sum(v.usage.total_tokens for v in result.history) == result.usage.total_tokens == 243


async def test_the_budget_is_checked_before_each_item(run_workflow: RunWorkflow) -> None:
    wf = workflow(max_concurrency=1, budget=podium.Budget(tokens=25))

    @wf.stage
    async def files() -> list[str]:
        return ["one", "two", "three", "four"]

    @wf.stage(map="files", partial=True)
    async def review(ctx: podium.Context, files: str) -> str:
        ctx.record_usage(input_tokens=10)
        return files

    result = await run_workflow(wf)
    assert result.status is RunStatus.BUDGET_EXCEEDED
    statuses = [(v.item_key, v.status) for v in result.visits("review")]
    assert statuses[:3] == [
        (0, StageStatus.SUCCEEDED),
        (1, StageStatus.SUCCEEDED),
        (2, StageStatus.SUCCEEDED),
    ]
    assert statuses[3] == (3, StageStatus.SKIPPED)
    assert result.visits("review")[3].reason == "budget exceeded: tokens 30 > 25"
    assert result["review"].value == ["one", "two", "three"]


async def test_fail_fast_stops_the_other_items_at_the_first_failed_one(run_workflow: RunWorkflow) -> None:
    wf = workflow(fail_fast=True)

    @wf.stage
    async def files() -> list[float]:
        return [0.0, 5.0, 5.0]

    @wf.stage(map="files")
    async def review(files: float) -> float:
        if files == 0.0:
            raise ValueError("broken")
        await asyncio.sleep(files)
        return files

    result = await run_workflow(wf)
    assert result.status is RunStatus.FAILED
    assert result.duration_s < 4
    statuses = sorted((v.item_key, v.status, v.reason) for v in result.visits("review"))
    assert statuses == [
        (0, StageStatus.FAILED, None),
        (1, StageStatus.CANCELLED, "fail_fast: stage 'review' failed"),
        (2, StageStatus.CANCELLED, "fail_fast: stage 'review' failed"),
    ]


async def test_a_failed_item_skips_the_same_item_downstream_and_explains_why(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> list[str]:
        return ["a", "bad"]

    @wf.stage(map="files")
    async def lint(files: str) -> str:
        if files == "bad":
            raise ValueError("syntax error")
        return files

    @wf.stage(map="lint")
    async def fix(lint: str) -> str:
        return lint + " fixed"

    @wf.stage(needs=["fix"])
    async def summary(fix: list[str]) -> str:
        return ",".join(fix)

    result = await run_workflow(wf)
    fixes = {v.item_key: (v.status, v.reason) for v in result.visits("fix")}
    assert fixes == {
        0: (StageStatus.SUCCEEDED, None),
        1: (StageStatus.SKIPPED, "dependency 'lint' failed on item [1]"),
    }
    assert result["fix"].status is StageStatus.SKIPPED
    assert result["summary"].reason == "dependency 'lint' failed on item [1]"
    assert result["lint"].status is StageStatus.FAILED


async def test_a_stage_mapped_over_a_stage_that_could_not_map_is_skipped_as_a_whole(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> int:
        return 42

    @wf.stage(map="files")
    async def lint(files: str) -> str:
        return files

    @wf.stage(map="lint")
    async def fix(lint: str) -> str:
        return lint

    result = await run_workflow(wf)
    assert result["lint"].status is StageStatus.FAILED
    assert result.visits("fix") == [result["fix"]]
    assert (result["fix"].status, result["fix"].reason) == (StageStatus.SKIPPED, "dependency 'lint' failed")


async def test_cancelling_a_run_cancels_its_running_items_and_keeps_the_finished_ones() -> None:
    wf = workflow()

    @wf.stage
    async def files() -> list[float]:
        return [0.0, 60.0]

    @wf.stage(map="files")
    async def review(files: float) -> float:
        await asyncio.sleep(files)
        return files

    async with podium.Engine(config=podium.Config(), cache_url=False) as engine:
        handle = await engine.submit(wf)
        await asyncio.sleep(0.05)
        handle.cancel()
        result = await handle
    assert result.status is RunStatus.CANCELLED
    statuses = sorted((v.item_key, v.status) for v in result.visits("review"))
    assert statuses == [(0, StageStatus.SUCCEEDED), (1, StageStatus.CANCELLED)]
    assert (result["review"].status, result["review"].reason) == (
        StageStatus.CANCELLED,
        "cancelled by the caller",
    )


async def test_a_plain_function_maps_on_threads_and_a_workflow_timeout_cancels_what_runs(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow(timeout=0.3)

    @wf.stage
    async def files() -> list[float]:
        return [0.0, 5.0]

    @wf.stage(map="files")
    def upper(files: float) -> str:  # a plain function: each item on the thread executor
        return str(files)

    @wf.stage(map="files")
    async def slow(files: float) -> float:
        await asyncio.sleep(files)
        return files

    @wf.stage(needs=["slow"])
    async def summary(slow: list[float]) -> str:
        return "done"

    result = await run_workflow(wf)
    assert result.status is RunStatus.TIMED_OUT
    assert result["upper"].value == ["0.0", "5.0"]
    assert sorted((v.item_key, v.status) for v in result.visits("slow")) == [
        (0, StageStatus.SUCCEEDED),
        (1, StageStatus.CANCELLED),
    ]
    # Only cancelled items (none failed): the stage was cancelled, and says why.
    assert (result["slow"].status, result["slow"].reason) == (
        StageStatus.CANCELLED,
        "workflow timed out after 0.3s",
    )
    assert result["summary"].reason == "dependency 'slow' was cancelled"
