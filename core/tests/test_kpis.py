"""KPI arithmetic against hand-computed figures, the SLO targets, and the live KPIs of an engine."""

from __future__ import annotations

import pytest

import podium
from podium.values.kpis import SloTargets, compute_kpis, percentile

START = 1_800_000_000.0


def run(
    run_id: str, workflow: str, status: str, duration: float | None, **changes: object
) -> podium.RunRecord:
    fields: dict[str, object] = {
        "run_id": run_id,
        "workflow": workflow,
        "status": status,
        "started_at": START,
        "strategy": "parallel" if workflow == "a" else "sequential",
        "duration_s": duration,
    }
    fields.update(changes)
    return podium.RunRecord(**fields)  # type: ignore[arg-type]


RUNS = [
    run("a1", "a", "succeeded", 10.0, usage=podium.Usage(30, 20, cost_usd=0.5), budget_tokens=100),
    run("a2", "a", "succeeded", 20.0, usage=podium.Usage(100, 50, cost_usd=1.5), budget_tokens=100),
    run("a3", "a", "succeeded", 30.0, cache={"stage": (3, 1)}, saved=podium.Usage(400, 100, cost_usd=2.0)),
    run("a4", "a", "failed", 40.0, cache={"agent": (1, 1)}),
    run("b1", "b", "succeeded", 5.0),
    run("b2", "b", "interrupted", 99.0),  # its duration runs to its last heartbeat: not a run's duration
    run("b3", "b", "running", None),
]
STAGES = [
    ("a", "spec", "succeeded", 1.0),
    ("a", "spec", "succeeded", 3.0),
    ("a", "spec", "cached", 0.0),
    ("a", "implement", "failed", 2.5),
    ("a", "implement", "skipped", 0.0),
]
CALLS = [("a", "writer", False)] * 9 + [("a", "writer", True)] + [("a", "critic", False)] * 2


def test_percentiles_interpolate_between_the_closest_ranks() -> None:
    assert percentile([5, 10, 20, 30, 40], 50) == 20
    assert percentile([5, 10, 20, 30, 40], 95) == pytest.approx(38.0)
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None


def test_totals_success_rate_and_durations_count_only_ended_runs() -> None:
    kpis = compute_kpis(RUNS, STAGES, CALLS)
    assert kpis["runs"] == 7
    assert kpis["by_status"] == {"failed": 1, "interrupted": 1, "running": 1, "succeeded": 4}
    assert kpis["success_rate"] == pytest.approx(4 / 6)
    assert kpis["duration_s"] == {"avg": 21.0, "p50": 20.0, "p95": pytest.approx(38.0)}


def test_per_workflow_figures_and_their_slo_against_the_strategy_target() -> None:
    kpis = compute_kpis(RUNS, STAGES, CALLS)
    a, b = kpis["workflows"]["a"], kpis["workflows"]["b"]
    assert a["duration_s"] == {"avg": 25.0, "p50": 25.0, "p95": pytest.approx(38.5)}
    assert a["slo"] == {"target_s": 15.0, "avg_s": 25.0, "p95_s": pytest.approx(38.5), "met": False}
    assert b["success_rate"] == 0.5
    assert b["slo"]["target_s"] == 30.0 and b["slo"]["met"] is True
    assert kpis["slo"]["average"] == {"target_s": 20.0, "actual_s": 21.0, "met": False}


def test_slo_targets_are_overridable_per_workflow_and_per_strategy() -> None:
    targets = SloTargets(average=30.0, strategies={"parallel": 60.0}, workflows={"b": 1.0})
    kpis = compute_kpis(RUNS, STAGES, CALLS, targets)
    assert kpis["workflows"]["a"]["slo"]["met"] is True
    assert kpis["workflows"]["b"]["slo"] == {"target_s": 1.0, "avg_s": 5.0, "p95_s": 5.0, "met": False}
    assert kpis["slo"]["average"]["met"] is True


def test_the_seeds_targets_are_the_defaults() -> None:
    settings = podium.Config().settings.slo
    assert (settings.average, settings.strategies) == (
        20.0,
        {"sequential": 30.0, "parallel": 15.0, "conditional": 20.0},
    )
    configured = podium.Config({"slo": {"workflows": {"feature": "45s"}, "average": "1m"}}).settings.slo
    assert configured.target("feature", "parallel") == 45.0 and configured.average == 60.0


def test_stage_figures_and_the_slowest_stage() -> None:
    kpis = compute_kpis(RUNS, STAGES, CALLS)
    spec, implement = kpis["stages"]["a"]["spec"], kpis["stages"]["a"]["implement"]
    assert (spec["visits"], spec["failed"], spec["duration_s"]["avg"]) == (
        3,
        0,
        2.0,
    )  # the cache hit took no work
    assert (implement["visits"], implement["failed"], implement["duration_s"]["avg"]) == (2, 1, 2.5)
    assert kpis["slowest_stage"] == {"workflow": "a", "stage": "implement", "avg_s": 2.5}


def test_agent_failure_rate_overall_and_per_agent() -> None:
    agents = compute_kpis(RUNS, STAGES, CALLS)["agents"]
    assert (agents["calls"], agents["failures"], agents["failure_rate"]) == (12, 1, pytest.approx(1 / 12))
    assert agents["by_agent"]["writer"] == {"calls": 10, "failures": 1, "failure_rate": 0.1}
    assert agents["by_agent"]["critic"]["failure_rate"] == 0.0


def test_tokens_cost_budget_cache_and_savings() -> None:
    kpis = compute_kpis(RUNS, STAGES, CALLS)
    assert kpis["tokens"] == {"total": 200, "per_run": pytest.approx(200 / 6)}
    assert kpis["cost_usd"]["total"] == 2.0
    assert kpis["budget"] == {"runs_with_budget": 2, "over_budget": 1, "avg_share_spent": 1.0}
    assert (kpis["cache"]["hits"], kpis["cache"]["misses"]) == (4, 2)
    assert kpis["cache"]["hit_rate"] == pytest.approx(4 / 6)
    assert kpis["cache"]["by_kind"]["stage"]["hit_rate"] == 0.75
    assert (kpis["saved"]["tokens"], kpis["saved"]["cost_usd"]) == (500, 2.0)


def test_no_runs_gives_empty_figures_not_errors() -> None:
    kpis = compute_kpis([])
    assert (kpis["runs"], kpis["success_rate"], kpis["slowest_stage"]) == (0, None, None)
    assert kpis["duration_s"] == {"avg": None, "p50": None, "p95": None}


async def test_an_engine_without_a_store_has_live_kpis(engine: podium.Engine) -> None:
    flaky = podium.SimulatedAgent("ok", fail_on=[2])
    engine.agents.register("flaky", flaky)
    wf = podium.Workflow("live", strategy="sequential")

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("flaky").complete("q")).text

    @wf.stage(needs=["ask"])
    async def then(ask: str) -> str:
        return ask

    await engine.run(wf)
    await engine.run(wf)  # the second call fails: ask fails, then is skipped
    kpis = engine.kpis(workflow="live")
    assert kpis["runs"] == 2 and kpis["success_rate"] == 0.5
    assert kpis["stages"]["live"]["ask"]["visits"] == 2 and kpis["stages"]["live"]["ask"]["failed"] == 1
    assert kpis["agents"]["by_agent"]["flaky"] == {"calls": 2, "failures": 1, "failure_rate": 0.5}
    assert engine.kpis(since=START * 2)["runs"] == 0


async def test_the_live_window_keeps_each_visit_in_order_and_forgets_the_oldest_runs() -> None:
    from podium.engine.monitoring import LiveWindow

    wf = podium.Workflow("window", strategy="sequential")

    @wf.stage
    async def first() -> int:
        return 1

    @wf.stage(needs=["first"])
    async def second(first: int) -> int:
        return first + 1

    async with podium.Engine(store=False, cache_url=False) as engine:
        engine.monitor.live = LiveWindow(runs=10, samples=5)  # room for two runs' visits
        for _ in range(4):
            await engine.run(wf)
        entries = engine.monitor.live.select()
        assert len(entries) == 2  # the third run's visits pushed out the oldest runs
        for _, stages, _ in entries:
            samples = list(stages)
            assert [(w, name, status) for w, name, status, _ in samples] == [
                ("window", "first", "succeeded"),
                ("window", "second", "succeeded"),
            ]
            assert all(isinstance(duration, float) and duration >= 0 for *_, duration in samples)
        assert engine.kpis()["runs"] == 2 and engine.kpis()["stages"]["window"]["second"]["visits"] == 2
