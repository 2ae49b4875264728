"""Durability under SIGKILL: a real ``podium run`` process is killed at random points, again
and again, and resumed each time; no stage that was committed ever runs again, every one
is reused, and the run ends with the values an uninterrupted run computes.

Each stage appends "<stage> <run id>" to a side-effect log as the last thing its body does,
so the log shows which run executed which stage; the store shows which visits each run
committed. A stage killed after its log line but before its commit runs again (it was
never committed): that is allowed, and is what the commit-before-dependents rule bounds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

import podium
from podium.stores.sqlite import SQLiteRunStore

#: stage -> (needs, seconds it sleeps): 16 stages, a critical path of about 0.5 s.
STAGES = {
    "plan": ((), 0.03),
    "research": (("plan",), 0.05),
    "design": (("plan",), 0.04),
    "budget": (("plan",), 0.02),
    "schema": (("design",), 0.03),
    "implement": (("research", "schema"), 0.06),
    "tests": (("design",), 0.05),
    "docs": (("research",), 0.03),
    "lint": (("implement",), 0.02),
    "review": (("implement", "tests"), 0.05),
    "fix": (("review", "lint"), 0.04),
    "changelog": (("docs",), 0.02),
    "package": (("fix",), 0.03),
    "release": (("package", "changelog", "budget"), 0.04),
    "notify": (("release",), 0.02),
    "announce": (("notify",), 0.02),
}
SEED = 1313
#: Kill attempts at most; the run usually ends sooner, once resumes have done all the work.
KILLS = 14


def workflow_source() -> str:
    lines = [
        "import asyncio, os",
        "import podium",
        "",
        'wf = podium.Workflow("killable", strategy="parallel")',
        'LOG = os.environ["PODIUM_KILL_LOG"]',
        "",
    ]
    for name, (needs, delay) in STAGES.items():
        params = ", ".join(["ctx: podium.Context", *needs])
        inner = " + ".join(f"str({n})" for n in needs) or '""'
        lines += [
            "",
            f"@wf.stage(needs={list(needs)!r})",
            f"async def {name}({params}) -> str:",
            f"    await asyncio.sleep({delay})",
            f'    value = "{name}(" + {inner} + ")"',
            '    with open(LOG, "a") as log:',
            f'        log.write(f"{name} {{ctx.run_id}}\\n")',
            "    return value",
        ]
    return "\n".join(lines) + "\n"


def expected_value(name: str) -> str:
    needs, _ = STAGES[name]
    return f"{name}(" + "".join(expected_value(n) for n in needs) + ")"


def wait_for_lines(log: Path, count: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (
        len(log.read_text().splitlines()) < count and process.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.002)


async def store_view(path: Path) -> tuple[list[podium.RunRecord], dict[str, list[podium.VisitRecord]]]:
    store = SQLiteRunStore(path)
    await store.open()  # also marks the runs whose process died as interrupted
    try:
        runs = await store.runs(podium.RunFilter())
        return runs, {run.run_id: await store.visits(run.run_id) for run in runs}
    finally:
        await store.close()


def test_a_run_killed_with_sigkill_again_and_again_resumes_without_re_running_committed_stages(
    tmp_path: Path,
) -> None:
    target = tmp_path / "killable.py"
    target.write_text(workflow_source())
    log = tmp_path / "effects.log"
    log.touch()
    store_path = tmp_path / "runs.sqlite3"
    env = {**os.environ, "PODIUM_KILL_LOG": str(log), "PODIUM_DISABLE_PLUGIN_AUTOLOAD": "",
           "PODIUM_LOAD_PLUGINS": "parallel"}  # fmt: skip
    base = [
        sys.executable,
        "-m",
        "podium",
        "run",
        str(target),
        "--store",
        f"sqlite:///{store_path}",
        "--no-progress",
    ]
    rng = random.Random(SEED)
    head: str | None = None
    known: set[str] = set()
    killed: set[str] = set()
    finished = False
    for _ in range(KILLS):
        command = base if head is None else [*base[:3], "resume", head, *base[5:]]
        lines = len(log.read_text().splitlines())
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.0, 0.6))  # during start-up: maybe before the run exists
        else:
            # Once 1 or 2 more stages have finished their bodies, give or take a few milliseconds:
            # the kill lands before, during or just after a commit.
            wait_for_lines(log, lines + rng.randint(1, 2), process)
            time.sleep(rng.uniform(0.0, 0.03))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        runs, _ = asyncio.run(store_view(store_path))
        new = [run for run in runs if run.run_id not in known]
        known.update(run.run_id for run in new)
        assert len(new) <= 1
        if new:
            assert new[0].resumed_from == head
            head = new[0].run_id
        if process.returncode != 0:
            assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
        status = next((run.status for run in runs if run.run_id == head), None)
        if status == "succeeded":  # it ended (the kill, if any, came as the process was exiting)
            finished = True
            break
        if new:
            killed.add(new[0].run_id)
    if not finished:
        assert head is not None
        done = subprocess.run(
            [*base[:3], "resume", head, *base[5:]], cwd=tmp_path, env=env, capture_output=True
        )
        assert done.returncode == 0, done.stderr
        runs, _ = asyncio.run(store_view(store_path))
        head = runs[0].run_id

    runs, visits = asyncio.run(store_view(store_path))
    by_id = {run.run_id: run for run in runs}
    executed: dict[str, set[str]] = defaultdict(set)
    for line in log.read_text().splitlines():
        stage, run_id = line.split()
        executed[run_id].add(stage)

    assert len(killed) >= 5, f"only {len(killed)} kills hit a run"
    for run_id in killed:
        assert by_id[run_id].status == "interrupted", by_id[run_id]
    chain = [head]
    while by_id[chain[-1]].resumed_from is not None:
        chain.append(by_id[chain[-1]].resumed_from)  # type: ignore[arg-type]
    chain.reverse()
    assert set(chain) == set(by_id)
    for previous, current in itertools.pairwise(chain):
        committed = {v.stage for v in visits[previous] if v.status in ("succeeded", "cached")}
        restored = {v.stage for v in visits[current] if v.cache == "restored"}
        assert executed[current] & committed == set(), f"run {current} re-ran committed stages"
        assert restored == committed, f"run {current} did not reuse everything {previous} committed"
    final = {v.stage: v for v in visits[head]}
    assert by_id[head].status == "succeeded"
    assert final["announce"].value == podium.StoredValue("json", f'"{expected_value("announce")}"')
    total = sum(len(stages) for stages in executed.values())
    assert total < len(STAGES) * len(chain)  # resumes really saved work


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_stopped_by_a_signal_keeps_what_finished_and_resumes_from_it(tmp_path: Path, stop: int) -> None:
    """Ctrl-C and SIGTERM cancel the run (``podium run`` exits 130 and 143): it is recorded
    ``cancelled``, its finished stage committed, and resuming it reuses that stage."""
    target = tmp_path / "long.py"
    log = tmp_path / "effects.log"
    target.write_text(
        "import asyncio, os, pathlib\nimport podium\n\n"
        'wf = podium.Workflow("long", strategy="sequential")\n\n\n'
        "@wf.stage\nasync def first(ctx: podium.Context) -> str:\n"
        '    pathlib.Path(os.environ["PODIUM_KILL_LOG"]).write_text("first")\n    return "one"\n\n\n'
        '@wf.stage(needs=["first"])\nasync def second(first: str) -> str:\n'
        '    if pathlib.Path(os.environ["PODIUM_KILL_LOG"]).read_text() == "first":\n'
        "        await asyncio.sleep(60)\n"
        '    return first + " two"\n'
    )
    log.touch()
    env = {**os.environ, "PODIUM_KILL_LOG": str(log)}
    store = f"sqlite:///{tmp_path}/runs.sqlite3"
    command = [sys.executable, "-m", "podium", "run", str(target), "--store", store, "--no-progress"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_lines(log, 1, process)
    time.sleep(0.2)  # the first stage's commit, and the second stage under way
    process.send_signal(stop)
    assert process.wait(timeout=30) == (130 if stop == signal.SIGINT else 143)
    runs, visits = asyncio.run(store_view(tmp_path / "runs.sqlite3"))
    [stopped] = runs
    assert stopped.status == "cancelled"
    assert {v.stage: v.status for v in visits[stopped.run_id]}.get("first") == "succeeded"
    log.write_text("resumed")
    done = subprocess.run(
        [*command[:3], "resume", stopped.run_id, "--store", store, "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    stages = {s["name"]: s for s in json.loads(done.stdout)["stages"]}
    assert stages["first"]["status"] == "cached" and stages["second"]["value"] == "one two"
