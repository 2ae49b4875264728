"""podium-dask: what Dask workers buy CPU-bound stages, and what Podium adds to Dask.

1. **Speed-up.** 100 independent CPU-bound stages (about 50 ms of pure-Python work
   each, calibrated at start) run on the local executor (``thread``: one interpreter, so
   the GIL serialises them) and on the ``dask`` executor with a LocalCluster of 2 worker
   processes (one thread each). Figure: local wall time / Dask wall time.
2. **Overhead.** No-op stages on the ``dask`` executor, per stage, as a ratio to plain
   ``client.submit`` of the same no-op on the same client in the same run: N concurrent
   stages (fan-out) and a chain of N (each waits for the one before), interleaved repeats,
   medians.

Prints JSON and writes ``bench/results/dask.json``. Run: ``python bench/bench_dask.py``
(``--quick`` for a smoke run).
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import dask
from distributed import Client, LocalCluster

import podium
import podium_dask
import podium_parallel
import podium_sequential

RESULTS = Path(__file__).resolve().parent / "results" / "dask.json"
QUICK = "--quick" in sys.argv
CPU_STAGES = 20 if QUICK else 100
STAGE_MS = 50
NOOP_STAGES = 50 if QUICK else 200
REPEATS = 3 if QUICK else 9


def spin(loops: int) -> int:
    """Pure-Python work: ``loops`` iterations of integer arithmetic."""
    total = 0
    for i in range(loops):
        total = (total + i * i) % 1_000_003
    return total


def calibrate(ms: float) -> int:
    """How many ``spin`` loops take about ``ms`` milliseconds here."""
    loops = 100_000
    while True:
        started = time.perf_counter()
        spin(loops)
        took = (time.perf_counter() - started) * 1000
        if took > 20:
            return int(loops * ms / took)
        loops *= 2


def cpu_workflow(loops: int, executor: str) -> podium.Workflow:
    wf = podium.Workflow("cpu", strategy="parallel", executor=executor)
    for i in range(CPU_STAGES):
        wf.add_stage(lambda: spin(loops), name=f"cpu{i}")
    return wf


def noop() -> None:
    return None


def fan_out(n: int) -> podium.Workflow:
    wf = podium.Workflow("fan", strategy="parallel", executor="dask")
    for i in range(n):
        wf.add_stage(noop, name=f"s{i}")
    return wf


def chain(n: int) -> podium.Workflow:
    wf = podium.Workflow("chain", strategy="sequential", executor="dask")
    for i in range(n):
        wf.add_stage(noop, name=f"s{i}", needs=[f"s{i - 1}"] if i else None)
    return wf


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


def engine(address: str | None) -> podium.Engine:
    """An engine with the strategies and podium-dask, connected to ``address`` (else none)."""
    plugins = [podium_parallel, podium_sequential, podium_dask]
    pm = podium.create_plugin_manager(autoload=False, plugins=plugins)
    config = podium.Config({"plugins": {"dask": {"address": address}}} if address else {})
    return podium.Engine(config=config, plugin_manager=pm, cache_url=False)


async def speed_up(address: str, loops: int) -> dict[str, Any]:
    async with engine(None) as local, engine(address) as remote:
        executor = podium_dask.executor_for(remote)
        assert executor is not None and executor.cluster.client is not None
        client: Client = executor.cluster.client
        await remote.run(cpu_workflow(loops, "dask"))  # warm up: workers unpickle, import

        async def plain_dask() -> None:
            # The same work through Dask alone: what the cluster can do on this machine now.
            await client.gather(client.map(spin, [loops] * CPU_STAGES, pure=False))

        local_s, dask_s, plain_s = [], [], []
        for _ in range(2 if QUICK else 3):
            local_s.append(await timed(lambda: local.run(cpu_workflow(loops, "thread"))))
            dask_s.append(await timed(lambda: remote.run(cpu_workflow(loops, "dask"))))
            plain_s.append(await timed(plain_dask))
    best_local, best_dask, best_plain = min(local_s), min(dask_s), min(plain_s)
    return {
        "stages": CPU_STAGES,
        "stage_ms": STAGE_MS,
        "local_thread_s": round(best_local, 3),
        "dask_2_processes_s": round(best_dask, 3),
        "plain_client_map_s": round(best_plain, 3),
        "speed_up": round(best_local / best_dask, 3),
        "plain_dask_speed_up": round(best_local / best_plain, 3),
        "target": ">= 1.6",
    }


async def overhead(address: str) -> dict[str, Any]:
    async with engine(address) as podium_engine:
        executor = podium_dask.executor_for(podium_engine)
        assert executor is not None and executor.cluster.client is not None
        client: Client = executor.cluster.client
        counter = iter(range(10**9))

        async def plain_fan() -> None:
            await asyncio.gather(
                *(
                    _await(client.submit(noop, key=f"plain-{next(counter)}", pure=False))
                    for _ in range(NOOP_STAGES)
                )
            )

        async def plain_chain() -> None:
            for _ in range(NOOP_STAGES):
                await client.submit(noop, key=f"plain-{next(counter)}", pure=False)

        fan_wf, chain_wf = fan_out(NOOP_STAGES), chain(NOOP_STAGES)
        samples: dict[str, list[float]] = {
            name: [] for name in ("plain_fan", "podium_fan", "plain_chain", "podium_chain")
        }
        for _ in range(1):  # warm-up
            await plain_fan()
            await podium_engine.run(fan_wf)
        for _ in range(REPEATS):
            samples["plain_fan"].append(await timed(plain_fan))
            samples["podium_fan"].append(await timed(lambda: podium_engine.run(fan_wf)))
            samples["plain_chain"].append(await timed(plain_chain))
            samples["podium_chain"].append(await timed(lambda: podium_engine.run(chain_wf)))
    per_stage = {name: statistics.median(values) / NOOP_STAGES * 1e6 for name, values in samples.items()}
    return {
        "stages": NOOP_STAGES,
        "repeats": REPEATS,
        "per_stage_us": {name: round(value, 1) for name, value in per_stage.items()},
        "ratio_fan_out": round(per_stage["podium_fan"] / per_stage["plain_fan"], 3),
        "ratio_chain": round(per_stage["podium_chain"] / per_stage["plain_chain"], 3),
        "target": "<= 1.2",
    }


async def _await(future: Any) -> Any:
    return await future


def main() -> dict[str, Any]:
    loops = calibrate(STAGE_MS)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        report = {
            "benchmark": "dask",
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {sys.platform}",
            "quick": QUICK,
            "speed_up": asyncio.run(speed_up(cluster.scheduler_address, loops)),
            "overhead": asyncio.run(overhead(cluster.scheduler_address)),
        }
    finally:
        cluster.close()
    speed, cost = report["speed_up"], report["overhead"]
    report["targets_met"] = {
        "speed_up": speed["speed_up"] >= 1.6,
        "overhead": max(cost["ratio_fan_out"], cost["ratio_chain"]) <= 1.2,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
