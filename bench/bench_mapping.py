"""Mapping benchmark: mapped stages against plain asyncio over the same items, same process.

Workloads (see docs/performance.md):

- M1 map-reduce 1 -> N items -> 1 (N = 1000): a stage returns N items, a mapped stage runs
  a no-op body per item (``await asyncio.sleep(0)``), a stage gathers them. Per-item cost
  against ``asyncio.gather`` over the same bodies (source and reduce awaited around it).
- M2 a two-step per-item pipeline over N items (the second step mapped over the first),
  no-op bodies: per-item cost against the same shape in plain asyncio (each step of each
  item a task, an item's second step started by its first step's done-callback, a
  ``gather`` per step). For information, against one ``gather`` of a coroutine per item
  awaiting both steps (one task per item: no result per step), and against the barrier
  version (a ``gather`` per step, one after the other).
- M3 the same two-step pipeline over 100 items with mixed durations (5-60 ms per step,
  fixed seed): makespan of the per-item pipeline against the barrier version (the second
  step mapped over the gathered first step), each over its ideal (the longest item's two
  steps; the slowest first step plus the slowest second step).

Run: ``python bench/bench_mapping.py [--quick]``. Prints JSON and writes
``bench/results/mapping.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bench_scheduling import best_of, make_engine, wall_times

import podium

N = 1000


async def step(item: Any) -> Any:
    await asyncio.sleep(0)
    return item


# --------------------------------------------------------------------------- plain asyncio


async def plain_map_reduce(items: list[int]) -> int:
    source = await step(items)
    values = await asyncio.gather(*(step(item) for item in source))
    return len(await step(values))


async def plain_pipeline(items: list[int]) -> int:
    """The same shape by hand: each step of each item a task of its own, an item's second
    step started when its first one ends (a done-callback), a gather per step."""
    loop = asyncio.get_running_loop()
    source = await step(items)
    seconds: list[asyncio.Task[int]] = []

    def then(first: asyncio.Task[int]) -> None:
        seconds.append(loop.create_task(step(first.result())))

    firsts = [loop.create_task(step(item)) for item in source]
    for first in firsts:
        first.add_done_callback(then)
    await asyncio.gather(*firsts)
    values = await asyncio.gather(*seconds)
    return len(await step(values))


async def plain_pipeline_one_task(items: list[int]) -> int:
    """Both steps of an item in one coroutine: one task per item, no result per step."""

    async def both(item: int) -> int:
        first: int = await step(item)
        return await step(first)

    source = await step(items)
    values = await asyncio.gather(*(both(item) for item in source))
    return len(await step(values))


async def plain_barrier(items: list[int]) -> int:
    """A gather per step, the second after the first: the barrier version."""
    source = await step(items)
    firsts = await asyncio.gather(*(step(item) for item in source))
    values = await asyncio.gather(*(step(first) for first in firsts))
    return len(await step(values))


# --------------------------------------------------------------------------- podium


def map_reduce(items: list[int]) -> podium.Workflow:
    wf = podium.Workflow("m1", strategy="parallel")

    @wf.stage
    async def files() -> list[int]:
        return await step(items)

    @wf.stage(map="files")
    async def review(files: int) -> int:
        await asyncio.sleep(0)
        return files

    @wf.stage(needs=["review"])
    async def summary(review: list[int]) -> int:
        return len(await step(review))

    return wf


def pipeline(items: list[int]) -> podium.Workflow:
    wf = podium.Workflow("m2", strategy="parallel")

    @wf.stage
    async def files() -> list[int]:
        return await step(items)

    @wf.stage(map="files")
    async def first(files: int) -> int:
        await asyncio.sleep(0)
        return files

    @wf.stage(map="first")
    async def second(first: int) -> int:
        await asyncio.sleep(0)
        return first

    @wf.stage(needs=["second"])
    async def summary(second: list[int]) -> int:
        return len(await step(second))

    return wf


def timed_steps(durations: Sequence[tuple[float, float]], *, barrier: bool) -> podium.Workflow:
    """Two steps per item, sleeping the item's durations; the second step either follows
    its own item (``map="first"``) or waits for every first step (``needs=["first"]``)."""
    wf = podium.Workflow("m3-barrier" if barrier else "m3-pipelined", strategy="parallel")

    @wf.stage
    async def files() -> list[int]:
        return list(range(len(durations)))

    @wf.stage(map="files")
    async def first(files: int) -> int:
        await asyncio.sleep(durations[files][0])
        return files

    if barrier:

        @wf.stage(map="files", needs=["first"])
        async def second(files: int, first: list[int]) -> int:
            await asyncio.sleep(durations[first[files]][1])
            return files

    else:

        @wf.stage(map="first")
        async def second(first: int) -> int:  # type: ignore[misc]  # one of two definitions
            await asyncio.sleep(durations[first][1])
            return first

    return wf


# --------------------------------------------------------------------------- workloads


async def per_item(
    engine: podium.Engine,
    repeats: int,
    baselines: dict[str, Callable[[], Awaitable[Any]]],
    wf: podium.Workflow,
    steps: int,
) -> dict[str, Any]:
    """Per-item CPU time of ``wf`` and of each baseline; the first baseline is the target's."""
    result = await engine.run(wf)  # warm-up: plan validation and caches
    assert result.ok, result.reason
    best = await best_of(repeats, {**baselines, "podium": lambda: engine.run(wf)})
    podium_wall, podium_cpu = best.pop("podium")
    (base_wall, base_cpu), *_ = best.values()
    report: dict[str, Any] = {
        "items": N,
        "steps_per_item": steps,
        "baseline_cpu_us_per_item": round(base_cpu / N * 1e6, 2),
        "podium_cpu_us_per_item": round(podium_cpu / N * 1e6, 2),
        "ratio": round(podium_cpu / base_cpu, 3),
        "wall_ratio": round(podium_wall / base_wall, 3),
    }
    for name, (_, cpu) in list(best.items())[1:]:
        report[f"ratio_to_{name}"] = round(podium_cpu / cpu, 3)
    return report


async def makespans(engine: podium.Engine, repeats: int) -> dict[str, Any]:
    rng = random.Random(17)
    durations = [(rng.uniform(0.005, 0.060), rng.uniform(0.005, 0.060)) for _ in range(100)]
    pipelined, barrier = timed_steps(durations, barrier=False), timed_steps(durations, barrier=True)
    walls = await wall_times(
        repeats, {"pipelined": lambda: engine.run(pipelined), "barrier": lambda: engine.run(barrier)}
    )
    ideal_pipelined = max(a + b for a, b in durations)
    ideal_barrier = max(a for a, _ in durations) + max(b for _, b in durations)
    return {
        "items": len(durations),
        "pipelined_s": round(walls["pipelined"], 4),
        "barrier_s": round(walls["barrier"], 4),
        "pipelined_over_barrier": round(walls["pipelined"] / walls["barrier"], 3),
        "pipelined_over_its_ideal": round(walls["pipelined"] / ideal_pipelined, 3),
        "barrier_over_its_ideal": round(walls["barrier"] / ideal_barrier, 3),
    }


async def main(quick: bool) -> dict[str, Any]:
    repeats = 5 if quick else 30
    items = list(range(N))
    async with make_engine() as engine:
        m1 = await per_item(
            engine, repeats, {"gather": lambda: plain_map_reduce(items)}, map_reduce(items), 1
        )
        m2_baselines = {
            "same_shape": lambda: plain_pipeline(items),
            "one_task_per_item": lambda: plain_pipeline_one_task(items),
            "barrier_gathers": lambda: plain_barrier(items),
        }
        m2 = await per_item(engine, repeats, m2_baselines, pipeline(items), 2)
        m3 = await makespans(engine, 3 if quick else 10)
    return {
        "benchmark": "mapping",
        "targets_met": {
            "M1_M2_per_item_ratio_at_most_1.5": all(r["ratio"] <= 1.5 for r in (m1, m2)),
            "M3_pipelined_faster_than_barrier": m3["pipelined_over_barrier"] < 0.95,
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
        "M1_map_reduce_1000": m1,
        "M2_two_step_pipeline_1000": m2,
        "M3_pipelined_vs_barrier_mixed_durations": m3,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    options = parser.parse_args()
    report = asyncio.run(main(options.quick))
    text = json.dumps(report, indent=2)
    print(text)
    out = Path(__file__).parent / "results" / "mapping.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    sys.exit(0)
