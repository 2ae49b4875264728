"""Mapped stages: a stage runs once per item of a value known only at run time, each item a
visit of its own, and its dependents receive the items' values gathered in item order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from podium import StageStatus
from podium.definition.loader import load_toml

RunWorkflow = Callable[..., Awaitable[podium.RunResult]]


def workflow(strategy: str = "parallel", **options: Any) -> podium.Workflow:
    return podium.Workflow("mapping", strategy=strategy, **options)


async def test_each_item_is_a_visit_with_its_own_result_and_the_gather_is_in_item_order(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> list[str]:
        return ["a.py", "b.py", "c.py"]

    @wf.stage(map="files")
    async def review(ctx: podium.Context, files: str) -> str:
        await asyncio.sleep(0.01 * (3 - ctx.item_key))  # the last item finishes first
        return f"ok {files}"

    @wf.stage(needs=["review"])
    async def summary(review: list[str]) -> str:
        return " | ".join(review)

    result = await run_workflow(wf)
    assert result.ok
    visits = result.visits("review")
    assert sorted((v.item_key, v.visit, v.value) for v in visits) == [
        (0, 1, "ok a.py"),
        (1, 2, "ok b.py"),
        (2, 3, "ok c.py"),
    ]
    assert [v.item_key for v in visits] == [2, 1, 0]  # the history is in the order they settled
    gathered = result["review"]
    assert gathered.value == ["ok a.py", "ok b.py", "ok c.py"]
    assert isinstance(gathered.value, podium.Gathered) and gathered.value.failures == {}
    assert [item.item_key for item in gathered.items or ()] == [0, 1, 2]
    assert gathered.visit == 3
    assert result["summary"].value == "ok a.py | ok b.py | ok c.py"


async def test_items_from_a_mapping_are_keyed_and_gather_as_a_mapping(run_workflow: RunWorkflow) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> dict[str, str]:
        return {"b.py": "print(2)", "a.py": "print(1)"}

    @wf.stage(map="files")
    async def size(ctx: podium.Context, files: str) -> int:
        return len(files) + len(ctx.item_key)

    @wf.stage(needs=["size"])
    async def total(size: dict[str, int]) -> int:
        return sum(size.values())

    result = await run_workflow(wf)
    assert result["size"].value == {"b.py": 12, "a.py": 12}
    assert list(result["size"].value) == ["b.py", "a.py"]  # the mapping's order
    assert isinstance(result["size"].value, podium.GatheredDict)
    assert sorted(v.item_key for v in result.visits("size")) == ["a.py", "b.py"]
    assert result["total"].value == 24


async def test_an_empty_list_runs_no_item_and_the_gather_receives_an_empty_result(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()
    ran: list[str] = []

    @wf.stage
    async def files() -> list[str]:
        return []

    @wf.stage(map="files")
    async def review(files: str) -> str:
        ran.append(files)
        return files

    @wf.stage(map="review")
    async def fix(review: str) -> str:
        ran.append(review)
        return review

    @wf.stage(needs=["fix"])
    async def summary(fix: list[str]) -> str:
        return f"{len(fix)} fixes"

    result = await run_workflow(wf)
    assert ran == []
    assert result.visits("review") == [] and result.visits("fix") == []
    assert result["review"].status is StageStatus.SUCCEEDED and result["review"].value == []
    assert result["summary"].value == "0 fixes"


async def test_a_per_item_pipeline_has_no_barrier(run_workflow: RunWorkflow) -> None:
    wf = workflow()
    order: list[str] = []

    @wf.stage
    async def files() -> list[float]:
        return [0.15, 0.01]  # item 0 is slow, item 1 is fast

    @wf.stage(map="files")
    async def lint(files: float) -> float:
        await asyncio.sleep(files)
        order.append(f"lint {files}")
        return files

    @wf.stage(map="lint")
    async def fix(ctx: podium.Context, files: float, lint: float) -> str:
        order.append(f"fix {files}")
        return f"fixed item {ctx.item_key} after {lint}"

    result = await run_workflow(wf)
    # Item 1's second step ran while item 0's first step was still running.
    assert order == ["lint 0.01", "fix 0.01", "lint 0.15", "fix 0.15"]
    assert result["fix"].value == ["fixed item 0 after 0.15", "fixed item 1 after 0.01"]


@pytest.mark.parametrize(("cap", "peak"), [(3, 3), (None, 20)])
async def test_items_run_under_the_workflows_max_concurrency_and_all_at_once_without_one(
    cap: int | None, peak: int, run_workflow: RunWorkflow
) -> None:
    wf = workflow(max_concurrency=cap)
    running = most = 0

    @wf.stage
    async def files() -> list[int]:
        return list(range(20))

    @wf.stage(map="files")
    async def work(files: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return files

    result = await run_workflow(wf)
    assert result["work"].value == list(range(20))
    assert most == peak


@pytest.mark.parametrize(
    ("strategy", "order"),
    [
        ("parallel", ["files", "review 0", "review 1", "summary", "side"]),  # longest remaining path first
        ("sequential", ["files", "side", "review 0", "review 1", "summary"]),  # declaration order
    ],
)
async def test_items_start_in_the_order_of_the_strategys_priorities(
    strategy: str, order: list[str], run_workflow: RunWorkflow
) -> None:
    wf = workflow(strategy, max_concurrency=1)
    started: list[str] = []

    @wf.stage(estimate=0.1)
    async def files() -> list[int]:
        started.append("files")
        return [0, 1]

    @wf.stage(estimate=0.1)
    async def side() -> None:
        started.append("side")

    @wf.stage(map="files", estimate=1)
    async def review(files: int) -> int:
        started.append(f"review {files}")
        return files

    @wf.stage(needs=["review"], estimate=5)
    async def summary(review: list[int]) -> None:
        started.append("summary")

    assert (await run_workflow(wf)).ok
    assert started == order


async def test_the_sequential_strategy_runs_one_item_at_a_time_in_item_order(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow("sequential")
    order: list[str] = []

    @wf.stage
    async def files() -> list[str]:
        return ["a", "b"]

    @wf.stage(map="files")
    async def first(files: str) -> str:
        order.append(f"first {files}")
        return files

    @wf.stage(map="first")
    async def second(first: str) -> str:
        order.append(f"second {first}")
        return first

    result = await run_workflow(wf)
    assert result.ok
    assert order == ["first a", "first b", "second a", "second b"]


async def test_a_stage_mapped_over_a_mapped_one_receives_the_item_by_the_collections_name(
    run_workflow: RunWorkflow,
) -> None:
    wf = workflow()

    @wf.stage
    async def tickets() -> dict[str, str]:
        return {"T-1": "crash on start", "T-2": "typo"}

    @wf.stage(map="tickets")
    async def triage(tickets: str) -> str:
        return "urgent" if "crash" in tickets else "later"

    @wf.stage(map="triage")
    async def answer(ctx: podium.Context, tickets: str, triage: str) -> str:
        return f"{ctx.item_key} ({tickets}): {triage}"

    result = await run_workflow(wf)
    assert result["answer"].value == {"T-1": "T-1 (crash on start): urgent", "T-2": "T-2 (typo): later"}


async def test_observers_see_each_item_end_then_the_gathered_stage(run_workflow: RunWorkflow) -> None:
    wf = workflow()
    seen: list[tuple[str, Any, str, bool]] = []

    class Observer:
        @podium.hookimpl
        def podium_stage_started(self, stage: podium.Stage, ctx: podium.Context) -> None:
            seen.append(("started", ctx.item_key, stage.name, False))

        @podium.hookimpl
        def podium_stage_ended(self, stage: podium.Stage, result: podium.StageResult) -> None:
            seen.append((result.status.value, result.item_key, stage.name, result.items is not None))

    @wf.stage
    async def files() -> list[str]:
        return ["a", "b"]

    @wf.stage(map="files")
    async def review(files: str) -> str:
        return files

    await run_workflow(wf, plugins=[Observer()])
    events = [event for event in seen if event[2] == "review"]
    assert sorted(events[:-1]) == [
        ("started", 0, "review", False),
        ("started", 1, "review", False),
        ("succeeded", 0, "review", False),
        ("succeeded", 1, "review", False),
    ]
    assert events[-1] == ("succeeded", None, "review", True)


@pytest.mark.parametrize("items", [("a", "b"), (x for x in "ab"), range(2)])
async def test_any_ordered_iterable_gives_items(items: Any, run_workflow: RunWorkflow) -> None:
    wf = workflow()

    @wf.stage
    async def files() -> Any:
        return items

    @wf.stage(map="files")
    async def echo(files: Any) -> Any:
        return files

    result = await run_workflow(wf)
    assert len(result["echo"].value) == 2


def test_a_toml_stage_is_mapped_with_the_same_options(tmp_path: Path) -> None:
    (tmp_path / "toml_mapped_stages.py").write_text(
        "async def files() -> list[str]:\n    return ['a', 'b']\n"
        "async def review(files: str) -> str:\n    return files * 2\n"
    )
    path = tmp_path / "mapped.toml"
    path.write_text(
        '[workflow]\nname = "toml-map"\nstrategy = "parallel"\n'
        '[[stages]]\nrun = "toml_mapped_stages:files"\n'
        '[[stages]]\nrun = "toml_mapped_stages:review"\nmap = "files"\npartial = true\n'
    )
    wf = load_toml(path)
    assert (wf.stages["review"].map, wf.stages["review"].partial) == ("files", True)
    result = podium.run_sync(wf)
    assert result["review"].value == ["aa", "bb"]
