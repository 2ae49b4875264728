"""Configuration: flags > environment > file > defaults, sections per plugin, secrets masked."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

import podium
from podium.definition.config import Config, Secret
from podium.definition.converter import parse_duration
from podium.foundation.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_precedence_is_flags_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", 'strategy = "parallel"\ncache_url = "redis://file"\nlog_level = "INFO"\n')
    config = Config.load(
        cwd=tmp_path,
        env={"PODIUM_CACHE_URL": "redis://env", "PODIUM_LOG_LEVEL": "DEBUG"},
        overrides={"log_level": "ERROR"},
    )
    assert config.settings.strategy == "parallel"
    assert config.settings.cache_url == "redis://env"
    assert config.settings.log_level == "ERROR"
    sources = {key: source for key, _, source in config.describe()}
    assert sources["strategy"].endswith("podium.toml")
    assert sources["cache_url"] == "environment (PODIUM_CACHE_URL)"
    assert sources["log_level"] == "command line"
    assert sources["cache_timeout"] == "default"


def test_tool_podium_in_pyproject_is_read_when_there_is_no_podium_toml(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n[tool.podium]\nstrategy = "conditional"\n')
    assert Config.load(cwd=tmp_path, env={}).settings.strategy == "conditional"


def test_an_unrelated_pyproject_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n')
    assert Config.load(cwd=tmp_path, env={}).origin == "defaults"


def test_plugin_control_variables_come_from_the_environment() -> None:
    config = Config.load(
        env={"PODIUM_DISABLE_PLUGIN_AUTOLOAD": "1", "PODIUM_LOAD_PLUGINS": "a, b", "PODIUM_DISABLE": "otel"},
        cwd="/",
    )
    assert config.settings.autoload is False
    assert config.settings.load_plugins == ["a", "b"]
    assert config.settings.disable == ["otel"]


def test_bad_values_are_reported_with_their_path_and_source(tmp_path: Path) -> None:
    path = write(tmp_path / "podium.toml", 'cache_timeout = "soon"\ncolour = "red"\n')
    with pytest.raises(ConfigError) as info:
        Config.load(file=path, env={})
    message = str(info.value)
    assert str(path) in message
    assert "expected seconds or a duration like '30s' or '5m', got 'soon' @ config.cache_timeout" in message
    assert "extra fields found (colour) @ config" in message


def test_the_old_cache_key_is_an_error_naming_cache_url(tmp_path: Path) -> None:
    path = write(tmp_path / "podium.toml", 'cache = "redis://:hunter2@host:6379/0"\n')
    with pytest.raises(ConfigError) as info:
        Config.load(file=path, env={})
    message = str(info.value)
    assert message.startswith(f"{path}: invalid configuration")
    assert "'cache' is now called 'cache_url' (environment variable PODIUM_CACHE_URL" in message
    assert "hunter2" not in message


def test_the_old_cache_variable_is_an_error_naming_the_new_one(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"(?s)^environment \(PODIUM_CACHE\): .*PODIUM_CACHE_URL instead of PODIUM_CACHE\)"
    ):
        Config.load(cwd=tmp_path, env={"PODIUM_CACHE": "memory://"})


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        Config.load(file=tmp_path / "nope.toml", env={})


@attrs.define
class DemoSection:
    api_key: Secret | None = None
    timeout: podium.Duration = 10.0
    retries: int = 2


def test_plugin_sections_are_structured_by_their_class_from_file_and_environment(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", '[plugins.demo]\ntimeout = "1m"\napi_key = "sk-file-secret"\n')
    config = Config.load(cwd=tmp_path, env={"PODIUM_PLUGINS__DEMO__RETRIES": "5"})
    config.register_section("demo", DemoSection)
    section = config.section("demo")
    assert section == DemoSection(Secret("sk-file-secret"), 60.0, 5)


def test_secrets_are_masked_everywhere_they_could_be_shown(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", '[plugins.demo]\napi_key = "sk-file-secret"\n')
    config = Config.load(cwd=tmp_path, env={})
    config.register_section("demo", DemoSection)
    section = config.section("demo")
    assert "sk-file-secret" not in repr(section)
    assert "sk-file-secret" not in str(config.describe())
    assert section.api_key.reveal() == "sk-file-secret"


def test_a_bad_plugin_section_names_the_key(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", '[plugins.demo]\nretries = "many"\n')
    config = Config.load(cwd=tmp_path, env={})
    config.register_section("demo", DemoSection)
    with pytest.raises(ConfigError, match=r"@ config\.plugins\.demo\.retries"):
        config.validate_sections()


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("250ms", 0.25), ("2h", 7200), (3, 3)]
)
def test_durations_accept_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


async def test_the_configured_default_strategy_is_used(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", 'strategy = "sequential"\n')
    wf = podium.Workflow("w")

    @wf.stage
    async def a() -> int:
        return 1

    async with podium.Engine(config=Config.load(cwd=tmp_path, env={})) as engine:
        assert (await engine.run(wf))["a"].value == 1


async def test_pricing_overrides_come_from_configuration(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", "[pricing.my-model]\ninput = 10.0\noutput = 20.0\n")
    async with podium.Engine(config=Config.load(cwd=tmp_path, env={}), cache_url=False) as engine:
        usage = engine.pricing.price("my-model", podium.Usage(input_tokens=1_000_000, output_tokens=500_000))
    assert usage.cost_usd == pytest.approx(20.0)


def test_keys_containing_dots_survive_layering(tmp_path: Path) -> None:
    write(tmp_path / "podium.toml", '[pricing."gpt-4.1"]\ninput = 2.0\noutput = 8.0\n')
    config = Config.load(cwd=tmp_path, env={})
    assert config.settings.pricing["gpt-4.1"].output == 8.0
    assert ('pricing."gpt-4.1".output', 8.0, str(tmp_path / "podium.toml")) in config.describe()
