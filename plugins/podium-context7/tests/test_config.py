"""The [plugins.context7] section: defaults, durations, and precise errors before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import podium
from podium_context7 import Context7Config
from podium_context7.config import DEFAULT_BASE_URL, Settings

from .conftest import docs


def test_defaults_talk_to_context7_with_hours_and_days_of_cache() -> None:
    settings = Settings.resolve(Context7Config())
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.api_key is None
    assert settings.config.docs_ttl == 6 * 3600
    assert settings.config.resolve_ttl == 3 * 86400
    assert settings.config.api == "v2"


async def test_durations_accept_units() -> None:
    config = podium.Config(
        {"plugins": {"context7": {"docs_ttl": "2h", "resolve_ttl": "7d", "timeout": "500ms"}}}
    )
    async with podium.Engine(config=config) as engine:
        section = engine.config.section("context7")
    assert (section.docs_ttl, section.resolve_ttl, section.timeout) == (7200, 7 * 86400, 0.5)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"concurrency": 0}, "concurrency must be > 0, got 0 @ config.plugins.context7"),
        ({"timeout": "soon"}, "config.plugins.context7.timeout"),
        ({"api": "v3"}, "config.plugins.context7.api"),
        ({"aliases": {"fastapi": "fastapi"}}, "aliases.fastapi = 'fastapi' is not a Context7 library id"),
        ({"base_url": "ftp://example.org"}, "base_url must be an http(s) URL"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_settings_fail_when_the_engine_starts(values: dict[str, Any], message: str) -> None:
    engine = podium.Engine(config=podium.Config({"plugins": {"context7": values}}))
    with pytest.raises(podium.ConfigError) as caught:
        await engine.start()
    assert message in str(caught.value)


async def test_a_disabled_plugin_declines_so_the_stage_says_what_to_install() -> None:
    config = podium.Config({"plugins": {"context7": {"enabled": False}}})
    async with podium.Engine(config=config) as engine:
        wf = podium.Workflow("off")

        @wf.stage
        async def ask(ctx: podium.Context) -> podium.DocBundle:
            return await ctx.docs(["fastapi"], query="q")

        result = await engine.run(wf)
    assert "no installed plugin fetches it" in str(result["ask"].error)


async def test_base_url_may_carry_a_path_and_trailing_slash(fake: Any) -> None:
    config = podium.Config(
        {"plugins": {"context7": {"base_url": fake.url + "/", "api_key": "ctx7sk-test-5ecret-a1b2c3d4e5f6"}}}
    )
    async with podium.Engine(config=config) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"])
    assert bundle.ok
    assert fake.requests[0].path == "/v2/context"


async def test_settings_can_come_from_podium_environment_variables() -> None:
    env = {"PODIUM_PLUGINS__CONTEXT7__TIMEOUT": "10s", "PODIUM_PLUGINS__CONTEXT7__CONCURRENCY": "2"}
    async with podium.Engine(config=podium.Config.load(env=env, cwd="/")) as engine:
        section = engine.config.section("context7")
    assert (section.timeout, section.concurrency) == (10.0, 2)


def podium_config(cwd: Any, **env: str) -> dict[str, tuple[Any, str]]:
    """``podium config --json`` in a real process: key -> (value, source)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CONTEXT7_", "PODIUM_"))}
    done = subprocess.run(
        [sys.executable, "-m", "podium", "config", "--json"],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "ctx7sk" not in done.stdout
    return {row["key"]: (row["value"], row["source"]) for row in json.loads(done.stdout)}


def test_podium_config_shows_the_key_and_url_the_environment_gives_with_their_source(tmp_path: Any) -> None:
    rows = podium_config(
        tmp_path, CONTEXT7_API_KEY="ctx7sk-from-the-environment", CONTEXT7_API_URL="http://127.0.0.1:9/api"
    )
    assert rows["plugins.context7.api_key"] == ("********", "environment (CONTEXT7_API_KEY)")
    assert rows["plugins.context7.base_url"] == ("http://127.0.0.1:9/api", "environment (CONTEXT7_API_URL)")


def test_podium_config_shows_the_default_url_when_nothing_sets_it(tmp_path: Any) -> None:
    assert podium_config(tmp_path)["plugins.context7.base_url"] == (DEFAULT_BASE_URL, "default")
