"""The dask executor on worker processes: bodies run elsewhere, a lost worker is retried."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from distributed import LocalCluster

import podium
import podium_dask


async def test_sync_and_async_bodies_run_in_worker_processes(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("processes", strategy="parallel")

    @wf.stage(executor="dask")
    def pid_sync() -> int:
        return os.getpid()

    @wf.stage(executor="dask")
    async def pid_async() -> int:
        await asyncio.sleep(0)
        return os.getpid()

    async with process_engine() as engine:
        result = await engine.run(wf)
    assert result.ok, result.reason
    assert os.getpid() not in {result["pid_sync"].value, result["pid_async"].value}


async def test_a_worker_killed_mid_stage_is_retried_by_the_stage_retry(
    process_engine: Callable[..., podium.Engine], tmp_path: Path
) -> None:
    marker = tmp_path / "killed-once"
    wf = podium.Workflow("killed", strategy="sequential")

    @wf.stage(executor="dask", retry=podium.Retry(attempts=2, delay=0))
    def fragile(marker: str) -> int:
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies in the middle of the stage
        return os.getpid()

    async with process_engine() as engine:
        result = await engine.run(wf, {"marker": str(marker)})
    stage = result["fragile"]
    assert stage.status is podium.StageStatus.SUCCEEDED, stage.error
    assert stage.attempts == 2


async def test_without_a_retry_a_lost_worker_fails_the_stage_saying_so(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("lost", strategy="parallel")

    @wf.stage(executor="dask")
    def dies() -> None:
        os._exit(1)

    @wf.stage
    async def independent() -> str:
        return "kept"

    async with process_engine() as engine:
        result = await engine.run(wf)
    error = result["dies"].error
    assert isinstance(error, podium_dask.WorkerLost)
    assert str(error).startswith("stage 'dies': the Dask worker running it died (tcp://127.0.0.1:")
    assert result["independent"].value == "kept"  # nothing else is lost


async def test_a_value_that_cannot_be_pickled_back_fails_the_stage_saying_so(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("value", strategy="sequential")

    @wf.stage(executor="dask", retry=podium.Retry(attempts=3, delay=0))
    def lock() -> object:
        import threading

        return threading.Lock()

    async with process_engine() as engine:
        result = await engine.run(wf)
    error = result["lock"].error
    assert isinstance(error, podium_dask.NotSerializable) and result["lock"].attempts == 1
    assert str(error) == (
        "stage 'lock': its value (a lock) could not be sent back from the Dask worker, which pickles it: "
        "return a picklable value"
    )


async def test_a_timed_out_attempt_is_cancelled_on_the_cluster(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("slow", strategy="sequential")

    @wf.stage(executor="dask", timeout=0.3)
    async def slow() -> int:
        await asyncio.sleep(5)
        return 1

    async with process_engine() as engine:
        result = await engine.run(wf)
        executor = podium_dask.executor_for(engine)
        assert executor is not None and executor.cluster.client is not None
        tasks = await executor.cluster.client.run_on_scheduler(
            lambda dask_scheduler: [str(key) for key in dask_scheduler.tasks]
        )
    assert isinstance(result["slow"].error, podium.StageTimeout)
    assert not [key for key in tasks if key.startswith("slow-")]


WORKFLOW_FILE = """
import dataclasses

import podium

wf = podium.Workflow("from-file", strategy="sequential")


@dataclasses.dataclass
class Verdict:
    score: int


@wf.stage(executor="dask")
def judge(n: int = 4) -> Verdict:
    return Verdict(n * 10)


@wf.stage(executor="dask", needs=["judge"])
def report(judge: Verdict) -> str:
    return f"score {judge.score}"
"""


def test_a_workflow_file_run_by_the_cli_travels_to_worker_processes(
    process_cluster: LocalCluster, tmp_path: Path
) -> None:
    # `podium run pipeline.py` loads the file under another module name, which no worker
    # can import: its functions and classes must travel by value.
    (tmp_path / "pipeline.py").write_text(WORKFLOW_FILE)
    (tmp_path / "podium.toml").write_text(
        f'[plugins.dask]\naddress = "{process_cluster.scheduler_address}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "podium", "run", "pipeline.py", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"score 40"' in done.stdout


async def test_usage_recorded_in_a_worker_process_comes_back_with_the_value(
    process_engine: Callable[..., podium.Engine],
) -> None:
    wf = podium.Workflow("usage", strategy="sequential")

    @wf.stage(executor="dask")
    def count(ctx: podium.Context, text: str) -> int:
        assert isinstance(ctx, podium_dask.WorkerContext) and ctx.attempt == 1
        ctx.record_usage(input_tokens=len(text), requests=1)
        return os.getpid()

    async with process_engine() as engine:
        result = await engine.run(wf, {"text": "twelve chars"})
    assert result["count"].value != os.getpid()
    assert result["count"].usage.input_tokens == 12 and result.usage.requests == 1
