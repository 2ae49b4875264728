"""Routing under the conditional strategy: picked branches, skipped branches, joins, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

import podium
import podium_conditional
import podium_parallel
from podium import (
    Config,
    DefinitionError,
    Engine,
    RoutingError,
    RunStatus,
    Stage,
    StageStatus,
    create_plugin_manager,
    hookimpl,
)
from podium.testing import HookRecorder


class RouteLog:
    """Observer plugin recording ``podium_route_taken`` events."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []

    @hookimpl
    def podium_route_taken(self, stage: Stage, targets: Sequence[str], skipped: Sequence[str]) -> None:
        self.taken.append((stage.name, tuple(targets), tuple(skipped)))


def engine(*plugins: object) -> Engine:
    pm = create_plugin_manager(autoload=False, plugins=[podium_conditional, *plugins])
    return Engine(config=Config(), plugin_manager=pm)


def review_workflow(verdict: str) -> podium.Workflow:
    wf = podium.Workflow("review", strategy="conditional")

    @wf.stage
    async def implement() -> str:
        return "code"

    @wf.stage(needs=["implement"], route=lambda v: "ship" if v == "approved" else "fix")
    async def review(implement: str) -> str:
        return verdict

    @wf.stage(needs=["review"])
    async def fix(review: str) -> str:
        return "fixed"

    @wf.stage(needs=["fix"])
    async def refix(fix: str) -> str:
        return fix + " again"

    @wf.stage(needs=["review"])
    async def ship(review: str) -> str:
        return "shipped"

    @wf.stage(needs_any=["refix", "ship"])
    async def report(refix: str | None = None, ship: str | None = None) -> str:
        return f"refix={refix} ship={ship}"

    return wf


async def test_installed_entry_points_register_the_strategy_and_both_routers() -> None:
    async with Engine(config=Config()) as discovered:
        assert isinstance(discovered.strategies["conditional"], podium_conditional.ConditionalStrategy)
        assert discovered.pm.has_plugin("conditional_classifier")


async def test_the_route_runs_the_picked_dependent_and_skips_the_branch_it_did_not_pick() -> None:
    log = RouteLog()
    async with engine(log) as e:
        result = await e.run(review_workflow("approved"))
    assert result.ok
    assert result["review"].route == ("ship",)
    assert result["fix"].reason == "not chosen by the route of 'review' (chose ship)"
    assert result["refix"].reason == "not chosen by the route of 'review' (chose ship)"
    assert result["report"].value == "refix=None ship=shipped"
    assert log.taken == [("review", ("ship",), ("fix",))]


async def test_a_join_runs_after_whichever_branch_ran() -> None:
    async with engine() as e:
        result = await e.run(review_workflow("rejected"))
    assert result["ship"].status is StageStatus.SKIPPED
    assert result["report"].value == "refix=fixed again ship=None"


async def test_a_join_whose_branches_were_all_skipped_is_skipped_with_the_reason() -> None:
    wf = podium.Workflow("nowhere", strategy="conditional")

    @wf.stage(route=lambda _: [])
    async def gate() -> str:
        return "closed"

    @wf.stage(needs=["gate"])
    async def left(gate: str) -> str:
        return "l"

    @wf.stage(needs=["gate"])
    async def right(gate: str) -> str:
        return "r"

    @wf.stage(needs_any=["left", "right"])
    async def join(left: str | None = None, right: str | None = None) -> str:
        return "joined"

    async with engine() as e:
        result = await e.run(wf)
    assert result.ok
    assert result["left"].reason == "not chosen by the route of 'gate' (chose nothing)"
    assert result["join"].reason == "none of its needs_any ran ('left', 'right')"


async def test_a_route_may_pick_several_dependents_and_they_run_in_parallel() -> None:
    wf = podium.Workflow("fan", strategy="conditional")
    both_running = asyncio.Barrier(2)

    @wf.stage(route=lambda _: ["a", "b"])
    async def split() -> int:
        return 1

    @wf.stage(needs=["split"])
    async def a(split: int) -> str:
        await both_running.wait()  # deadlocks unless `b` runs at the same time
        return "a"

    @wf.stage(needs=["split"])
    async def b(split: int) -> str:
        await both_running.wait()
        return "b"

    @wf.stage(needs=["split"])
    async def c(split: int) -> str:
        return "c"

    wf.timeout = 5
    async with engine() as e:
        result = await e.run(wf)
    assert result.outputs == {"split": 1, "a": "a", "b": "b"}
    assert result["c"].status is StageStatus.SKIPPED


async def test_a_mapping_route_to_a_stage_that_is_not_a_dependent_fails_at_definition_time() -> None:
    wf = podium.Workflow("bad-map", strategy="conditional")

    @wf.stage(route={"yes": "elsewhere"})
    async def decide() -> str:
        return "yes"

    @wf.stage(needs=["decide"])
    async def next_step(decide: str) -> str:
        return decide

    @wf.stage
    async def elsewhere() -> str:
        return "x"

    with pytest.raises(
        DefinitionError, match="'decide' routes to 'elsewhere', which is not one of its dependents"
    ):
        async with engine() as e:
            e.prepare(wf, None)


async def test_a_function_route_to_a_stage_that_is_not_a_dependent_fails_the_stage_at_run_time() -> None:
    wf = podium.Workflow("bad-fn", strategy="conditional")

    @wf.stage(route=lambda _: "elsewhere")
    async def decide() -> str:
        return "yes"

    @wf.stage(needs=["decide"])
    async def next_step(decide: str) -> str:
        return decide

    @wf.stage
    async def elsewhere() -> str:
        return "x"

    async with engine() as e:
        result = await e.run(wf)
    assert result.status is RunStatus.FAILED
    error = result["decide"].error
    assert isinstance(error, RoutingError)
    assert "'decide' routed to 'elsewhere', which is not one of its dependents (next_step)" in str(error)
    assert result["next_step"].reason == "dependency 'decide' failed"
    assert result["elsewhere"].value == "x"


async def test_routes_under_a_strategy_that_ignores_them_are_a_definition_error() -> None:
    pm = create_plugin_manager(autoload=False, plugins=[podium_parallel])
    wf = review_workflow("approved")
    wf.strategy = "parallel"
    async with Engine(config=Config(), plugin_manager=pm) as e:
        with pytest.raises(
            DefinitionError, match="'review' declare routes, which strategy 'parallel' does not"
        ):
            await e.run(wf)


async def test_another_plugin_can_route_instead_of_the_stage_function() -> None:
    class AlwaysFix:
        @hookimpl(tryfirst=True)
        def podium_route(self, stage: Stage, candidates: Sequence[str]) -> str | None:
            return "fix" if stage.name == "review" else None

    async with engine(AlwaysFix()) as e:
        result = await e.run(review_workflow("approved"))
    assert result["review"].route == ("fix",)
    assert result["ship"].status is StageStatus.SKIPPED


class RouteCalls:
    """Records which stages the ``podium_route`` hook was asked about (declining each time)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl(tryfirst=True)
    def podium_route(self, stage: Stage) -> None:
        self.asked.append(stage.name)


async def test_only_stages_that_may_route_pay_for_routing() -> None:
    pm = create_plugin_manager(autoload=False, plugins=[podium_conditional])
    recorder = HookRecorder(pm)
    async with Engine(config=Config(), plugin_manager=pm) as e:
        result = await e.run(review_workflow("approved"))
    # Only review has a route (no rule or classifier is configured): nobody is asked where
    # implement, ship and the rest go.
    assert [call.kwargs["stage"].name for call in recorder.of("podium_route")] == ["review"]
    assert result["report"].value == "refix=None ship=shipped"


async def test_a_plugin_of_its_own_routing_is_asked_about_every_stage_with_dependents() -> None:
    calls = RouteCalls()
    async with engine(calls) as e:
        await e.run(review_workflow("approved"))
    assert calls.asked == ["implement", "review", "ship"]


async def test_a_rule_makes_a_stage_without_a_route_function_routed() -> None:
    wf = podium.Workflow("ruled", strategy="conditional")

    @wf.stage
    async def triage() -> str:
        return "bug"

    @wf.stage(needs=["triage"])
    async def bugfix(triage: str) -> str:
        return "fixed"

    @wf.stage(needs=["triage"])
    async def feature(triage: str) -> str:
        return "built"

    config = Config(
        {
            "plugins": {
                "conditional": {"rules": [{"stage": "triage", "to": "bugfix", "when": {"value": "bug"}}]}
            }
        }
    )
    pm = create_plugin_manager(autoload=False, plugins=[podium_conditional])
    async with Engine(config=config, plugin_manager=pm) as e:
        result = await e.run(wf)
    assert result["triage"].route == ("bugfix",)
    assert result["feature"].status is StageStatus.SKIPPED
