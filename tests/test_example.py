"""The README's main job: the example pipeline runs offline, routes, caches, and reports cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from podium.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["run", *args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else {}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the CLI's default SQLite cache goes here


@pytest.mark.parametrize("target", ["feature_pipeline.py", "feature_pipeline.toml"])
def test_the_example_ships_an_approved_ticket_and_reports_tokens_and_cost(target: str) -> None:
    code, payload = run(str(EXAMPLES / target))
    assert code == 0
    stages = {s["name"]: s for s in payload["stages"]}
    assert stages["review"]["route"] == ["ship"]
    assert stages["fix"]["status"] == "skipped"
    assert stages["report"]["value"].startswith("shipped")
    assert payload["usage"]["total_tokens"] == 15_050
    # claude-sonnet-4-5: 11,300 input tokens x $3/M + 3,750 output tokens x $15/M
    assert payload["cost_usd"] == pytest.approx(0.09015)


def test_a_ticket_about_a_bug_goes_through_fix() -> None:
    code, payload = run(str(EXAMPLES / "feature_pipeline.py"), "-i", "ticket=Fix the login bug")
    stages = {s["name"]: s for s in payload["stages"]}
    assert code == 0
    assert stages["review"]["route"] == ["fix"]
    assert stages["ship"]["reason"] == "not chosen by the route of 'review' (chose fix)"
    assert stages["report"]["value"].startswith("fixed")


def test_a_second_run_of_the_same_ticket_spends_only_the_uncached_review() -> None:
    run(str(EXAMPLES / "feature_pipeline.py"))
    code, again = run(str(EXAMPLES / "feature_pipeline.py"))
    statuses = {s["name"]: s["status"] for s in again["stages"]}
    assert code == 0
    assert [n for n, s in statuses.items() if s == "cached"] == ["spec", "backend", "frontend", "tests"]
    assert again["saved"]["total_tokens"] == 15_050 - 3_800
    assert again["usage"]["total_tokens"] == 3_800
