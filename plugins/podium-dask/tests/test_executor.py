"""The dask executor on a LocalCluster of worker threads: where bodies run, defaults,
options, priorities, serialization errors, and the cluster's lifetime."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from distributed import get_worker

import podium
import podium_dask
from podium_dask import NotSerializable


def worker_address() -> str:
    return str(get_worker().address)


async def test_sync_and_async_bodies_run_on_dask_workers(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("where", strategy="parallel")

    @wf.stage(executor="dask")
    def crunch(x: int) -> tuple[int, str, str]:
        return x * x, worker_address(), threading.current_thread().name

    @wf.stage(executor="dask", needs=["crunch"])
    async def settle(crunch: tuple[int, str, str]) -> tuple[int, str]:
        await asyncio.sleep(0.01)
        return crunch[0] + 1, worker_address()

    async with threads_engine() as engine:
        result = await engine.run(wf, {"x": 7})
    assert result.ok, result.reason
    square, sync_worker, thread = result["crunch"].value
    value, async_worker = result["settle"].value
    assert (square, value) == (49, 50)
    assert sync_worker.startswith("inproc://") and async_worker.startswith("inproc://")
    assert thread != threading.main_thread().name  # a worker thread, not the engine's loop


async def test_a_workflow_default_executor_sends_its_stages_to_dask(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("default", strategy="sequential", executor="dask")

    @wf.stage
    def a() -> str:
        return worker_address()

    @wf.stage(executor="thread")
    def b() -> bool:
        try:
            get_worker()
        except ValueError:
            return False
        return True

    async with threads_engine() as engine:
        result = await engine.run(wf)
    assert result["a"].value.startswith("inproc://")
    assert result["b"].value is False  # its own executor= wins over the workflow's


async def test_the_configured_executor_is_the_engine_default(
    podium_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("engine-default", strategy="sequential")

    @wf.stage
    async def a() -> str:
        return worker_address()

    config = podium.Config({"executor": "dask", "plugins": {"dask": {"processes": False, "workers": 1}}})
    async with podium_engine(config=config) as engine:
        result = await engine.run(wf)
    assert result["a"].value.startswith("inproc://")


async def test_a_body_on_a_worker_records_usage_that_counts_in_the_engine(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("usage", strategy="sequential", budget=podium.Budget(tokens=1000))

    @wf.stage(executor="dask")
    def local_model(ctx: podium.Context, prompt: str) -> str:
        ctx.log.info("generating on %s", worker_address())
        ctx.record_usage(model="claude-sonnet-4-5", input_tokens=800, output_tokens=400)
        return prompt.upper()

    @wf.stage(needs=["local_model"])
    async def after(local_model: str) -> str:
        return local_model

    async with threads_engine() as engine:
        result = await engine.run(wf, {"prompt": "hi"})
    stage = result["local_model"]
    assert stage.value == "HI"
    assert (stage.usage.input_tokens, stage.usage.output_tokens) == (800, 400)
    assert stage.usage.cost_usd > 0  # priced in the engine, from its pricing table
    assert result.status is podium.RunStatus.BUDGET_EXCEEDED  # and counted against the budget
    assert result["after"].status is podium.StageStatus.SKIPPED


async def test_usage_recorded_on_a_worker_before_a_failure_is_kept(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("spent", strategy="sequential")

    @wf.stage(executor="dask")
    async def spends_then_fails(ctx: podium.Context) -> None:
        ctx.record_usage(input_tokens=50, cost_usd=0.01)
        raise ValueError("model crashed")

    async with threads_engine() as engine:
        result = await engine.run(wf)
    stage = result["spends_then_fails"]
    assert isinstance(stage.error, ValueError) and str(stage.error) == "model crashed"
    assert stage.usage.input_tokens == 50 and result.usage.cost_usd == 0.01


async def test_agents_are_not_reachable_from_a_worker_and_the_error_says_where_to_call_them(
    podium_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("agent", strategy="sequential")

    @wf.stage(executor="dask")
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("planner").complete("hi")).text

    planner = podium.SimulatedAgent(lambda prompt: prompt)
    config = podium.Config({"plugins": {"dask": {"processes": False, "workers": 1}}})
    async with podium_engine(config=config, agents={"planner": planner}) as engine:
        result = await engine.run(wf)
    assert str(result["ask"].error).startswith(
        "stage 'ask': ctx.agent('planner') needs the run, which stays in the engine, and this body runs "
        "on a Dask worker"
    )


async def test_unknown_or_mistyped_executor_options_are_refused_with_the_stage_and_option(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("options", strategy="sequential")
    wf.add_stage(lambda: 1, name="typo", executor="dask", executor_options={"resource": {"GPU": 1}})
    wf.add_stage(lambda: 1, name="bad", executor="dask", executor_options={"resources": {"GPU": "one"}})
    wf.add_stage(lambda: 1, name="local", executor="thread", executor_options={"resources": {"GPU": 1}})
    async with threads_engine() as engine:
        with pytest.raises(podium.DefinitionErrors) as info:
            await engine.run(wf)
    message = str(info.value)
    assert (
        "stage 'typo': executor_options 'resource' is not a Dask option; did you mean 'resources'?" in message
    )
    assert "stage 'bad': executor_options 'resources' must be a table of resource names to amounts" in message
    assert "stage 'local' gives executor_options ['resources'], but executor 'thread' takes none" in message


async def test_resources_are_required_of_the_worker_that_runs_the_stage(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("gpu", strategy="parallel")
    wf.add_stage(lambda: "ran", name="has_gpu", executor="dask", executor_options={"resources": {"GPU": 1}})
    wf.add_stage(
        lambda: "ran",
        name="needs_tpu",
        executor="dask",
        executor_options={"resources": {"TPU": 1}},
        timeout=0.5,
    )
    async with threads_engine(resources={"GPU": 1}) as engine:
        result = await engine.run(wf)
    assert result["has_gpu"].value == "ran"
    # No worker offers a TPU, so Dask never starts it: the stage's timeout ends the wait.
    assert isinstance(result["needs_tpu"].error, podium.StageTimeout)


async def test_a_priority_option_reorders_what_waits_on_a_busy_cluster(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("queue", strategy="parallel")

    @wf.stage(executor="dask")
    def blocker() -> float:
        time.sleep(0.3)  # holds the only worker thread while the others queue
        return time.monotonic()

    @wf.stage(executor="dask")
    def early() -> float:
        return time.monotonic()

    @wf.stage(executor="dask", executor_options={"priority": 100})
    def late_but_urgent() -> float:
        return time.monotonic()

    async with threads_engine(workers=1, threads_per_worker=1) as engine:
        result = await engine.run(wf)
    # Declared (and submitted) after 'early', it runs first: its priority reached Dask.
    assert result["late_but_urgent"].value < result["early"].value


async def test_annotations_reach_the_dask_task(threads_engine: Callable[..., podium.Engine]) -> None:
    wf = podium.Workflow("annotated", strategy="sequential")

    @wf.stage(executor="dask", executor_options={"annotations": {"team": "search"}})
    def tagged() -> Any:
        from distributed.worker import thread_state  # a thread-local: imported on the worker

        return get_worker().state.tasks[thread_state.key].annotations

    async with threads_engine() as engine:
        result = await engine.run(wf)
    assert result["tagged"].value["team"] == "search"


async def test_an_unpicklable_argument_fails_at_submit_naming_the_stage_and_the_object(
    threads_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("pickle", strategy="sequential")

    @wf.stage(executor="dask", retry=podium.Retry(attempts=3, delay=0))
    def use(session: dict[str, Any]) -> str:
        return "never"

    async with threads_engine() as engine:
        result = await engine.run(wf, {"session": {"user": "ann", "lock": threading.Lock()}})
    stage = result["use"]
    assert stage.status is podium.StageStatus.FAILED
    assert isinstance(stage.error, NotSerializable)
    assert stage.attempts == 1  # another attempt cannot fix it
    assert str(stage.error).startswith(
        "stage 'use' cannot be sent to a Dask worker: argument 'session'['lock'] holds a _thread.lock, "
        "which cannot be pickled (TypeError: cannot pickle '_thread.lock' object)"
    )


async def test_an_unpicklable_closure_variable_is_named(threads_engine: Callable[..., podium.Engine]) -> None:
    wf = podium.Workflow("closure", strategy="sequential")
    guard = threading.Lock()

    @wf.stage(executor="dask")
    def locked() -> str:
        with guard:
            return "never"

    async with threads_engine() as engine:
        result = await engine.run(wf)
    assert "the function's variable 'guard' holds a _thread.lock" in str(result["locked"].error)


async def test_an_unreachable_scheduler_fails_the_engine_start_with_its_address(
    podium_engine: Callable[..., podium.Engine],
) -> None:
    config = podium.Config({"plugins": {"dask": {"address": "tcp://127.0.0.1:9", "connect_timeout": 0.5}}})
    with pytest.raises(podium_dask.ClusterUnreachable) as info:
        async with podium_engine(config=config):
            pass
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 0.5s" in str(info.value)
    assert "@ config.plugins.dask.address" in str(info.value)


async def test_a_bad_dask_section_fails_the_engine_start_with_its_key(
    podium_engine: Callable[..., podium.Engine],
) -> None:
    with pytest.raises(podium.ConfigError) as info:
        async with podium_engine(config=podium.Config({"plugins": {"dask": {"workers": 0}}})):
            pass
    assert "workers must be >= 1, got 0 @ config.plugins.dask" in str(info.value)


async def test_the_cluster_lives_as_long_as_the_engine(threads_engine: Callable[..., podium.Engine]) -> None:
    engine = threads_engine()
    async with engine:
        executor = podium_dask.executor_for(engine)
        assert executor is not None and executor.cluster.client is not None  # configured: started
        client = executor.cluster.client
    assert executor.cluster.client is None
    assert client.status == "closed"


async def test_an_engine_that_does_not_configure_dask_starts_no_cluster_until_a_stage_needs_it(
    podium_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("lazy", strategy="sequential")
    wf.add_stage(lambda: worker_address(), name="remote", executor="dask")
    async with podium_engine() as engine:
        executor = podium_dask.executor_for(engine)
        assert executor is not None and executor.cluster.client is None
        executor.cluster.settings = podium_dask.DaskSettings(processes=False, workers=1)
        result = await engine.run(wf)
        assert executor.cluster.client is not None
    assert result["remote"].value.startswith("inproc://")
