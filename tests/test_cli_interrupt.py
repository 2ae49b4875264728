"""Ctrl-C and SIGTERM during ``podium run`` (a real process, real signals): the run is
cancelled through its handle, the result is still shown (table or --json) with the stages
that finished and those cancelled, finished results are cached, the exit code is 130 (143);
a second signal exits at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from podium.cli.interrupts import Interruptions

WORKFLOW = """
import asyncio
import pathlib

import podium

wf = podium.Workflow("long", strategy="parallel")


@wf.stage(cache=podium.CachePolicy())
async def spec() -> str:
    return "spec"


@wf.stage(needs=["spec"])
async def implement(spec: str, wait: float = 60) -> str:
    pathlib.Path("started").write_text("implement")
    await asyncio.sleep(wait)
    return "code"
"""

STUBBORN = """
import asyncio
import pathlib

import podium

wf = podium.Workflow("stubborn")


@wf.stage
async def refuses() -> str:
    pathlib.Path("started").write_text("refuses")
    while True:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass  # keeps running: only a second signal ends the process
"""

SLOW_IMPORT = """
import pathlib
import time

import podium

pathlib.Path("started").write_text("importing")
time.sleep(60)
wf = podium.Workflow("never")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "long.py").write_text(WORKFLOW)
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    (tmp_path / "slow_import.py").write_text(SLOW_IMPORT)
    return tmp_path


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    (project / "started").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    return subprocess.Popen(
        [sys.executable, "-m", "podium", "run", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def when_started(project: Path, process: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if (project / "started").exists():
            time.sleep(0.1)  # let the stage reach its await
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the stage never started")


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    # A guard against a hang, not a timing assertion: the stage would sleep for 60 s.
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def interrupted(project: Path, *args: str, signum: int = signal.SIGINT) -> tuple[int, str, str]:
    """``podium run ARGS``, sent ``signum`` once its stage runs; exit code, stdout, stderr."""
    process = start(project, *args)
    when_started(project, process)
    process.send_signal(signum)
    return finish(process)


def test_ctrl_c_cancels_the_run_prints_its_result_as_json_and_exits_130(project: Path) -> None:
    code, out, err = interrupted(project, "long.py", "--json")

    assert code == 130, err
    result = json.loads(out)
    assert result["status"] == "cancelled"
    assert result["reason"] == "interrupted by SIGINT"
    stages = {stage["name"]: stage["status"] for stage in result["stages"]}
    assert stages == {"spec": "succeeded", "implement": "cancelled"}
    assert "SIGINT received: cancelling the run" in err
    assert "Traceback" not in err


def test_sigterm_is_handled_the_same_way_exits_143_and_the_finished_results_are_cached(project: Path) -> None:
    code, out, err = interrupted(project, "long.py", "--json", signum=signal.SIGTERM)
    assert code == 143, err
    assert json.loads(out)["status"] == "cancelled"

    again = start(project, "long.py", "--json", "-i", "wait=0")
    code, out, err = finish(again)
    assert code == 0, err
    stages = {stage["name"]: stage["status"] for stage in json.loads(out)["stages"]}
    assert stages == {"spec": "cached", "implement": "succeeded"}


def test_the_table_shows_the_finished_and_the_cancelled_stages(project: Path) -> None:
    code, out, _ = interrupted(project, "long.py", "--no-progress")

    assert code == 130
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert "succeeded" in rows["spec"]
    assert "cancelled" in rows["implement"] and "interrupted by SIGINT" in rows["implement"]
    assert "cancelled" in rows["total"]


def test_a_second_ctrl_c_exits_at_once_when_a_stage_ignores_cancellation(project: Path) -> None:
    process = start(project, "stubborn.py", "--json")
    when_started(project, process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert process.poll() is None, "the stage refuses to stop, so the run is still ending"
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process)

    assert code == 130
    assert "exiting at once (second SIGINT)" in err
    assert out == ""


def test_ctrl_c_before_the_run_starts_exits_130_without_a_traceback(project: Path) -> None:
    code, _, err = interrupted(project, "slow_import.py")

    assert code == 130
    assert "podium: interrupted" in err
    assert "Traceback" not in err


async def test_the_handlers_are_removed_when_no_signal_came() -> None:
    with Interruptions() as interruptions:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert interruptions.exit_code is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_no_handler_is_installed_and_nothing_fails() -> None:
    # An embedding application may run the command's coroutine on a worker thread's loop.
    seen: list[bool] = []

    async def inside() -> None:
        with Interruptions() as interruptions:
            seen.append(interruptions.installed)

    worker = threading.Thread(target=asyncio.run, args=(inside(),))
    worker.start()
    worker.join()
    assert seen == [False]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


async def test_in_the_main_thread_the_handlers_are_installed() -> None:
    with Interruptions() as interruptions:
        assert interruptions.installed
