"""The command line over the run store: runs, resume, stats, alerts, cost, check, store prune."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import podium
from podium.cli.main import main
from podium.stores.sqlite import SQLiteRunStore

PIPELINE = """
import pathlib
import podium

wf = podium.Workflow("shop", strategy="sequential")

@podium.hookimpl
def podium_register_agents(register):
    register("writer", podium.SimulatedAgent("drafted", input_tokens=1000, output_tokens=200))

@wf.stage
async def draft(ctx: podium.Context, topic: str) -> str:
    return (await ctx.agent("writer").complete(topic)).text

@wf.stage(needs=["draft"])
async def polish(draft: str) -> str:
    if pathlib.Path("broken").exists():
        raise RuntimeError("polish broke")
    return draft + "!"
"""

READY = """
import podium

wf = podium.Workflow("ready", strategy="sequential", timeout=60)

@wf.stage(cache=podium.CachePolicy(ttl=3600), fallback="none", timeout=10)
async def spec(topic: str) -> str:
    return topic
"""


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pipeline.py"
    path.write_text(PIPELINE)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def runs() -> list[dict[str, object]]:
    code, out, err = invoke("runs", "--json")
    assert code == 0, err
    listed: list[dict[str, object]] = json.loads(out)
    return listed


def test_run_records_the_run_and_prints_its_id(pipeline: Path) -> None:
    code, out, _ = invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    assert code == 0
    [recorded] = runs()
    assert f"run {recorded['run_id']} recorded in sqlite:///.podium/runs.sqlite3" in out
    assert (recorded["workflow"], recorded["status"], recorded["tokens"]) == ("shop", "succeeded", 1200)
    assert recorded["target"] == str(pipeline)
    code, out, _ = invoke("run", str(pipeline), "-i", "topic=x", "--json")
    assert json.loads(out)["run_id"] == runs()[0]["run_id"]


def test_runs_lists_newest_first_with_filters(pipeline: Path) -> None:
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    Path("broken").touch()
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    listed = runs()
    assert [r["status"] for r in listed] == ["failed", "succeeded"]
    code, out, _ = invoke("runs", "--json", "--status", "succeeded", "--limit", "1")
    assert [r["status"] for r in json.loads(out)] == ["succeeded"]
    assert json.loads(invoke("runs", "--json", "--workflow", "other")[1]) == []
    code, out, _ = invoke("runs")
    assert code == 0 and "failed" in out and "stage(s) 'polish' did not succeed" in out


def test_runs_shows_a_run_whose_process_died_as_interrupted(pipeline: Path) -> None:
    dead = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout
    )

    async def record() -> None:
        store = SQLiteRunStore(Path(".podium/runs.sqlite3"))
        await store.open()
        run = podium.RunRecord(
            run_id="gone",
            workflow="shop",
            status="running",
            started_at=1.0,
            host=socket.gethostname(),
            pid=dead,
        )
        await store.start_run(run, {})
        await store.close()

    asyncio.run(record())
    [gone] = runs()
    assert gone["status"] == "interrupted" and "killed or crashed" in str(gone["reason"])


def test_resume_continues_a_failed_run_and_reuses_its_finished_stages(pipeline: Path) -> None:
    Path("broken").touch()
    code, out, _ = invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    assert code == 1
    failed = runs()[0]["run_id"]
    assert f"continue it with: podium resume {failed}" in out
    Path("broken").unlink()
    code, out, err = invoke("resume", str(failed)[:6], "--json")
    assert code == 0, err
    resumed = json.loads(out)
    stages = {s["name"]: s for s in resumed["stages"]}
    assert (
        stages["draft"]["status"] == "cached" and stages["draft"]["reason"] == f"restored from run {failed}"
    )
    assert resumed["usage"]["total_tokens"] == 0 and resumed["saved"]["total_tokens"] == 1200
    assert runs()[0]["resumed_from"] == failed


def test_resume_refuses_a_changed_workflow_unless_forced(pipeline: Path) -> None:
    Path("broken").touch()
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    failed = str(runs()[0]["run_id"])
    Path("broken").unlink()
    pipeline.write_text(PIPELINE.replace('return draft + "!"', 'return draft + "?"'))
    code, _, err = invoke("resume", failed, "--no-progress")
    assert code == 2
    assert "workflow 'shop' changed since it ran" in err and "stage 'polish': its code changed" in err
    assert "Traceback" not in err
    code, out, err = invoke("resume", failed, "--force", "--json")
    assert code == 0, err
    assert {s["name"]: s["status"] for s in json.loads(out)["stages"]} == {
        "draft": "cached",
        "polish": "succeeded",
    }


def test_resume_of_an_unknown_run_exits_2(pipeline: Path) -> None:
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    code, _, err = invoke("resume", "ffff")
    assert code == 2 and "no run 'ffff'" in err


def test_stats_reports_the_kpis_of_the_recorded_runs(pipeline: Path) -> None:
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    Path("broken").touch()
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    code, out, err = invoke("stats", "--json", "--since", "1h")
    assert code == 0, err
    kpis = json.loads(out)
    assert (kpis["runs"], kpis["success_rate"]) == (2, 0.5)
    assert kpis["workflows"]["shop"]["slo"]["target_s"] == 30.0
    assert kpis["stages"]["shop"]["polish"]["failed"] == 1
    assert kpis["agents"]["by_agent"]["writer"]["calls"] == 2
    assert kpis["tokens"]["total"] == 2400
    code, out, _ = invoke("stats")
    assert code == 0 and "success rate 50.0%" in out and "slowest stage: shop/" in out
    code, _, err = invoke("stats", "--since", "soon")
    assert code == 2 and "--since" in err


def test_alerts_lists_the_alerts_raised(pipeline: Path) -> None:
    Path("podium.toml").write_text('[alerts]\nworkflow_duration = "1ms"\n')
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    code, out, err = invoke("alerts", "--json")
    assert code == 0, err
    [alert] = json.loads(out)
    assert (alert["name"], alert["workflow"], alert["threshold"]) == ("workflow_duration", "shop", 0.001)
    assert "workflow_duration" in invoke("alerts")[1]


def test_cost_projects_the_recorded_runs_to_a_month(pipeline: Path) -> None:
    Path("podium.toml").write_text("[cost]\ninfrastructure_monthly_usd = 300\n")
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    code, out, err = invoke("cost", "--monthly", "500", "--json")
    assert code == 0, err
    report = json.loads(out)
    components = {row["component"]: row for row in report["components"]}
    sonnet = components["agent calls (claude-sonnet-4-5)"]
    assert sonnet["per_run_usd"] == pytest.approx(0.006)  # 1,000 in x $3 + 200 out x $15, per million
    assert sonnet["monthly_usd"] == pytest.approx(3.0)
    assert report["total"]["monthly_usd"] == pytest.approx(303.0)
    assert "infrastructure" in invoke("cost")[1]


def test_check_passes_a_workflow_ready_to_deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ready.py").write_text(READY)
    Path("podium.toml").write_text(
        '[alerts.webhooks.ops]\nurl = "https://hooks.example.invalid/T/B/s3cr3t"\n'
    )
    code, out, err = invoke("check", "ready.py", "--json")
    assert code == 0, out + err
    items = {item["item"]: item for item in json.loads(out)["items"]}
    assert [name for name, item in items.items() if item["ok"] is False] == []
    assert items["circuit breakers"] == {
        "item": "circuit breakers",
        "ok": None,
        "reason": "the workflow calls no agent",
        "fix": None,
    }
    assert "the run store" in items["metrics collection"]["reason"]
    assert "WebhookAlertSink 'ops' https://hooks.example.invalid/…" in items["monitoring"]["reason"]
    assert "s3cr3t" not in out


def test_check_fails_an_incomplete_workflow_with_the_reason_and_the_fix(pipeline: Path) -> None:
    code, out, _ = invoke("check", str(pipeline))
    assert code == 1
    assert "✗ error handlers: 2 of 2 stages have no error handler: 'draft', 'polish'" in out
    assert "fix: give them fallback= or on_error=" in out
    assert "✗ caching: no stage has a cache policy" in out
    assert "✗ monitoring: alerts only go to the log" in out
    assert "[alerts.webhooks.<name>]" in out
    code, out, _ = invoke("check", str(pipeline), "--json")
    payload = json.loads(out)
    assert code == 1 and payload["ok"] is False
    assert {i["item"] for i in payload["items"] if i["ok"] is False} == {
        "error handlers",
        "timeouts",
        "circuit breakers",
        "caching",
        "rate limiting",
        "monitoring",
    }


def test_check_looks_for_a_breaker_and_a_rate_limit_on_every_agent_the_workflow_calls(pipeline: Path) -> None:
    def items() -> dict[str, dict[str, object]]:
        return {i["item"]: i for i in json.loads(invoke("check", str(pipeline), "--json")[1])["items"]}

    before = items()
    assert (
        before["circuit breakers"]["reason"]
        == "1 of the 1 agents the workflow calls have no breaker: 'writer'"
    )
    assert "breaker = { failures = 5, reset_s = 30 }" in str(before["circuit breakers"]["fix"])
    assert before["rate limiting"]["ok"] is False and "[limits.<provider>]" in str(
        before["rate limiting"]["fix"]
    )
    Path("podium.toml").write_text("[agents.writer]\nbreaker = { failures = 3, reset_s = 10 }\nrpm = 60\n")
    after = items()
    assert after["circuit breakers"]["ok"] is True and after["rate limiting"]["ok"] is True
    Path("podium.toml").write_text(
        "[limits.simulated]\ntpm = 100000\n"
    )  # a limit shared by the provider's key
    assert items()["rate limiting"]["ok"] is True


def test_check_of_a_bad_target_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("check", "missing.py")
    assert code == 2 and "no such file" in err
    Path("cyclic.py").write_text(
        "import podium\nwf = podium.Workflow('c', strategy='sequential')\n"
        "@wf.stage(needs=['b'])\nasync def a(b): ...\n@wf.stage(needs=['a'])\nasync def b(a): ...\n"
    )
    code, _, err = invoke("check", "cyclic.py")
    assert code == 2 and "cycle" in err


def test_check_without_a_store_or_a_metrics_plugin_counts_metrics_as_missing(
    pipeline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_LOAD_PLUGINS", "sequential")  # no plugin observing runs
    Path("podium.toml").write_text("store = false\n")
    code, out, _ = invoke("check", str(pipeline), "--json")
    metrics = {i["item"]: i for i in json.loads(out)["items"]}["metrics collection"]
    assert (code, metrics["ok"], metrics["reason"]) == (
        1,
        False,
        "no run store and no plugin collecting metrics",
    )
    assert "pip install 'podium[otel]'" in metrics["fix"]


def test_store_prune_deletes_old_runs(pipeline: Path) -> None:
    invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    code, out, _ = invoke("store", "prune", "--older-than", "30d")
    assert code == 0 and "pruned 0 run(s)" in out
    code, out, _ = invoke("store", "prune", "--older-than", "0s", "--json")
    assert json.loads(out)["deleted_runs"] == 1 and runs() == []
    code, _, err = invoke("store", "prune", "--older-than", "a while")
    assert code == 2 and "--older-than" in err


def test_with_store_false_nothing_is_recorded_and_the_store_commands_say_so(pipeline: Path) -> None:
    Path("podium.toml").write_text("store = false\n")
    code, out, _ = invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    assert code == 0 and "recorded in" not in out
    assert not Path(".podium/runs.sqlite3").exists()
    code, _, err = invoke("runs")
    assert code == 2 and "the configuration says store = false" in err


def test_a_store_that_cannot_be_opened_warns_and_the_run_still_succeeds(pipeline: Path) -> None:
    Path("podium.toml").write_text('store = "sqlite:///pipeline.py/runs.sqlite3"\n')  # under a file
    code, out, err = invoke("run", str(pipeline), "-i", "topic=x", "--no-progress")
    assert code == 0
    assert "runs go on without being recorded" in err
    assert "recorded in" not in out


def test_a_bad_store_setting_is_a_configuration_error(pipeline: Path) -> None:
    Path("podium.toml").write_text("store = 3\n")
    code, _, err = invoke("runs")
    assert code == 2 and "expected a run store URL" in err and "config.store" in err
