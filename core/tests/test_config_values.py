"""Configuration values are taken as their type says: durations only where declared, lists
never split from strings, a known log level, a cache URL with a real port. Each error names
the key, where it was set, and what is allowed."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

import podium
from podium.backends.urls import open_backend
from podium.definition.config import Config
from podium.foundation.errors import ConfigError
from podium.foundation.redaction import redact_url


def error_of(tmp_path: Path, toml: str = "", env: dict[str, str] | None = None, **overrides: str) -> str:
    path = tmp_path / "podium.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        Config.load(file=path, env=env or {}, overrides=overrides)
    return str(info.value)


LEVELS = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case)"


@pytest.mark.parametrize(
    ("toml", "env", "flags", "expected"),
    [
        ('log_level = "LOUD"', {}, {}, f"{LEVELS}, got 'LOUD' @ config.log_level"),
        ("log_level = 3", {}, {}, f"{LEVELS}, got '3' @ config.log_level"),
        (
            "",
            {"PODIUM_LOG_LEVEL": "LOUD"},
            {},
            f"{LEVELS}, got 'LOUD' @ config.log_level (set by PODIUM_LOG_LEVEL)",
        ),
        ("", {}, {"log_level": "LOUD"}, f"{LEVELS}, got 'LOUD' @ config.log_level (set on the command line)"),
    ],
    ids=["file", "file-number", "environment", "flag"],
)
def test_an_unknown_log_level_names_the_setting_its_source_and_the_allowed_values(
    tmp_path: Path, toml: str, env: dict[str, str], flags: dict[str, str], expected: str
) -> None:
    message = error_of(tmp_path, toml, env, **flags)
    assert message == f"{tmp_path / 'podium.toml'}: invalid configuration:\n  - {expected}"


def test_a_log_level_in_any_case_is_accepted() -> None:
    assert Config({"log_level": "debug"}).settings.log_level == "debug"


@pytest.mark.parametrize("port", ["notaport", "70000"])
def test_a_cache_url_with_a_bad_port_is_a_config_error_with_the_password_masked(
    tmp_path: Path, port: str
) -> None:
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    for message in (
        error_of(tmp_path, f'cache_url = "{url}"'),
        error_of(tmp_path, env={"PODIUM_CACHE_URL": url}),
    ):
        assert (
            f"cache_url 'redis://:***@127.0.0.1:{port}/0': the port must be a number from 0 to 65535"
            in message
        )
        assert "@ config.cache_url" in message
        assert "hunter2" not in message


def test_opening_a_cache_url_with_a_bad_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"the port must be a number from 0 to 65535, got 'x'") as info:
        open_backend("memcached://:hunter2@127.0.0.1:x")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["redis://:hunter2@127.0.0.1:notaport/0", "redis://u:hunter2@[::1:6379/0", "redis://:p@hunter2@host:1/0"],
)
def test_a_malformed_url_is_still_shown_without_its_password(url: str) -> None:
    assert "hunter2" not in redact_url(url)
    assert "***" in redact_url(url)


@pytest.mark.parametrize("key", ["disable", "required_plugins", "load_plugins"])
def test_a_string_where_a_list_belongs_is_a_type_error_with_its_path(tmp_path: Path, key: str) -> None:
    message = error_of(tmp_path, f'{key} = "context7"')
    assert (
        f"expected a list, got the string 'context7' (write ['context7'] for one item) @ config.{key}"
        in message
    )


def test_a_price_is_a_number_not_a_duration(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[pricing."my-model"]\ninput = "5m"\noutput = "cheap"\n')
    assert "expected a number, got '5m' @ config.pricing['my-model'].input" in message
    assert "expected a number, got 'cheap' @ config.pricing['my-model'].output" in message


@pytest.mark.parametrize("value", ["-1", "0", '"0s"'])
def test_a_cache_timeout_must_be_more_than_zero(tmp_path: Path, value: str) -> None:
    message = error_of(tmp_path, f"cache_timeout = {value}")
    assert "@ config.cache_timeout" in message
    assert "must be more than 0 seconds" in message or "0 seconds or more" in message


def test_durations_still_take_units_where_they_are_declared() -> None:
    assert Config({"cache_timeout": "250ms"}).settings.cache_timeout == 0.25


@attrs.define
class ServiceSection:
    api_key: podium.Secret | None = None
    url: str = "https://service.invalid"
    timeout: podium.Duration = 10.0
    ratio: float = 0.5


def service_config(tmp_path: Path, toml: str = "", env: dict[str, str] | None = None) -> Config:
    (tmp_path / "podium.toml").write_text(toml)
    config = Config.load(cwd=tmp_path, env=env or {})
    config.register_section("service", ServiceSection, env={"api_key": "SERVICE_KEY", "url": "SERVICE_URL"})
    return config


def test_a_plugin_setting_from_its_own_variable_is_shown_masked_with_its_source(tmp_path: Path) -> None:
    config = service_config(tmp_path, env={"SERVICE_KEY": "sk-live-123", "SERVICE_URL": "http://127.0.0.1:9"})
    rows = {key: (value, source) for key, value, source in config.describe()}
    assert rows["plugins.service.api_key"] == ("********", "environment (SERVICE_KEY)")
    assert rows["plugins.service.url"] == ("http://127.0.0.1:9", "environment (SERVICE_URL)")
    assert rows["plugins.service.timeout"] == (10.0, "default")
    section = config.section("service")
    assert section.api_key.reveal() == "sk-live-123"
    assert "sk-live-123" not in repr(rows)


def test_the_file_wins_over_a_plugins_own_variable(tmp_path: Path) -> None:
    config = service_config(
        tmp_path, '[plugins.service]\nurl = "http://from-file"\n', {"SERVICE_URL": "http://env"}
    )
    assert config.section("service").url == "http://from-file"
    rows = {key: source for key, _, source in config.describe()}
    assert rows["plugins.service.url"] == str(tmp_path / "podium.toml")


def test_a_bad_value_from_a_plugins_own_variable_names_the_variable(tmp_path: Path) -> None:
    @attrs.define
    class Timed:
        timeout: podium.Duration = 1.0

    (tmp_path / "podium.toml").write_text("")
    config = Config.load(cwd=tmp_path, env={"SERVICE_TIMEOUT": "soon"})
    config.register_section("timed", Timed, env={"timeout": "SERVICE_TIMEOUT"})
    with pytest.raises(
        ConfigError, match=r"got 'soon' @ config.plugins.timed.timeout \(set by SERVICE_TIMEOUT\)"
    ):
        config.validate_sections()


def test_plugin_section_floats_take_numbers_and_durations_take_units(tmp_path: Path) -> None:
    config = service_config(tmp_path, '[plugins.service]\ntimeout = "2m"\nratio = 1\n')
    assert (config.section("service").timeout, config.section("service").ratio) == (120.0, 1.0)
    bad = service_config(tmp_path, '[plugins.service]\nratio = "2m"\n')
    with pytest.raises(ConfigError, match=r"expected a number, got '2m' @ config.plugins.service.ratio"):
        bad.section("service")


def test_a_bad_autoload_variable_is_a_config_error_naming_it() -> None:
    with pytest.raises(
        ConfigError, match=r"expected true or false, got 'maybe' .*PODIUM_DISABLE_PLUGIN_AUTOLOAD"
    ):
        Config.load(env={"PODIUM_DISABLE_PLUGIN_AUTOLOAD": "maybe"}, cwd="/")


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "podium.toml"
    path.write_bytes(b'strategy = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"podium.toml: not UTF-8 text"):
        Config.load(file=path, env={})
