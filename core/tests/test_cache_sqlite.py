"""The SQLite backend: a real aiocache backend, shared by processes, the command line's default."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium import CachePolicy, Config, Engine, SimulatedAgent, StageStatus, Workflow
from podium.backends.sqlite import DEFAULT_PATH, SQLiteCache
from podium.backends.urls import open_backend, sqlite_path


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SQLiteCache]:
    cache = SQLiteCache(tmp_path / "nested" / "cache.sqlite3")
    yield cache
    await cache.close()


async def test_values_round_trip_through_pickle(backend: SQLiteCache) -> None:
    await backend.set("k", {"a": [1, 2], "b": b"\x00\xff"})
    assert await backend.get("k") == {"a": [1, 2], "b": b"\x00\xff"}
    assert await backend.get("missing", default="d") == "d"
    assert backend.path.exists()


async def test_ttl_expires_values(backend: SQLiteCache) -> None:
    await backend.set("short", 1, ttl=0.05)
    await backend.set("long", 2, ttl=60)
    await asyncio.sleep(0.1)
    assert await backend.get("short") is None
    assert await backend.get("long") == 2
    assert await backend.exists("long")
    assert not await backend.exists("short")


async def test_the_rest_of_the_aiocache_api(backend: SQLiteCache) -> None:
    await backend.multi_set([("a", 1), ("b", 2)])
    assert await backend.multi_get(["a", "b", "c"]) == [1, 2, None]
    await backend.add("new", 3)
    with pytest.raises(ValueError, match="already exists"):
        await backend.add("new", 4)
    assert await backend.increment("counter", 2) == 2
    assert await backend.increment("counter", 3) == 5
    assert await backend.expire("a", 0.05)
    await asyncio.sleep(0.1)
    assert await backend.get("a") is None
    assert await backend.delete("b") == 1
    assert await backend.raw("execute", "SELECT key FROM podium_cache WHERE key = ?", ("new",)) == [("new",)]
    await backend.clear()
    assert await backend.get("new") is None


def test_sqlite_urls_follow_the_usual_slash_convention() -> None:
    assert sqlite_path("sqlite:///rel/c.db") == Path("rel/c.db")
    assert sqlite_path("sqlite:////abs/c.db") == Path("/abs/c.db")
    assert sqlite_path("sqlite://") == DEFAULT_PATH
    assert isinstance(open_backend("sqlite:///x.db"), SQLiteCache)


SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from podium import CachePolicy, Config, Engine, SimulatedAgent, Workflow

    wf = Workflow("cli-like")

    @wf.stage(cache=CachePolicy())
    async def summarize(ctx, text: str) -> str:
        return (await ctx.agent("a").complete("summarize " + text)).text

    async def main() -> None:
        agent = SimulatedAgent("summary", input_tokens=50, output_tokens=10)
        async with Engine(config=Config({"cache_url": sys.argv[1]}), agents={"a": agent}) as engine:
            result = await engine.run(wf, {"text": sys.argv[2]})
        print(result["summarize"].status, result.saved.total_tokens, agent.calls)

    asyncio.run(main())
    """
)


def script(tmp_path: Path) -> str:
    # A file, not ``python -c``: a cached stage needs readable source for its version.
    path = tmp_path / "flow.py"
    path.write_text(SCRIPT)
    return str(path)


def run_process(path: str, url: str, text: str) -> str:
    done = subprocess.run([sys.executable, path, url, text], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_two_processes_share_results(tmp_path: Path) -> None:
    url, path = f"sqlite:///{tmp_path}/shared.sqlite3", script(tmp_path)
    assert run_process(path, url, "hello") == "succeeded 0 1"
    assert run_process(path, url, "hello") == "cached 60 0"
    assert run_process(path, url, "other") == "succeeded 0 1"


def test_concurrent_processes_write_without_errors(tmp_path: Path) -> None:
    url, path = f"sqlite:///{tmp_path}/busy.sqlite3", script(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, path, url, f"text {n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert all("cache" not in err for _, err in outputs)
    assert len({out.strip() for out, _ in outputs}) == 1


async def test_stats_and_clear_count_only_live_podium_entries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/stats.sqlite3"
    wf = Workflow("stats")

    @wf.stage(cache=CachePolicy(namespace="docs"))
    async def fetch(page: int) -> str:
        return "x" * 100

    async with Engine(config=Config({"cache_url": url})) as engine:
        for page in range(3):
            await engine.run(wf, {"page": page})
        await engine.result_cache.flights.drain()
        assert engine.result_cache.backend is not None
        await engine.result_cache.backend.set("someone-else", "untouched")
        stats = await engine.result_cache.stats()
        assert stats["backend"] == "sqlite"
        assert stats["serializer"] == "PickleSerializer"
        assert stats["entries"] == 3
        assert stats["bytes"] > 300
        assert stats["server"]["path"] == f"{tmp_path}/stats.sqlite3"
        assert stats["server"]["file_bytes"] > stats["bytes"]
        assert stats["namespaces"] == {"docs": {"stage": 3}}
        assert stats["session"]["writes"] == 3
        assert await engine.result_cache.clear("other") == 0
        assert await engine.result_cache.clear() == 3
        assert await engine.result_cache.backend.get("someone-else") == "untouched"


async def test_an_unusable_file_is_a_warning_and_an_uncached_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    wf = Workflow("unusable")

    @wf.stage(cache=CachePolicy())
    async def work(n: int) -> int:
        return n * 2

    with caplog.at_level(logging.WARNING, logger="podium.cache"):
        async with Engine(config=Config({"cache_url": f"sqlite:///{blocker}/cache.sqlite3"})) as engine:
            first = await engine.run(wf, {"n": 2})
            second = await engine.run(wf, {"n": 2})
    assert first.ok
    assert second.ok
    assert second["work"].status is StageStatus.SUCCEEDED
    assert second["work"].value == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "running uncached" in warnings[0].getMessage()


async def test_a_simulated_agent_workflow_hits_on_repeat(tmp_path: Path) -> None:
    agent = SimulatedAgent("r", input_tokens=10, output_tokens=10)
    wf = Workflow("repeat")

    @wf.stage(cache=CachePolicy())
    async def ask(ctx, q: str) -> str:  # type: ignore[no-untyped-def]
        return (await ctx.agent("a").complete(q)).text

    async with Engine(
        config=Config({"cache_url": f"sqlite:///{tmp_path}/r.sqlite3"}), agents={"a": agent}
    ) as engine:
        await engine.run(wf, {"q": "same"})
        await engine.result_cache.flights.drain()
        again = await engine.run(wf, {"q": "same"})
    assert again["ask"].cached
    assert again.saved.total_tokens == 20
