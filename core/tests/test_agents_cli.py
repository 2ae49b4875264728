"""``podium agents``: what is declared, with its limits and breaker; bad tables exit 2 with the path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from podium.cli.main import main

CONFIG = """
[agents.reviewer]
provider = "simulated"
model = "claude-haiku-4-5"
pool = 4
tpm = 40000
breaker = { failures = 3, reset_s = 20 }
fallback = "backup"
cache = 3600

[agents.backup]
provider = "simulated"
model = "claude-sonnet-4-5"

[limits.simulated]
rpm = 50
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "podium.toml"
    path.write_text(CONFIG)
    return path


def test_podium_agents_json_lists_provider_model_limits_breaker_and_pool(config_file: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config_file), "agents", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["agents"]}
    reviewer = rows["reviewer"]
    assert (reviewer["provider"], reviewer["model"]) == ("simulated", "claude-haiku-4-5")
    assert reviewer["limits"] == {"tpm": 40000}
    assert set(reviewer["meters"]) == {"agent:reviewer:tpm", "key:simulated:rpm"}
    assert reviewer["pool"] == {"size": 4, "in_use": 0, "waiting": 0}
    assert reviewer["breaker"]["state"] == "closed" and reviewer["breaker"]["threshold"] == 3
    assert reviewer["fallback"] == "backup" and reviewer["cache"] == 3600.0
    assert rows["backup"]["breaker"]["state"] is None


def test_podium_agents_prints_a_table(config_file: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config_file), "agents"])
    assert result.exit_code == 0, result.output
    assert "reviewer" in result.output and "tpm 40000" in result.output and "closed" in result.output


def test_a_bad_agent_table_exits_2_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "podium.toml"
    path.write_text('[agents.reviewer]\nprovider = "simulated"\nmodel = "m"\ntpm = -1\n')
    result = CliRunner().invoke(main, ["--config", str(path), "agents"])
    assert result.exit_code == 2
    assert "must be a positive integer, got -1 @ config.agents['reviewer'].tpm" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_provider_exits_2_with_the_closest_name(tmp_path: Path) -> None:
    path = tmp_path / "podium.toml"
    path.write_text('[agents.reviewer]\nprovider = "simulted"\nmodel = "m"\n')
    result = CliRunner().invoke(main, ["--config", str(path), "agents"])
    assert result.exit_code == 2
    assert (
        "agents.reviewer.provider: no provider named 'simulted' (did you mean 'simulated'?)" in result.output
    )


async def test_an_agent_profile_declares_policies_as_the_configuration_does(tmp_path: Path) -> None:
    import podium
    from podium.cli.agent_profiles import load_profile, register_profile

    profile = tmp_path / "agents.fast.toml"
    profile.write_text(
        '[agents.writer]\nprovider = "simulated"\nmodel = "m"\nreply = "hi"\npool = 2\ntpm = 9000\n'
    )
    async with podium.Engine(config=podium.Config(), cache_url=False) as engine:
        register_profile(engine, load_profile(profile))
        writer = engine.agents.managed("writer")
    assert writer.policy.pool == 2 and [m.name for m in writer.meters] == ["agent:writer:tpm"]
    assert writer.agent.model == "m"


async def test_a_bad_policy_in_an_agent_profile_names_its_key(tmp_path: Path) -> None:
    import podium
    from podium.cli.agent_profiles import load_profile, register_profile

    profile = tmp_path / "agents.fast.toml"
    profile.write_text('[agents.writer]\nprovider = "simulated"\nmodel = "m"\npool = 0\n')
    async with podium.Engine(config=podium.Config(), cache_url=False) as engine:
        with pytest.raises(
            podium.ConfigError, match=r"must be a positive integer, got 0 @ agents\['writer'\]\.pool"
        ):
            register_profile(engine, load_profile(profile))
