"""Fan-out and fan-in with the result cache: each item has its own key (the item is part of its
inputs), and a join over many stages is ordinary code whose source the cache can hash."""

from __future__ import annotations

from typing import Any

import podium
from podium import StageStatus


def review_workflow(items: Any, calls: list[Any], **stage: Any) -> podium.Workflow:
    wf = podium.Workflow("cached-map", strategy="parallel")

    @wf.stage
    async def files() -> Any:
        return items

    @wf.stage(map="files", cache=True, **stage)
    async def review(files: str) -> str:
        calls.append(files)
        return f"review of {files}"

    return wf


async def run_twice(*workflows: podium.Workflow) -> list[podium.RunResult]:
    async with podium.Engine(config=podium.Config(), cache_url="memory://") as engine:
        return [await engine.run(wf) for wf in workflows]


async def test_each_item_is_cached_on_its_own_and_a_new_item_misses_only_itself() -> None:
    calls: list[Any] = []
    first, reordered, grown = await run_twice(
        review_workflow(["a", "b"], calls),
        review_workflow(["b", "a"], calls),
        review_workflow(["b", "c", "a"], calls),
    )
    assert calls == ["a", "b", "c"]
    assert {v.status for v in reordered.visits("review")} == {StageStatus.CACHED}
    assert {v.item_key: v.status for v in grown.visits("review")} == {
        0: StageStatus.CACHED,
        1: StageStatus.SUCCEEDED,
        2: StageStatus.CACHED,
    }
    assert grown["review"].value == ["review of b", "review of c", "review of a"]
    assert first["review"].value == ["review of a", "review of b"]


async def test_the_key_of_an_item_from_a_mapping_is_part_of_its_cache_key() -> None:
    calls: list[Any] = []
    _, again = await run_twice(
        review_workflow({"x.py": "same", "y.py": "same"}, calls),
        review_workflow({"y.py": "same"}, calls),
    )
    assert calls == ["same", "same"]  # equal values under two keys are two calls
    assert [v.status for v in again.visits("review")] == [StageStatus.CACHED]


async def test_the_failures_of_a_partial_gather_are_part_of_a_dependents_cache_key() -> None:
    summaries: list[Any] = []

    def workflow(items: dict[str, str]) -> podium.Workflow:
        wf = podium.Workflow("partial-cache", strategy="parallel")

        @wf.stage
        async def files() -> dict[str, str]:
            return items

        @wf.stage(map="files", partial=True)
        async def review(files: str) -> str:
            if files == "broken":
                raise ValueError("cannot read")
            return files

        @wf.stage(needs=["review"], cache=True)
        async def summary(review: podium.GatheredDict[str, str]) -> str:
            summaries.append(dict(review))
            return f"{len(review)} reviewed, {len(review.failures)} failed"

        return wf

    with_failure, without, again = await run_twice(
        workflow({"a": "fine", "b": "broken"}), workflow({"a": "fine"}), workflow({"a": "fine"})
    )
    assert with_failure["summary"].value == "1 reviewed, 1 failed"
    assert without["summary"].value == "1 reviewed, 0 failed"
    assert again["summary"].status is StageStatus.CACHED
    assert summaries == [{"a": "fine"}, {"a": "fine"}]


async def test_a_thousand_way_join_is_ordinary_code_whose_source_the_cache_hashes() -> None:
    wf = podium.Workflow("wide-join", strategy="parallel")

    async def part(ctx: podium.Context) -> int:
        return int(ctx.stage.name.removeprefix("part"))

    for n in range(1000):
        wf.add_stage(part, name=f"part{n}", version="1")

    @wf.stage(needs=[f"part{n}" for n in range(1000)], cache=True)
    async def join(**upstream: int) -> int:
        return sum(upstream.values())

    assert wf.stages["join"].version is not None  # from the source: no version= needed
    first, second = await run_twice(wf, wf)
    assert first["join"].value == sum(range(1000))
    assert second["join"].status is StageStatus.CACHED


async def test_an_upstream_mapping_takes_what_no_named_parameter_does() -> None:
    wf = podium.Workflow("fan-in", strategy="conditional")

    @wf.stage(route=lambda _: ["left", "both"])
    async def start() -> str:
        return "s"

    @wf.stage(needs=["start"])
    async def left(start: str) -> str:
        return "L"

    @wf.stage(needs=["start"])
    async def right(start: str) -> str:
        return "R"

    @wf.stage(needs=["start"])
    async def both(start: str) -> str:
        return "B"

    @wf.stage(needs_any=["left", "right", "both"])
    async def report(both: str, **upstream: str) -> str:
        return f"{both}:{sorted(upstream.items())}"

    (result,) = await run_twice(wf)
    # Named parameters take theirs; branches that did not run for the join are left out.
    assert result["report"].value == "B:[('left', 'L')]"
