"""The example on real providers: `--agents anthropic` runs it through podium-anthropic (here
against a fake Messages API on 127.0.0.1), offline runs stay on simulated agents."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from podium.cli.main import main
from podium_anthropic.testing import FakeAnthropic, anthropic_error

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KEY = "sk-ant-example-5ecret"


def answer(body: Mapping[str, Any]) -> str:
    """A reviewer approves; everyone else writes a line of work."""
    return (
        "APPROVED: ship it."
        if "review a change" in str(body.get("system", ""))
        else "def export_csv(rows): ..."
    )


@pytest.fixture
def claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    monkeypatch.chdir(tmp_path)  # the CLI's default SQLite caches go here
    with FakeAnthropic(api_key=KEY, reply=answer) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        yield fake


def run(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(main, ["run", *args, "--json"])
    payload = json.loads(result.stdout) if result.stdout.startswith("{") else {}
    return result.exit_code, payload, result.stderr


@pytest.mark.parametrize("target", ["feature_pipeline.py", "feature_pipeline.toml"])
def test_the_example_runs_on_claude_with_the_anthropic_profile(claude: FakeAnthropic, target: str) -> None:
    code, payload, _ = run(str(EXAMPLES / target), "--agents", "anthropic")
    stages = {s["name"]: s for s in payload["stages"]}

    assert code == 0
    assert claude.count("/v1/messages") == 5  # spec, backend, frontend, tests, review
    assert stages["review"]["route"] == ["ship"]
    assert {r.body["model"] for r in claude.requests} == {"claude-sonnet-4-6", "claude-haiku-4-5"}
    assert payload["usage"]["total_tokens"] > 0 and payload["cost_usd"] > 0


def test_a_profile_run_never_reuses_the_simulated_runs_cached_stages(claude: FakeAnthropic) -> None:
    offline, _, _ = run(str(EXAMPLES / "feature_pipeline.py"))
    code, payload, _ = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic")

    assert (offline, code) == (0, 0)
    assert claude.count("/v1/messages") == 5
    assert "cached" not in {s["status"] for s in payload["stages"]}


def test_a_second_profile_run_is_served_from_its_own_cache(claude: FakeAnthropic) -> None:
    run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic")
    code, again, _ = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic")
    assert code == 0
    assert claude.count("/v1/messages") == 5 + 1  # only the uncached review is asked again
    assert again["saved"]["total_tokens"] > 0


def test_the_profile_reaches_the_api_at_the_base_url_of_podium_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No internet: [plugins.anthropic] base_url points at the fake, a dummy key in the environment.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAnthropic(api_key=KEY, reply=answer) as fake:
        (tmp_path / "podium.toml").write_text(f'[plugins.anthropic]\nbase_url = "{fake.url}"\n')
        code, payload, _ = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic")

    assert code == 0 and fake.count("/v1/messages") == 5
    assert {s["name"]: s for s in payload["stages"]}["review"]["route"] == ["ship"]


def test_the_profiles_agents_go_through_the_agent_policies(claude: FakeAnthropic) -> None:
    # An overloaded API: the agent layer retries each call (honouring retry-after), the run succeeds.
    claude.script(anthropic_error(529, "overloaded_error", "Overloaded", headers={"retry-after": "0"}))
    code, payload, _ = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic")
    assert code == 0 and payload["status"] == "succeeded"
    assert claude.statuses.count(529) == 1 and claude.count("/v1/messages") == 6


def test_a_wrong_key_fails_the_run_at_its_first_stage_with_the_apis_message_and_one_request(
    claude: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-ant-wrong-5ecret-0000"
    monkeypatch.setenv("ANTHROPIC_API_KEY", wrong)
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic"])

    assert result.exit_code == 1
    assert claude.count("/v1/messages") == 1  # neither the stage's retry nor the agent's resends a 401
    assert "agent 'planner': 401 authentication_error: invalid x-api-key" in result.stdout
    assert wrong not in result.stdout + result.stderr


def test_without_a_key_the_profile_run_says_where_to_put_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, _, stderr = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropic")
    assert code == 2
    assert "agents.planner: no API key for provider 'anthropic': set ANTHROPIC_API_KEY" in stderr


def test_an_unknown_profile_name_lists_the_profiles_beside_the_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", "anthropc")
    assert code == 2
    assert "no agent profile agents.anthropc.toml" in stderr and "(did you mean 'anthropic'?)" in stderr


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("[agents.planner]\nmodel = 'm'\n", "agents.planner.provider: required, a non-empty string"),
        (
            "[agents.planner]\nprovider = 'gemini'\nmodel = 'm'\n",
            "no provider 'gemini' is installed (installed: ",
        ),
        ("[agent.planner]\nprovider = 'anthropic'\n", "unknown top-level key 'agent'"),
        ("[agents.planner\n", "not valid TOML"),
        (
            "[agents.planner]\nprovider = 'anthropic'\nmodel = 'm'\ntemperature = 0.5\n",
            "'temperature' is not accepted",
        ),
    ],
)
def test_a_bad_profile_is_reported_with_its_key_before_anything_runs(
    claude: FakeAnthropic, tmp_path: Path, profile: str, expected: str
) -> None:
    path = tmp_path / "agents.bad.toml"
    path.write_text(profile)
    code, _, stderr = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", str(path))
    assert code == 2
    assert expected in stderr
    assert claude.requests == []


def test_a_simulated_profile_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "agents.quick.toml"
    path.write_text(
        "".join(
            f"[agents.{name}]\nprovider = 'simulated'\nmodel = 'claude-haiku-4-5'\nreply = 'APPROVED: ok'\n"
            for name in ("planner", "coder", "tester", "reviewer")
        )
    )
    code, payload, _ = run(str(EXAMPLES / "feature_pipeline.py"), "--agents", str(path))
    assert code == 0
    assert {s["name"]: s for s in payload["stages"]}["review"]["route"] == ["ship"]
