"""Execution semantics every strategy shares: retries, timeouts, fallbacks, cancellation, budgets, usage."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import podium
from podium import RunStatus, StageStatus
from podium.foundation.errors import StageTimeout, StrategyNotFound


def sequential(name: str = "w", **options: object) -> podium.Workflow:
    return podium.Workflow(name, strategy="sequential", **options)  # type: ignore[arg-type]


async def test_inputs_and_upstream_values_reach_stages_by_parameter_name(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage
    async def spec(ticket: str) -> str:
        return f"spec for {ticket}"

    @wf.stage(needs=["spec"])
    async def implement(spec: str, ticket: str) -> str:
        return f"{spec} / code for {ticket}"

    result = await engine.run(wf, {"ticket": "T-1"})
    assert result.ok
    assert result["implement"].value == "spec for T-1 / code for T-1"


async def test_a_flaky_stage_is_retried_until_it_succeeds(engine: podium.Engine) -> None:
    wf = sequential()
    calls = []

    @wf.stage(retry=podium.Retry(attempts=3, delay=0, jitter=False))
    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("transient")
        return "ok"

    result = await engine.run(wf)
    assert result["flaky"].status is StageStatus.SUCCEEDED
    assert result["flaky"].attempts == 3


async def test_retries_stop_at_the_attempt_limit_and_the_last_error_is_kept(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage(retry=podium.Retry(attempts=2, delay=0))
    async def broken() -> None:
        raise ValueError("always")

    result = await engine.run(wf)
    assert result["broken"].status is StageStatus.FAILED
    assert result["broken"].attempts == 2
    assert isinstance(result["broken"].error, ValueError)


async def test_retry_on_predicate_decides_which_errors_are_retried(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage(retry=podium.Retry(attempts=5, delay=0, retry_on=(ConnectionError,)))
    async def fatal() -> None:
        raise KeyError("not transient")

    result = await engine.run(wf)
    assert result["fatal"].attempts == 1


def test_backoff_grows_exponentially_and_is_capped() -> None:
    retry = podium.Retry(delay=1, backoff=2, max_delay=5, jitter=False)
    assert [retry.delay_before(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    jittered = podium.Retry(delay=1, backoff=2, max_delay=5)
    assert all(0 <= jittered.delay_before(3) <= 4 for _ in range(50))


async def test_a_stage_timeout_bounds_each_attempt(engine: podium.Engine) -> None:
    wf = sequential()
    attempts = []

    @wf.stage(timeout=0.05, retry=podium.Retry(attempts=2, delay=0))
    async def slow() -> None:
        attempts.append(1)
        await asyncio.sleep(10)

    result = await engine.run(wf)
    assert result["slow"].status is StageStatus.FAILED
    assert isinstance(result["slow"].error, StageTimeout)
    assert "exceeded its timeout of 0.05s" in str(result["slow"].error)
    assert len(attempts) == 2


async def test_a_fallback_value_replaces_a_failure_and_dependents_run(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage(fallback="default spec")
    async def spec() -> str:
        raise RuntimeError("model down")

    @wf.stage(needs=["spec"])
    async def implement(spec: str) -> str:
        return spec.upper()

    result = await engine.run(wf)
    assert result.ok
    assert result["spec"].fallback is True
    assert result["implement"].value == "DEFAULT SPEC"


async def test_an_error_handler_receives_the_error(engine: podium.Engine) -> None:
    wf = sequential()

    async def handle(error: BaseException) -> str:
        return f"handled {type(error).__name__}"

    @wf.stage(on_error=handle)
    async def spec() -> str:
        raise KeyError("x")

    result = await engine.run(wf)
    assert result["spec"].value == "handled KeyError"


async def test_a_failure_skips_dependents_naming_it_and_independent_stages_still_run(
    engine: podium.Engine,
) -> None:
    wf = sequential()

    @wf.stage
    async def broken() -> None:
        raise RuntimeError("boom")

    @wf.stage(needs=["broken"])
    async def child() -> None: ...

    @wf.stage(needs=["child"])
    async def grandchild() -> None: ...

    @wf.stage
    async def independent() -> str:
        return "done"

    result = await engine.run(wf)
    assert result.status is RunStatus.FAILED
    assert result["child"].status is StageStatus.SKIPPED
    assert result["child"].reason == "dependency 'broken' failed"
    assert result["grandchild"].reason == "dependency 'broken' failed"
    assert result["independent"].value == "done"


async def test_fail_fast_starts_nothing_after_the_first_failure(engine: podium.Engine) -> None:
    wf = sequential(fail_fast=True)

    @wf.stage
    async def broken() -> None:
        raise RuntimeError("boom")

    @wf.stage
    async def later() -> None: ...

    result = await engine.run(wf)
    assert result["later"].status is StageStatus.SKIPPED
    assert result["later"].reason == "fail_fast: stage 'broken' failed"


async def test_a_workflow_timeout_cancels_running_stages_and_keeps_finished_results(
    engine: podium.Engine,
) -> None:
    wf = sequential(timeout=0.1)

    @wf.stage
    async def quick() -> str:
        return "kept"

    @wf.stage(needs=["quick"])
    async def stuck() -> None:
        await asyncio.sleep(10)

    @wf.stage(needs=["stuck"])
    async def never() -> None: ...

    result = await engine.run(wf)
    assert result.status is RunStatus.TIMED_OUT
    assert result["quick"].value == "kept"
    assert result["stuck"].status is StageStatus.CANCELLED
    assert result["never"].status is StageStatus.SKIPPED
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("podium:")]


async def test_cancelling_the_caller_cancels_every_stage_and_leaves_no_task(engine: podium.Engine) -> None:
    wf = sequential()
    started = asyncio.Event()
    finished: list[podium.RunResult] = []

    @wf.stage
    async def stuck() -> None:
        started.set()
        await asyncio.sleep(10)

    class Observer:
        @podium.hookimpl
        def podium_workflow_ended(self, result: podium.RunResult) -> None:
            finished.append(result)

    engine.pm.register(Observer())
    task = asyncio.create_task(engine.run(wf))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished[0].status is RunStatus.CANCELLED
    assert finished[0]["stuck"].status is StageStatus.CANCELLED
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("podium:")]


async def test_usage_and_cost_are_totalled_per_stage_and_per_run(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        reply = await ctx.agent("echo").complete("hello")
        ctx.record_usage(model="claude-haiku-4-5", input_tokens=1000, output_tokens=0)
        return reply.text

    result = await engine.run(wf)
    assert result["ask"].value == "HELLO"
    usage = result["ask"].usage
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (1100, 50, 1)
    # claude-sonnet-4-5 (the simulated agent's model): 100 in x $3/M + 50 out x $15/M; haiku: 1000 x $1/M
    assert result.cost_usd == pytest.approx(100 * 3e-6 + 50 * 15e-6 + 1000 * 1e-6)
    assert result.usage.total_tokens == 1150


async def test_a_token_budget_breach_stops_new_stages_alerts_and_keeps_results(
    engine: podium.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    wf = sequential(budget=podium.Budget(tokens=100))

    @wf.stage
    async def expensive(ctx: podium.Context) -> str:
        ctx.record_usage(input_tokens=80, output_tokens=40)
        return "done"

    @wf.stage(needs=["expensive"])
    async def next_one() -> None: ...

    with caplog.at_level(logging.WARNING, logger="podium"):
        result = await engine.run(wf)
    assert result.status is RunStatus.BUDGET_EXCEEDED
    assert result["expensive"].value == "done"
    assert result["next_one"].status is StageStatus.SKIPPED
    assert result["next_one"].reason == "budget exceeded: tokens 120 > 100"
    assert any("ALERT budget_exceeded" in r.getMessage() for r in caplog.records)


async def test_a_cost_budget_is_checked_as_usage_arrives(engine: podium.Engine) -> None:
    wf = sequential(budget=podium.Budget(cost_usd=0.01))

    @wf.stage
    async def pricey(ctx: podium.Context) -> None:
        ctx.record_usage(cost_usd=0.02)

    @wf.stage
    async def after() -> None: ...

    result = await engine.run(wf)
    assert result.status is RunStatus.BUDGET_EXCEEDED
    assert "cost $0.0200 > $0.0100" in (result["after"].reason or "")


async def test_a_duration_budget_is_soft(engine: podium.Engine) -> None:
    wf = sequential(budget=podium.Budget(duration_s=0.05))

    @wf.stage
    async def slow() -> str:
        await asyncio.sleep(0.1)
        return "finished anyway"

    @wf.stage
    async def after() -> None: ...

    result = await engine.run(wf)
    assert result["slow"].value == "finished anyway"
    assert result["after"].status is StageStatus.SKIPPED
    assert result.status is RunStatus.BUDGET_EXCEEDED


async def test_plain_functions_run_in_a_thread(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage
    def blocking() -> str:
        return threading.current_thread().name

    result = await engine.run(wf)
    assert result["blocking"].value != threading.current_thread().name


async def test_a_misspelled_strategy_lists_the_installed_ones_and_the_package(engine: podium.Engine) -> None:
    wf = podium.Workflow("w", strategy="paralel")
    wf.add_stage(lambda: None, name="a")
    with pytest.raises(
        StrategyNotFound, match=r"strategy 'paralel'.*installed: .*sequential.*Did you mean 'parallel'"
    ):
        await engine.run(wf)


async def test_routes_under_a_strategy_that_ignores_them_are_refused(engine: podium.Engine) -> None:
    wf = sequential()

    @wf.stage(route=lambda v: "b")
    async def a() -> None: ...

    @wf.stage(needs=["a"])
    async def b() -> None: ...

    with pytest.raises(
        podium.DefinitionError, match="declare routes, which strategy 'sequential' does not honour"
    ):
        await engine.run(wf)


async def test_a_missing_input_fails_before_any_stage_runs(engine: podium.Engine) -> None:
    wf = sequential()
    ran = []

    @wf.stage
    async def first() -> None:
        ran.append(1)

    @wf.stage
    async def needs_input(ticket: str) -> None: ...

    with pytest.raises(podium.DefinitionError, match="parameter 'ticket'"):
        await engine.run(wf)
    assert ran == []


async def test_a_broken_observer_never_costs_a_stage_its_result(engine: podium.Engine) -> None:
    class Broken:
        @podium.hookimpl
        def podium_stage_ended(self) -> None:
            raise RuntimeError("observer bug")

    engine.pm.register(Broken())
    wf = sequential()

    @wf.stage
    async def fine() -> str:
        return "value"

    result = await engine.run(wf)
    assert result["fine"].value == "value"


async def test_a_cached_stage_is_served_from_the_cache_with_its_savings(engine: podium.Engine) -> None:
    wf = sequential()
    calls = []

    @wf.stage(cache=podium.CachePolicy(ttl=60))
    async def ask(ctx: podium.Context, question: str) -> str:
        calls.append(question)
        return (await ctx.agent("echo").complete(question)).text

    first = await engine.run(wf, {"question": "why"})
    second = await engine.run(wf, {"question": "why"})
    assert calls == ["why"]
    assert second["ask"].status is StageStatus.CACHED
    assert second["ask"].value == "WHY"
    assert second.saved.total_tokens == first.usage.total_tokens == 150
    assert second.usage.total_tokens == 0


async def test_lifecycle_events_are_fired_in_order(
    podium_engine: object, podium_hook_recorder: object
) -> None:
    wf = sequential()

    @wf.stage
    async def a() -> None: ...

    @wf.stage(needs=["a"])
    async def b() -> None:
        raise RuntimeError("x")

    @wf.stage(needs=["b"])
    async def c() -> None: ...

    async with podium_engine() as started:  # type: ignore[operator]
        await started.run(wf)
    events = [n for n in podium_hook_recorder.names() if n.startswith(("podium_workflow", "podium_stage"))]  # type: ignore[attr-defined]
    assert events == [
        "podium_workflow_started",
        "podium_stage_started",
        "podium_stage_ended",
        "podium_stage_started",
        "podium_stage_ended",
        "podium_stage_ended",
        "podium_workflow_ended",
    ]


async def test_run_sync_runs_from_synchronous_code() -> None:
    wf = sequential()

    @wf.stage
    async def hello(name: str) -> str:
        return f"hello {name}"

    result = await asyncio.to_thread(podium.run_sync, wf, {"name": "podium"})
    assert result["hello"].value == "hello podium"


async def test_podium_run_uses_a_default_engine_per_event_loop() -> None:
    wf = sequential()

    @wf.stage
    async def one() -> int:
        return 1

    try:
        result = await podium.run(wf)
        assert result["one"].value == 1
    finally:
        await podium.shutdown()


async def test_declared_input_defaults_fill_inputs_a_run_does_not_give(engine: podium.Engine) -> None:
    wf = sequential(inputs={"ticket": "default ticket"})

    @wf.stage
    async def spec(ticket: str) -> str:
        return ticket

    assert (await engine.run(wf))["spec"].value == "default ticket"
    assert (await engine.run(wf, {"ticket": "given"}))["spec"].value == "given"
