"""``podium cache stats`` and ``podium cache clear`` on the command line's default SQLite cache."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from podium import CachePolicy, Config, Engine, Workflow
from podium.cli.cache import CLI_DEFAULT_CACHE_URL, cache, cli_cache_url


def populate(url: str, namespaces: dict[str, int]) -> None:
    async def main() -> None:
        async with Engine(config=Config({"cache_url": url})) as engine:
            for namespace, count in namespaces.items():
                wf = Workflow(f"wf-{namespace or 'default'}")

                @wf.stage(cache=CachePolicy(namespace=namespace), version="1")
                async def step(n: int) -> int:
                    return n

                for n in range(count):
                    await engine.run(wf, {"n": n})

    asyncio.run(main())


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODIUM_CACHE_URL", raising=False)
    return tmp_path


def test_the_command_line_defaults_to_a_sqlite_file_unless_configured(in_tmp: Path) -> None:
    assert cli_cache_url(Config.load()) == CLI_DEFAULT_CACHE_URL
    (in_tmp / "podium.toml").write_text('cache_url = "redis://127.0.0.1:6379/2"\n')
    assert cli_cache_url(Config.load()) == "redis://127.0.0.1:6379/2"


def test_stats_reports_entries_per_namespace(in_tmp: Path) -> None:
    populate(CLI_DEFAULT_CACHE_URL, {"": 1, "team": 2})
    result = CliRunner().invoke(cache, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["backend"] == "sqlite"
    assert figures["entries"] == 3
    assert figures["namespaces"] == {"": {"stage": 1}, "team": {"stage": 2}}
    assert (in_tmp / ".podium" / "cache.sqlite3").exists()
    text = CliRunner().invoke(cache, ["stats"]).output
    assert "entries:    3" in text
    assert "namespace:  team: stage 2" in text


def test_clear_by_namespace_then_everything(in_tmp: Path) -> None:
    url = f"sqlite:///{in_tmp}/other.sqlite3"
    populate(url, {"": 2, "team": 1})
    runner = CliRunner()
    first = runner.invoke(cache, ["clear", "--namespace", "team", "--cache-url", url])
    assert first.exit_code == 0, first.output
    assert "cleared namespace team: 1 entries" in first.output
    assert json.loads(runner.invoke(cache, ["stats", "--json", "--cache-url", url]).output)["entries"] == 2
    assert "2 entries" in runner.invoke(cache, ["clear", "--cache-url", url]).output


def test_a_bad_namespace_or_url_is_a_message_not_a_traceback(in_tmp: Path) -> None:
    runner = CliRunner()
    bad_namespace = runner.invoke(cache, ["clear", "--namespace", "no spaces"])
    assert bad_namespace.exit_code == 2
    assert "namespace" in bad_namespace.output
    unknown = runner.invoke(cache, ["stats", "--cache-url", "ftp://nowhere"])
    assert unknown.exit_code == 2
    assert "no installed plugin provides the cache backend" in unknown.output


def test_an_unreachable_server_is_an_error_exit(in_tmp: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = CliRunner().invoke(cache, ["stats", "--cache-url", f"redis://:pw@127.0.0.1:{port}/0"])
    assert result.exit_code == 2
    assert f"cannot read the statistics of the redis cache redis://:***@127.0.0.1:{port}/0" in result.output
    assert "Traceback" not in result.output
    assert ":pw@" not in result.output
