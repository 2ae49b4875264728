"""The podium command line: exit codes, output, and messages without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from podium.cli.main import main

PIPELINE = """
import podium

wf = podium.Workflow("cli-demo", strategy="sequential")

@podium.hookimpl
def podium_register_agents(register):
    register("writer", podium.SimulatedAgent("drafted", input_tokens=1000, output_tokens=200))

@wf.stage
async def draft(ctx: podium.Context, topic: str) -> str:
    return (await ctx.agent("writer").complete(topic)).text

@wf.stage(needs=["draft"])
async def polish(draft: str, fail: bool = False) -> str:
    if fail:
        raise RuntimeError("polish broke")
    return draft + "!"
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


def test_run_prints_progress_and_a_summary_and_exits_0(pipeline: Path) -> None:
    code, out, err = invoke("run", str(pipeline), "--input", "topic=caching")
    assert code == 0, err
    assert "cli-demo" in err and "draft" in err  # progress goes to stderr
    assert "polish" in out and "succeeded" in out and "1,200" in out  # the summary table


def test_run_json_reports_values_usage_and_cost(pipeline: Path) -> None:
    code, out, _ = invoke("run", str(pipeline), "-i", "topic=x", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["status"] == "succeeded"
    assert payload["stages"][1]["value"] == "drafted!"
    assert payload["usage"]["total_tokens"] == 1200
    assert payload["cost_usd"] == pytest.approx(1000 * 3e-6 + 200 * 15e-6)


def test_a_failed_workflow_exits_1(pipeline: Path) -> None:
    code, out, _ = invoke("run", str(pipeline), "-i", "topic=x", "-i", "fail=true")
    assert code == 1
    assert "polish broke" in out


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import podium\nwf = podium.Workflow('w')\n@wf.stage(needs=['b'])\nasync def a(): ...\n"
            "@wf.stage(needs=['a'])\nasync def b(): ...\n",
            "cycle in needs: a -> b -> a",
        ),
        (
            "import podium\nwf = podium.Workflow('w')\n@wf.stage(needs=['spek'])\nasync def a(): ...\n"
            "@wf.stage\nasync def spec(): ...\n",
            "unknown stage 'spek' (did you mean 'spec'?)",
        ),
        (
            "import podium\nwf = podium.Workflow('w', strategy='sequentail')\n@wf.stage\nasync def a(): ...\n",
            "Did you mean 'sequential'?",
        ),
    ],
)
def test_definition_errors_exit_2_with_a_message_and_no_traceback(
    tmp_path: Path, source: str, message: str
) -> None:
    path = tmp_path / "bad.py"
    path.write_text(source)
    for command in ("run", "validate"):
        code, _, err = invoke(command, str(path))
        assert code == 2
        assert message in err
        assert "Traceback" not in err


def test_a_malformed_toml_workflow_exits_2_naming_each_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[workflow]\nname = "w"\ntimeout = "soon"\n[[stages]]\nname = "x"\n')
    code, _, err = invoke("validate", str(path))
    assert code == 2
    assert "@ workflow.timeout" in err
    assert "required field missing @ stages[0].run" in err
    assert "Traceback" not in err


def test_validate_accepts_a_good_workflow(pipeline: Path) -> None:
    code, out, _ = invoke("validate", str(pipeline), "-i", "topic=x")
    assert code == 0
    assert "is valid" in out


def test_graph_prints_mermaid_and_dot(pipeline: Path) -> None:
    code, out, _ = invoke("graph", str(pipeline))
    assert code == 0
    assert "flowchart TD" in out and "draft --> polish" in out
    code, out, _ = invoke("graph", str(pipeline), "--format", "dot")
    assert '"draft" -> "polish";' in out


def test_plugins_json_lists_builtins_and_installed_plugins_with_hooks() -> None:
    code, out, _ = invoke("plugins", "--json")
    assert code == 0
    plugins = {p["name"]: p for p in json.loads(out)["plugins"]}
    assert plugins["podium.engine.defaults.execution"]["builtin"] is True
    assert "podium_execute_stage" in plugins["podium.engine.defaults.execution"]["hooks"]
    sequential = plugins["sequential"]
    assert sequential["distribution"] == "podium-sequential"
    assert sequential["version"]
    assert sequential["hooks"] == ["podium_register_strategies"]


def test_plugins_can_be_filtered_by_hook() -> None:
    _, out, _ = invoke("plugins", "--json", "--hook", "podium_route")
    names = [p["name"] for p in json.loads(out)["plugins"]]
    assert "podium.engine.defaults.routing" in names
    assert "sequential" not in names


def test_config_shows_values_with_sources_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "podium.toml").write_text(
        'strategy = "sequential"\n[plugins.anything]\napi_key = "sk-live-123"\n'
    )
    monkeypatch.setenv("PODIUM_CACHE_URL", "memory://")
    code, out, _ = invoke("config", "--json")
    assert code == 0
    rows = {row["key"]: row for row in json.loads(out)}
    assert rows["strategy"]["source"].endswith("podium.toml")
    assert rows["cache_url"]["source"] == "environment (PODIUM_CACHE_URL)"
    assert rows["plugins.anything.api_key"]["value"] == "********"
    assert "sk-live-123" not in out


def test_log_json_writes_one_json_record_per_line_with_run_context(pipeline: Path) -> None:
    code, _, err = invoke(
        "--log-json",
        "--log-level",
        "INFO",
        "run",
        str(pipeline),
        "-i",
        "topic=x",
        "-i",
        "fail=true",
        "--no-progress",
    )
    assert code == 1
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    failure = next(r for r in records if r["logger"] == "podium.stage" and r["level"] == "WARNING")
    assert failure["workflow"] == "cli-demo"
    assert failure["stage"] == "polish"
    assert len(failure["run_id"]) == 16


def test_plain_logs_name_workflow_stage_and_run(pipeline: Path) -> None:
    code, _, err = invoke(
        "--log-level", "WARNING", "run", str(pipeline), "-i", "topic=x", "-i", "fail=true", "--no-progress"
    )
    assert code == 1
    assert "WARNING podium.stage [cli-demo/polish " in err


CACHED_PIPELINE = PIPELINE.replace("@wf.stage\nasync def draft", "@wf.stage(cache=True)\nasync def draft")


def test_two_runs_share_results_through_the_default_sqlite_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cached.py"
    path.write_text(CACHED_PIPELINE)
    first = json.loads(invoke("run", str(path), "-i", "topic=x", "--json")[1])
    second = json.loads(invoke("run", str(path), "-i", "topic=x", "--json")[1])
    assert (tmp_path / ".podium" / "cache.sqlite3").is_file()
    assert first["stages"][0]["status"] == "succeeded"
    assert second["stages"][0]["status"] == "cached"
    assert second["saved"]["total_tokens"] == 1200
    assert second["usage"]["total_tokens"] == 0
    _, out, _ = invoke("run", str(path), "-i", "topic=x", "--json", "--no-cache")
    assert json.loads(out)["stages"][0]["status"] == "succeeded"


def test_config_masks_a_password_in_the_cache_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PODIUM_CACHE_URL", "redis://:hunter2@127.0.0.1:6379/0")
    _, out, _ = invoke("config", "--json")
    assert "hunter2" not in out
    assert "redis://:***@127.0.0.1:6379/0" in out


async def test_the_live_progress_display_on_a_terminal_tracks_every_stage() -> None:
    import io

    from rich.console import Console

    import podium
    from podium.cli.console import ProgressDisplay

    screen = io.StringIO()
    display = ProgressDisplay(Console(file=screen, force_terminal=True, width=100))
    wf = podium.Workflow("live", strategy="sequential")

    @wf.stage(retry=podium.Retry(attempts=2, delay=0))
    async def flaky(ctx: podium.Context) -> str:
        if ctx.attempt == 1:
            raise ConnectionError("blip")
        return "ok"

    @wf.stage(needs=["flaky"])
    async def broken(flaky: str) -> None:
        raise ValueError("bad")

    @wf.stage(needs=["broken"])
    async def never() -> None: ...

    async with podium.Engine(config=podium.Config(), plugins=[display], cache_url=False) as engine:
        await engine.run(wf)
    assert "skipped: dependency 'broken' failed" in screen.getvalue()  # drawn on the live table
    assert display._live is None  # stopped when the run finished
    rows = display._rows
    assert rows["flaky"][2].startswith("succeeded")
    assert rows["broken"][2] == "failed: ValueError('bad')"
    assert rows["never"][2] == "skipped: dependency 'broken' failed"
