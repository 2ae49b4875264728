"""``podium run --report FILE``: the run's report beside its summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from podium.cli.main import main

PIPELINE = """
import podium

wf = podium.Workflow("cli-report", strategy="parallel")

@podium.hookimpl
def podium_register_agents(register):
    register("writer", podium.SimulatedAgent("drafted", model="claude-haiku-4-5", input_tokens=100, output_tokens=20))

@wf.stage
async def draft(ctx: podium.Context) -> str:
    return (await ctx.agent("writer").complete("topic")).text

@wf.stage(needs=["draft"])
async def polish(draft: str) -> str:
    raise RuntimeError("<script>alert(1)</script>")
"""


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pipeline.py"
    path.write_text(PIPELINE)
    return path


def test_run_writes_the_report_of_the_run_it_made(pipeline: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        main, ["run", str(pipeline), "--no-progress", "--no-cache", "--report", str(report)]
    )
    assert result.exit_code == 1  # polish failed, and the report says so
    html = report.read_text()
    assert re.findall(r'data-status="(\w+)" data-stage="(\w+)"', html) == [
        ("succeeded", "draft"),
        ("failed", "polish"),
    ]
    assert 'data-model="claude-haiku-4-5"' in html
    assert "RuntimeError: &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_report_path_that_cannot_be_written_stops_the_run_before_it_starts(
    pipeline: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main, ["run", str(pipeline), "--report", str(tmp_path / "missing" / "r.html")]
    )
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "no such directory" in result.stderr
    assert "cli-report" not in result.stderr  # no progress: nothing ran
