"""Whole-workflow mode: many runs spread over worker processes, a shared cache, budgets per run."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable

import pytest

import podium
import podium_dask

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"redis is not reachable on 127.0.0.1:6379 ({error}); CI must start it")
        pytest.skip(f"redis is not reachable on 127.0.0.1:6379 ({error}); start it to run this")
    return REDIS_URL


def scoring_workflow(namespace: str) -> podium.Workflow:
    wf = podium.Workflow("score", strategy="sequential", inputs=["n"])

    @wf.stage(cache=podium.CachePolicy(namespace=namespace))
    def square(n: int) -> int:
        return n * n

    @wf.stage(needs=["square"])
    def where(square: int) -> tuple[int, int]:
        return square, os.getpid()

    return wf


async def test_many_workflows_run_on_the_workers_and_share_the_cache(
    process_engine: Callable[..., podium.Engine], redis_url: str
) -> None:
    wf = scoring_workflow(uuid.uuid4().hex[:12])
    async with process_engine(cache_url=redis_url) as engine:
        runs = podium_dask.cluster_runs(engine)
        first = await runs.map(wf, [{"n": n} for n in range(6)])
        again = await runs.map(wf, [{"n": n} for n in range(6)])
    assert [r["where"].value[0] for r in first] == [n * n for n in range(6)]  # in input order
    assert os.getpid() not in {r["where"].value[1] for r in first}
    # The second batch found every square in the shared cache, whichever worker ran it.
    assert {r["square"].status for r in again} == {podium.StageStatus.CACHED}


async def test_a_memory_cache_is_refused_in_whole_workflow_mode(
    process_engine: Callable[..., podium.Engine],
) -> None:
    async with process_engine(cache_url="memory://") as engine:
        with pytest.raises(podium.ConfigError) as info:
            podium_dask.cluster_runs(engine)
    assert "a memory:// cache would be that worker's own" in str(info.value)
    assert "redis://" in str(info.value)


async def test_budgets_apply_per_workflow_on_its_worker(process_engine: Callable[..., podium.Engine]) -> None:
    wf = podium.Workflow("spend", strategy="sequential", budget=podium.Budget(tokens=1000))

    @wf.stage
    async def spend(ctx: podium.Context, tokens: int) -> int:  # a worker's own run: ctx is there
        ctx.record_usage(input_tokens=tokens)
        return tokens

    @wf.stage(needs=["spend"])
    async def after(spend: int) -> str:
        return "ran"

    async with process_engine() as engine:
        frugal, lavish = await podium_dask.cluster_runs(engine).map(wf, [{"tokens": 600}, {"tokens": 1500}])
    assert frugal.status is podium.RunStatus.SUCCEEDED  # 600 of its own 1000, not 2100 of a shared one
    assert lavish.status is podium.RunStatus.BUDGET_EXCEEDED
    assert lavish["after"].status is podium.StageStatus.SKIPPED


async def test_a_run_whose_worker_dies_fails_alone(process_engine: Callable[..., podium.Engine]) -> None:
    wf = podium.Workflow("fragile", strategy="sequential")

    @wf.stage
    def maybe_die(die: bool) -> str:
        if die:
            os._exit(1)
        return "survived"

    async with process_engine() as engine:
        results = await podium_dask.cluster_runs(engine).map(wf, [{"die": False}, {"die": True}])
    assert results[0]["maybe_die"].value == "survived"
    assert results[1].status is podium.RunStatus.FAILED
    assert results[1].reason is not None and results[1].reason.startswith("the Dask worker running it died")


async def test_definition_errors_raise_before_anything_is_submitted(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = scoring_workflow("unused")
    async with process_engine() as engine:
        with pytest.raises(podium.DefinitionErrors) as info:
            await podium_dask.cluster_runs(engine).map(wf, [{"n": 1}, {"m": 2}])
    assert "parameter 'n' matches no workflow input" in str(info.value)


async def test_inputs_that_are_not_one_mapping_per_run_are_refused_saying_what_to_give(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = scoring_workflow("unused")
    async with process_engine() as engine:
        runs = podium_dask.cluster_runs(engine)
        with pytest.raises(
            podium.DefinitionError, match=r"map: give a list of inputs, one mapping per run \(got dict\)"
        ):
            await runs.map(wf, {"n": 1})  # type: ignore[arg-type]
        with pytest.raises(
            podium.DefinitionError, match=r"map: inputs\[1\] must map input names to values, got 2"
        ):
            await runs.map(wf, [{"n": 1}, 2])  # type: ignore[list-item]
