"""After a loop, `podium run` shows every visit, and the stages add up to the run's totals."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from podium.cli.main import main

WORKFLOW = """
import podium

wf = podium.Workflow("loop", strategy="conditional")


@podium.hookimpl
def podium_register_agents(register):
    register("coder", podium.SimulatedAgent("patch", input_tokens=3000, output_tokens=500))


@wf.stage
async def implement() -> str:
    return "draft"


@wf.stage(needs=["implement"], max_visits=2, route=lambda ok: "ship" if ok else "fix")
async def review(ctx: podium.Context, implement: str) -> bool:
    return ctx.visit == 2


@wf.stage(needs=["review"], route=lambda _: "review")
async def fix(ctx: podium.Context, review: bool) -> str:
    return (await ctx.agent("coder").complete("fix it")).text


@wf.stage(needs=["review"])
async def ship(review: bool) -> str:
    return "shipped"
"""


def run(tmp_path: Path, *args: str) -> str:
    target = tmp_path / "loop_workflow.py"
    target.write_text(WORKFLOW)
    result = CliRunner().invoke(main, ["run", str(target), "--no-cache", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_json_has_every_visit_and_the_stages_add_up_to_the_totals(tmp_path: Path) -> None:
    payload = json.loads(run(tmp_path, "--json"))
    fix = next(s for s in payload["stages"] if s["name"] == "fix")
    # The latest visit of fix was skipped, but the visit that ran spent 3,500 tokens.
    assert fix["status"] == "skipped" and fix["visits"] == 2
    assert fix["usage"]["total_tokens"] == 3500
    assert [(v["name"], v["visit"], v["status"]) for v in payload["history"] if v["name"] == "fix"] == [
        ("fix", 1, "succeeded"),
        ("fix", 2, "skipped"),
    ]
    total = payload["usage"]["total_tokens"]
    assert total == 3500
    assert sum(s["usage"]["total_tokens"] for s in payload["stages"]) == total
    assert sum(v["usage"]["total_tokens"] for v in payload["history"]) == total


def test_the_table_has_a_row_per_visit(tmp_path: Path) -> None:
    out = run(tmp_path)
    assert "fix #1" in out and "fix #2" in out and "review #2" in out
    row = next(line for line in out.splitlines() if "fix #1" in line)
    assert "succeeded" in row and "3,500" in row
