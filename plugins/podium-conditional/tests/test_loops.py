"""Bounded loops: a route back to an earlier stage, at most ``max_visits`` times, each visit kept."""

from __future__ import annotations

import asyncio

import pytest

import podium
import podium_conditional
import podium_sequential
from podium import (
    Config,
    DefinitionError,
    Engine,
    RoutingError,
    RunStatus,
    StageStatus,
    create_plugin_manager,
)


def engine() -> Engine:
    pm = create_plugin_manager(autoload=False, plugins=[podium_conditional, podium_sequential])
    return Engine(config=Config(), plugin_manager=pm)


def review_loop(approve_on: int, max_visits: int = 3) -> podium.Workflow:
    """implement -> review -(rejected)-> fix -> review ... -(approved)-> ship -> report."""
    wf = podium.Workflow("review-loop", strategy="conditional")

    @wf.stage
    async def implement() -> str:
        return "v1"

    @wf.stage(
        needs=["implement"],
        max_visits=max_visits,
        route=lambda verdict: "ship" if verdict["approved"] else "fix",
    )
    async def review(ctx: podium.Context, implement: str) -> dict[str, object]:
        draft = ctx.latest("fix", implement)  # the latest fix once there is one
        return {"draft": draft, "approved": ctx.visit >= approve_on, "visit": ctx.visit}

    @wf.stage(needs=["review"], route=lambda _: "review")
    async def fix(ctx: podium.Context, review: dict[str, object]) -> str:
        return f"v{ctx.visit + 1}"

    @wf.stage(needs=["review"])
    async def ship(review: dict[str, object]) -> str:
        return f"shipped {review['draft']}"

    @wf.stage(needs_any=["fix", "ship"])
    async def report(ship: str | None = None) -> str:
        return f"report: {ship}"

    return wf


async def test_review_fix_review_loops_until_approved_and_records_each_visit() -> None:
    async with engine() as e:
        result = await e.run(review_loop(approve_on=3))
    assert result.ok
    assert result["ship"].value == "shipped v3"
    assert result["report"].value == "report: shipped v3"
    assert result["review"].visit == 3
    assert [r.visit for r in result.visits("review")] == [1, 2, 3]
    reviews = [r for r in result.history if r.name == "review"]
    assert [r.value["visit"] for r in reviews] == [1, 2, 3]
    assert [r.value["draft"] for r in reviews] == ["v1", "v2", "v3"]
    assert [r.route for r in reviews] == [("fix",), ("fix",), ("ship",)]
    fixes = [r for r in result.history if r.name == "fix" and r.status is StageStatus.SUCCEEDED]
    assert [r.route for r in fixes] == [("review",), ("review",)]
    assert sum(r.name == "implement" for r in result.history) == 1


async def test_a_loop_that_does_not_converge_stops_at_max_visits_with_a_clear_error() -> None:
    async with engine() as e:
        result = await e.run(review_loop(approve_on=99, max_visits=2))
    assert result.status is RunStatus.FAILED
    error = result["fix"].error
    assert isinstance(error, RoutingError)
    assert "routed back to 'review', which already had 2 visit(s) (max_visits=2)" in str(error)
    assert result["ship"].reason == "not chosen by the route of 'review' (chose fix)"
    assert result["report"].reason == "none of its needs_any ran ('fix', 'ship')"


async def test_a_stage_may_route_back_to_itself_when_it_allows_visits() -> None:
    wf = podium.Workflow("retry-self", strategy="conditional")

    @wf.stage(max_visits=4, route=lambda n: "poll" if n < 3 else "use")
    async def poll(ctx: podium.Context) -> int:
        return ctx.visit

    @wf.stage(needs=["poll"])
    async def use(poll: int) -> str:
        return f"got {poll}"

    async with engine() as e:
        result = await e.run(wf)
    assert result["use"].value == "got 3"
    assert [r.value for r in result.history if r.name == "poll"] == [1, 2, 3]


async def test_a_loop_back_supersedes_a_running_visit_of_a_stage_in_the_loop() -> None:
    # `slow_side` depends on `draft`; when `check` loops back to `draft`, the running
    # `slow_side` belongs to a stale draft: it is cancelled and runs again on the new one.
    wf = podium.Workflow("supersede", strategy="conditional")
    side_started = asyncio.Event()

    @wf.stage(max_visits=2)
    async def draft(ctx: podium.Context) -> int:
        return ctx.visit

    @wf.stage(needs=["draft"])
    async def slow_side(draft: int) -> str:
        if draft == 1:
            side_started.set()
            await asyncio.sleep(30)
        return f"side of draft {draft}"

    @wf.stage(needs=["draft"], route=lambda d: "draft" if d == 1 else "done")
    async def check(draft: int) -> int:
        await side_started.wait()
        return draft

    @wf.stage(needs=["check"])
    async def done(check: int) -> str:
        return f"done with {check}"

    wf.timeout = 5
    async with engine() as e:
        result = await e.run(wf)
    assert result.ok
    assert result["slow_side"].value == "side of draft 2"
    stale = [r for r in result.history if r.name == "slow_side" and r.status is StageStatus.CANCELLED]
    assert len(stale) == 1
    assert stale[0].reason == "superseded: 'check' looped back to 'draft'"
    assert result["done"].value == "done with 2"


async def test_a_route_cannot_loop_back_and_go_forward_at_once() -> None:
    wf = podium.Workflow("mixed", strategy="conditional")

    @wf.stage(max_visits=2)
    async def start() -> int:
        return 1

    @wf.stage(needs=["start"], route=lambda _: ["start", "after"])
    async def middle(start: int) -> int:
        return start

    @wf.stage(needs=["middle"])
    async def after(middle: int) -> int:
        return middle

    async with engine() as e:
        result = await e.run(wf)
    error = result["middle"].error
    assert isinstance(error, RoutingError)
    assert "a route either loops back or goes forward" in str(error)


async def test_loops_need_a_strategy_that_allows_them() -> None:
    wf = review_loop(approve_on=1)
    wf.strategy = "sequential"
    async with engine() as e:
        with pytest.raises(DefinitionError, match="strategies installed that route: conditional"):
            await e.run(wf)


async def test_a_mapping_route_may_loop_only_back_to_an_earlier_stage() -> None:
    wf = podium.Workflow("sideways", strategy="conditional")

    @wf.stage
    async def start() -> int:
        return 1

    @wf.stage(needs=["start"], max_visits=2)
    async def sibling(start: int) -> int:
        return start

    @wf.stage(needs=["start"], route={1: "sibling"})
    async def decide(start: int) -> int:
        return start

    @wf.stage(needs=["decide"])
    async def after(decide: int) -> int:
        return decide

    with pytest.raises(
        DefinitionError, match="'decide' routes to 'sibling', which is not one of its dependents"
    ):
        async with engine() as e:
            e.prepare(wf, None)


async def test_a_loop_back_to_a_stage_that_is_always_skipped_is_still_bounded() -> None:
    wf = podium.Workflow("skipped-target", strategy="conditional")

    @wf.stage
    async def broken() -> None:
        raise ValueError("never works")

    @wf.stage(needs=["broken"], max_visits=3)
    async def target(broken: None) -> str:
        return "unreachable"

    @wf.stage
    async def other() -> str:
        return "ok"

    @wf.stage(needs_any=["target", "other"], route=lambda _: "target")
    async def insists(target: str | None = None, other: str | None = None) -> str:
        return "again"

    wf.timeout = 5
    async with engine() as e:
        result = await e.run(wf)
    assert result["target"].status is StageStatus.SKIPPED
    visits = [r.status for r in result.history if r.name == "insists"]
    assert visits == [StageStatus.SUCCEEDED, StageStatus.SUCCEEDED, StageStatus.FAILED]
    error = result["insists"].error
    assert isinstance(error, RoutingError)
    assert "which already had 3 visit(s) (max_visits=3)" in str(error)


async def test_a_join_reset_by_a_loop_is_skipped_for_its_failed_need_not_for_its_branches() -> None:
    wf = podium.Workflow("loop-join", strategy="conditional")
    seen: list[int] = []

    @wf.stage
    async def broken() -> None:
        raise RuntimeError("boom")

    @wf.stage(max_visits=2, route=lambda _: "head" if len(seen) < 2 else "branch")
    async def head() -> None:
        seen.append(1)

    @wf.stage(needs=["head", "broken"])
    async def branch() -> None: ...

    @wf.stage(needs=["broken"], needs_any=["branch"])
    async def join(broken: None, branch: None = None) -> None: ...

    async with engine() as started:
        result = await started.run(wf)
    assert result["head"].visit == 2
    assert result["branch"].reason == "dependency 'broken' failed"
    assert result["join"].reason == "dependency 'broken' failed"
