"""Run store benchmark: what committing each stage before its dependents costs, and stats at scale.

Run: ``python bench/bench_store.py [--quick]``. Prints JSON and writes ``bench/results/store.json``.

1. **Commit per stage** (W1 chain, W2 fan-out/fan-in of 100 and 1,000 stages, bodies
   ``await asyncio.sleep(0)`` as in ``bench_scheduling.py``): the same workflow on three
   engines in this process, interleaved: without monitoring at all (the engine's monitor
   unregistered: the kernel as it was), with monitoring and no store (every engine's
   default), and with a SQLite store (WAL, ``synchronous=NORMAL``) in a temporary
   directory. Per-stage CPU time and the ratios between them; the store's wall time too,
   since its commits run on their own thread.
2. **``podium stats`` over 100,000 stored runs** (5 visits and 2 agent calls each, 40
   workflows): the store filled directly, then the KPIs computed the way ``podium stats``
   does (read runs, visits and calls; compute), timed in this process and as the real
   command in a fresh process (its start-up included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_scheduling import best_of, make_engine, make_workflow, plain_scheduler, yield_body

import podium
from podium import Engine, RunFilter
from podium.stores import rows
from podium.stores.schema import migrate
from podium.stores.sqlite import SQLiteRunStore
from podium.values.kpis import compute_kpis
from podium.values.serialization import encode

RESULTS = Path(__file__).parent / "results" / "store.json"


# --------------------------------------------------------------------------- commit per stage


def store_engine(directory: Path) -> Engine:
    engine = make_engine()
    engine.monitor.store_url = f"sqlite:///{directory}/runs.sqlite3"
    return engine


async def per_stage(
    engines: dict[str, Engine], name: str, needs: list[list[int]], repeats: int
) -> dict[str, Any]:
    n = len(needs)
    wf = make_workflow(name, needs, [0] * n)
    for engine in engines.values():
        await engine.run(wf)  # warm-up: plan validation, path memos, the store's file
    runs = {"baseline": lambda: plain_scheduler(needs, yield_body)}
    runs.update({label: (lambda engine=engine: engine.run(wf)) for label, engine in engines.items()})
    best = await best_of(repeats, runs, batch=max(1, 1000 // n))
    cpu = {label: best[label][1] / n * 1e6 for label in best}
    wall = {label: best[label][0] / n * 1e6 for label in best}
    return {
        "stages": n,
        "cpu_us_per_stage": {label: round(v, 2) for label, v in cpu.items()},
        "wall_us_per_stage": {label: round(v, 2) for label, v in wall.items()},
        "monitoring_over_none": round(cpu["no store"] / cpu["no monitoring"], 3),
        "store_over_no_store_cpu": round(cpu["sqlite store"] / cpu["no store"], 2),
        "store_over_no_store_wall": round(wall["sqlite store"] / wall["no store"], 2),
        "store_commit_wall_us_per_stage": round(wall["sqlite store"] - wall["no store"], 1),
        "no_store_over_baseline": round(cpu["no store"] / cpu["baseline"], 3),
    }


async def commits(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as where:
        async with make_engine() as bare, make_engine() as monitored, store_engine(Path(where)) as stored:
            bare.pm.unregister(bare.monitor)  # the kernel without any monitoring
            assert stored.monitor.store is not None
            engines = {"no monitoring": bare, "no store": monitored, "sqlite store": stored}
            chain = {n: [[]] + [[i] for i in range(n - 1)] for n in (100, 1000)}
            fan = {n: [[]] + [[0]] * n + [list(range(1, n + 1))] for n in (100, 1000)}
            return {
                "W1_chain": [
                    await per_stage(engines, f"w1-{n}", needs, repeats) for n, needs in chain.items()
                ],
                "W2_fan_out_fan_in": [
                    await per_stage(engines, f"w2-{n}", needs, repeats) for n, needs in fan.items()
                ],
            }


# --------------------------------------------------------------------------- stats at scale

STAGES = ("spec", "research", "implement", "review", "ship")


def fill(path: Path, runs: int) -> None:
    """``runs`` runs of 40 workflows over the last day, written straight into the file."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    migrate(conn, str(path))
    now = time.time()
    value = encode({"text": "done"})
    run_rows, visit_rows, call_rows = [], [], []
    for i in range(runs):
        run_id = f"{i:016x}"
        workflow = f"workflow-{i % 40}"
        started = now - 86_000 * (i / runs)
        status = "failed" if i % 23 == 0 else "succeeded"
        usage = podium.Usage(2000, 400, requests=2, cost_usd=0.012)
        run_rows.append(
            rows.run_row(
                podium.RunRecord(
                    run_id=run_id,
                    workflow=workflow,
                    status=status,
                    started_at=started,
                    strategy="parallel",
                    finished_at=started + 12.0,
                    duration_s=8.0 + (i % 17),
                    usage=usage,
                    saved=podium.Usage(500, 100, cost_usd=0.003),
                    budget_tokens=5000,
                    cache={"stage": (1, 4)},
                )
            )
        )
        for seq, stage in enumerate(STAGES, start=1):
            visit = podium.VisitRecord(
                run_id=run_id,
                stage=stage,
                visit=1,
                status="succeeded",
                seq=seq,
                duration_s=1.0 + seq,
                value=value,
            )
            visit_rows.append(rows.visit_row(visit))
        for agent in ("writer", "critic"):
            call = podium.AgentCallRecord(
                run_id=run_id,
                agent=agent,
                provider="simulated",
                model="claude-sonnet-4-5",
                started_at=started,
                usage=podium.Usage(1000, 200, cost_usd=0.006),
                error_type="SimulatedAgentError" if i % 31 == 0 else None,
            )
            call_rows.append(rows.call_row(call))
    with conn:
        for table, columns, values in (
            ("runs", rows.RUN_COLUMNS, run_rows),
            ("visits", rows.VISIT_COLUMNS, visit_rows),
            ("agent_calls", rows.CALL_COLUMNS, call_rows),
        ):
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
    conn.close()


async def stats_in_process(path: Path) -> dict[str, float]:
    store = SQLiteRunStore(path)
    await store.open()
    where = RunFilter(since=time.time() - 86_400)
    t0 = time.perf_counter()
    found = await store.runs(where)
    t1 = time.perf_counter()
    visits = await store.stage_samples(where)
    t2 = time.perf_counter()
    calls = await store.call_samples(where)
    t3 = time.perf_counter()
    kpis = compute_kpis(found, visits, calls, podium.Config().settings.slo)
    t4 = time.perf_counter()
    await store.close()
    assert kpis["runs"] == len(found)
    return {
        "runs": len(found),
        "read_runs_s": round(t1 - t0, 3),
        "read_visits_s": round(t2 - t1, 3),
        "read_agent_calls_s": round(t3 - t2, 3),
        "compute_kpis_s": round(t4 - t3, 3),
        "total_s": round(t4 - t0, 3),
    }


def stats_command(path: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "podium", "stats", "--json", "--since", "24h", "--store", f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    took = time.perf_counter() - started
    assert json.loads(done.stdout)["runs"] > 0
    return round(took, 3)


async def stats(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "runs.sqlite3"
        started = time.perf_counter()
        fill(path, runs)
        filled = time.perf_counter() - started
        in_process = await stats_in_process(path)
        return {
            "stored_runs": runs,
            "visits_per_run": len(STAGES),
            "agent_calls_per_run": 2,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "fill_s": round(filled, 1),
            "in_process": in_process,
            "podium_stats_command_s": stats_command(path),
        }


async def main(quick: bool) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "commit_per_stage": await commits(5 if quick else 20),
        "stats_over_stored_runs": await stats(10_000 if quick else 100_000),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, 10,000 runs (a smoke run)")
    options = parser.parse_args()
    report = asyncio.run(main(options.quick))
    text = json.dumps(report, indent=2)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")
