"""Cache backends from third-party plugins: through the contract, never by their kind.

The plugin below is installed as its own distribution (an entry point in the ``podium``
group), as a package on PyPI would be, so the command line finds it the way a user's does.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer
from click.testing import CliRunner

import podium
from podium import CacheBackendError, CachePolicy, Config, Engine, Workflow
from podium.cli.main import main
from podium.running.result_cache import ResultCache

PLUGIN = '''
"""Directory caches: one file per entry. ``dir://PATH`` implements podium.CacheAdmin;
``opaque://PATH`` stores the same way but offers Podium nothing beyond aiocache."""

import time
from pathlib import Path
from urllib.parse import quote, unquote

from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer

import podium


class FileCache(BaseCache):
    NAME = "opaque"

    def __init__(self, root):
        super().__init__(serializer=PickleSerializer(), timeout=None)
        self.root = Path(root)

    def _path(self, key):
        return self.root / quote(key, safe="")

    @staticmethod
    def _read(path):
        try:
            deadline, _, value = path.read_bytes().partition(b"\\n")
        except FileNotFoundError:
            return None
        return None if deadline and float(deadline) <= time.time() else value

    async def _get(self, key, encoding="utf-8", _conn=None):
        return self._read(self._path(key))

    async def _set(self, key, value, ttl=None, _cas_token=None, _conn=None):
        self.root.mkdir(parents=True, exist_ok=True)
        deadline = str(time.time() + ttl).encode() if ttl else b""
        self._path(key).write_bytes(deadline + b"\\n" + value)
        return True


class DirectoryCache(FileCache):
    NAME = "directory"

    def _live(self, prefix):
        paths = self.root.iterdir() if self.root.is_dir() else ()
        found = {unquote(p.name): (p, self._read(p)) for p in paths if unquote(p.name).startswith(prefix)}
        return {key: entry for key, entry in found.items() if entry[1] is not None}

    async def stats(self, prefix):
        live = self._live(prefix)
        size = sum(len(value) for _, value in live.values())
        return podium.CacheStats.of_keys(live, bytes=size, server={"root": str(self.root)})

    async def clear_prefix(self, prefix):
        live = self._live(prefix)
        for path, _ in live.values():
            path.unlink()
        return len(live)


@podium.hookimpl
def podium_cache_backend(url):
    scheme, _, rest = url.partition("://")
    kinds = {"dir": DirectoryCache, "opaque": FileCache}
    return kinds[scheme](rest) if scheme in kinds else None
'''


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin installed as the distribution ``podium-dircache``; the working directory is tmp."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "dircache_plugin.py").write_text(PLUGIN)
    info = site / "podium_dircache-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: podium-dircache\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text("[podium]\ndircache = dircache_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODIUM_CACHE_URL", raising=False)
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("dircache_plugin", None)


def populate(url: str) -> None:
    """Three cached stages: one in the default namespace, two in ``team``."""

    async def fill() -> None:
        async with Engine(config=Config({"cache_url": url})) as engine:
            for namespace, count in (("", 1), ("team", 2)):
                wf = Workflow(f"wf-{namespace or 'default'}")

                @wf.stage(cache=CachePolicy(namespace=namespace), version="1")
                async def step(n: int) -> int:
                    return n

                for n in range(count):
                    await engine.run(wf, {"n": n})

    asyncio.run(fill())


def podium_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_a_plugin_backend_implementing_cache_admin_joins_podium_cache_stats(installed: Path) -> None:
    url = f"dir://{installed}/entries"
    populate(url)
    result = podium_cli("cache", "stats", "--json", "--cache-url", url)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["backend"], figures["stats_supported"], figures["entries"]) == ("directory", True, 3)
    assert figures["namespaces"] == {"": {"stage": 1}, "team": {"stage": 2}}
    assert figures["server"] == {"root": f"{installed}/entries"}
    assert figures["bytes"] > 0
    text = podium_cli("cache", "stats", "--cache-url", url).output
    assert "entries:    3" in text
    assert "namespace:  team: stage 2" in text


def test_a_plugin_backend_implementing_cache_admin_is_cleared_by_namespace(installed: Path) -> None:
    url = f"dir://{installed}/entries"
    populate(url)
    (installed / "entries" / "someone-else").write_bytes(b"\nkeep")
    team = podium_cli("cache", "clear", "--namespace", "team", "--cache-url", url)
    assert team.exit_code == 0, team.output
    assert "cleared namespace team: 2 entries" in team.output
    rest = podium_cli("cache", "clear", "--cache-url", url)
    assert "cleared all namespaces: 1 entries" in rest.output
    assert [p.name for p in (installed / "entries").iterdir()] == ["someone-else"]


def test_a_plugin_backend_without_cache_admin_is_listed_as_stats_not_supported(installed: Path) -> None:
    url = f"opaque://{installed}/entries"
    populate(url)
    text = podium_cli("cache", "stats", "--cache-url", url)
    assert text.exit_code == 0, text.output
    assert f"cache:      {url} (opaque, PickleSerializer)" in text.output
    assert "entries:    stats not supported" in text.output
    figures = json.loads(podium_cli("cache", "stats", "--json", "--cache-url", url).output)
    assert (figures["stats_supported"], figures["entries"]) == (False, None)


def test_clearing_a_plugin_backend_without_cache_admin_is_a_message_and_exit_2(installed: Path) -> None:
    url = f"opaque://{installed}/entries"
    populate(url)
    result = podium_cli("cache", "clear", "--cache-url", url)
    assert result.exit_code == 2
    assert f"error: podium cannot clear the opaque cache {url}" in result.output
    assert "does not implement podium.CacheAdmin" in result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert len(list((installed / "entries").iterdir())) == 3


async def test_the_engines_result_cache_administers_a_plugin_backend_through_the_contract(
    installed: Path,
) -> None:
    wf = Workflow("admin")

    @wf.stage(cache=CachePolicy(namespace="team"), version="1")
    async def step(n: int) -> int:
        return n

    async with Engine(config=Config({"cache_url": f"dir://{installed}/a"})) as engine:
        await engine.run(wf, {"n": 1})
        await engine.run(wf, {"n": 1})
        stats = await engine.result_cache.stats()
        assert (stats["entries"], stats["session"]["hits"]) == (1, 1)
        assert await engine.result_cache.clear("team") == 1
    async with Engine(config=Config({"cache_url": f"opaque://{installed}/b"})) as engine:
        await engine.run(wf, {"n": 1})
        assert (await engine.run(wf, {"n": 1}))["step"].cached  # it still caches
        assert not (await engine.result_cache.stats())["stats_supported"]
        with pytest.raises(CacheBackendError, match=r"does not implement podium\.CacheAdmin"):
            await engine.result_cache.clear()


class _Unreachable(Exception):
    """What a made-up client library raises when its server is gone (not an OSError)."""


class FlakyCache(BaseCache):  # type: ignore[misc]
    """Writes fail with ``error``; the backend says which of its errors mean it is down."""

    def __init__(self, error: Exception) -> None:
        super().__init__(serializer=PickleSerializer(), timeout=None)
        self.error = error

    def is_connection_error(self, error: BaseException) -> bool:
        return isinstance(error, _Unreachable)

    async def _get(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return None

    async def _set(
        self, key: str, value: Any, ttl: Any = None, _cas_token: Any = None, _conn: Any = None
    ) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "down"), [(_Unreachable("gone"), True), (ValueError("value too large"), False)]
)
async def test_a_backend_says_which_of_its_errors_mean_it_is_down(
    error: Exception, down: bool, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResultCache(FlakyCache(error), url="flaky://")
    with caplog.at_level(logging.WARNING, logger="podium.cache"):
        assert not await cache.write("podium:_:stage:k", 1, podium.Usage())
    assert cache.available is not down
    assert ("running uncached" in caplog.text) is down
