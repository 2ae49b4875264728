"""``podium graph``: every edge a run can take, as Mermaid, DOT, SVG or HTML."""

from __future__ import annotations

from pathlib import Path
from xml.dom import minidom

import pytest
from click.testing import CliRunner

from podium.cli.main import main

LOOP = """
import podium

wf = podium.Workflow("review-loop", strategy="conditional")

@wf.stage
async def implement() -> str:
    return "draft"

@wf.stage(needs=["implement"], max_visits=3, route=lambda ok: "ship" if ok else "fix")
async def review(implement: str) -> bool:
    return True

@wf.stage(needs=["review"], route=lambda _: "review")
async def fix(review: bool) -> str:
    return "fixed"

@wf.stage(needs=["review"])
async def ship(review: bool) -> str:
    return "shipped"

@wf.stage(needs_any=["fix", "ship"])
async def report(fix: str | None = None, ship: str | None = None) -> str:
    return "done"
"""


@pytest.fixture
def loop(tmp_path: Path) -> Path:
    path = tmp_path / "loop.py"
    path.write_text(LOOP)
    return path


def graph(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["graph", *args])
    return result.exit_code, result.stdout, result.stderr


def test_mermaid_shows_the_loop_back_that_lives_in_a_route_lambda(loop: Path) -> None:
    code, out, _ = graph(str(loop))
    assert code == 0
    assert 'fix -. "loop ≤3" .-> review' in out
    assert "fix -.-> report" in out and "implement --> review" in out


def test_dot_draws_loop_backs_dotted_without_bending_the_ranks(loop: Path) -> None:
    _, out, _ = graph(str(loop), "--format", "dot")
    assert '"fix" -> "review" [style=dotted, constraint=false, label="loop ≤3"];' in out


def test_svg_is_a_standalone_file_with_every_edge(loop: Path, tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    code, _, _ = graph(str(loop), "--format", "svg", "-o", str(target))
    assert code == 0
    document = minidom.parse(str(target))  # well-formed XML
    root = document.documentElement
    assert root.tagName == "svg" and root.getElementsByTagName("style")
    edges = {
        (g.getAttribute("data-source"), g.getAttribute("data-target"), g.getAttribute("class"))
        for g in root.getElementsByTagName("g")
        if g.getAttribute("class").startswith("edge")
    }
    assert ("fix", "review", "edge loop") in edges
    assert ("ship", "report", "edge needs_any") in edges
    assert len(edges) == 7  # 3 needs, 2 needs_any, 2 loop-backs (fix and review itself)


def test_html_is_a_self_contained_page(loop: Path) -> None:
    code, out, _ = graph(str(loop), "--format", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>") and '<svg class="graph"' in out
    assert " src=" not in out and " href=" not in out


def test_an_unwritable_output_file_exits_2_with_a_message(loop: Path, tmp_path: Path) -> None:
    code, _, err = graph(str(loop), "--format", "svg", "-o", str(tmp_path / "missing" / "graph.svg"))
    assert code == 2
    assert "cannot write" in err and "Traceback" not in err


def test_an_unknown_format_is_a_usage_error(loop: Path) -> None:
    code, _, err = graph(str(loop), "--format", "png")
    assert code == 2
    assert "mermaid" in err and "svg" in err
