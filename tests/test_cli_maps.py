"""The command line shows mapped stages: a row per item under the gathered row, every item in
``--json``, live item counts, a mapped stage drawn once and marked, and clear bad-map errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

import podium
from podium.cli.console import ProgressDisplay
from podium.cli.main import main

WORKFLOW = """
import podium

wf = podium.Workflow("reviews", strategy="parallel")


@podium.hookimpl
def podium_register_agents(register):
    register("reviewer", podium.SimulatedAgent("fine", input_tokens=300, output_tokens=40))


@wf.stage
async def files() -> dict[str, str]:
    return {"app.py": "print(1)", "empty.py": "", "cli.py": "print(3)"}


@wf.stage(map="files", partial=True)
async def review(ctx: podium.Context, files: str) -> str:
    if not files:
        raise ValueError("nothing to review")
    return (await ctx.agent("reviewer").complete(files)).text


@wf.stage(needs=["review"])
async def summary(review: podium.GatheredDict) -> str:
    return f"{len(review)} reviewed, {len(review.failures)} failed"
"""


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "reviews_workflow.py"
    path.write_text(WORKFLOW)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_table_has_the_gathered_row_then_a_row_per_item(target: Path) -> None:
    code, out, _ = invoke("run", str(target), "--no-cache", "--no-progress")
    assert code == 0
    lines = out.splitlines()
    gathered = next(line for line in lines if line.startswith("│ review "))
    assert "3 items: 2 succeeded, 1 failed" in gathered
    assert "680" not in gathered  # its tokens are its items', counted once
    app = next(line for line in lines if "review['app.py']" in line)
    assert "succeeded" in app and "340" in app
    empty = next(line for line in lines if "review['empty.py']" in line)
    assert "failed" in empty and "ValueError: nothing to review" in empty
    total = next(line for line in lines if line.startswith("│ total"))
    assert "680" in total


def test_the_json_has_every_item_and_the_stages_add_up_to_the_totals(target: Path) -> None:
    code, out, _ = invoke("run", str(target), "--no-cache", "--json")
    assert code == 0
    payload = json.loads(out)
    review = next(s for s in payload["stages"] if s["name"] == "review")
    assert (review["items"], review["visits"], review["failed_items"]) == (3, 3, ["empty.py"])
    assert review["value"] == {"app.py": "fine", "cli.py": "fine"}
    items = sorted((v["item_key"], v["status"]) for v in payload["history"] if v["name"] == "review")
    assert items == [("app.py", "succeeded"), ("cli.py", "succeeded"), ("empty.py", "failed")]
    total = payload["usage"]["total_tokens"]
    assert total == 680
    assert sum(s["usage"]["total_tokens"] for s in payload["stages"]) == total
    assert sum(v["usage"]["total_tokens"] for v in payload["history"]) == total


def test_progress_lines_show_failed_items_and_the_gathered_stage(target: Path) -> None:
    code, _, err = invoke("run", str(target), "--no-cache")
    assert code == 0
    assert "✗ review['empty.py']  ValueError: nothing to review" in err
    assert "review  succeeded in" in err and "(3 items: 2 succeeded, 1 failed)" in err
    assert "review['app.py']" not in err  # items that succeeded get no line of their own


async def test_the_live_progress_display_counts_the_items() -> None:
    screen = io.StringIO()
    display = ProgressDisplay(Console(file=screen, force_terminal=True, width=100))
    wf = podium.Workflow("live-items", strategy="parallel", max_concurrency=2)
    seen: list[str] = []

    @wf.stage
    async def files() -> list[int]:
        return [1, 2, 3, 4]

    @wf.stage(map="files")
    async def work(files: int) -> int:
        seen.append(display._rows["work"][2])
        return files

    async with podium.Engine(config=podium.Config(), plugins=[display], cache_url=False) as engine:
        await engine.run(wf)
    assert seen[0] == "0/4 items, 1 running" and "4 items" in seen[-1]
    assert display._rows["work"][2].endswith("(4 items: 4 succeeded)")


def test_graph_draws_a_mapped_stage_once_and_marks_it(target: Path) -> None:
    code, out, _ = invoke("graph", str(target))
    assert code == 0
    assert sum("review" in line for line in out.splitlines()) == 3  # one node, an arrow in, one out
    assert 'review[["review (each item of files)"]]' in out
    assert "files ==>|each| review" in out and "review --> summary" in out
    code, out, _ = invoke("graph", str(target), "--format", "dot")
    assert '"review" [label="review (each item of files)" peripheries=2];' in out
    assert '"files" -> "review" [style=bold label="each"];' in out


def test_validate_says_which_stages_are_mapped(target: Path) -> None:
    code, out, _ = invoke("validate", str(target))
    assert code == 0
    assert "ok: workflow 'reviews' with 3 stages (1 mapped over items known at run time) is valid" in out


def test_a_map_over_a_stage_that_does_not_exist_exits_2_with_the_closest_name(target: Path) -> None:
    target.write_text(WORKFLOW.replace('map="files"', 'map="file"'))
    for command in ("validate", "run", "graph"):
        code, out, err = invoke(command, str(target))
        assert code == 2, command
        assert "stage 'review' is mapped over unknown stage 'file' (did you mean 'files'?)" in err
        assert "Traceback" not in out + err


def test_mapping_over_a_value_without_items_fails_the_run_with_the_reason(target: Path) -> None:
    target.write_text(WORKFLOW.replace('return {"app.py"', 'return 7 or {"app.py"'))
    code, out, _ = invoke("run", str(target), "--no-cache", "--no-progress")
    assert code == 1
    assert "MapError: stage 'review' is mapped over 'files', whose value 7 (int) is not a list" in out
    assert "dependency 'review' failed" in out
