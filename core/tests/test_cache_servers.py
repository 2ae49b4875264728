"""Redis and memcached backends against real servers, and backends that are down or slow.

Tests needing a server skip locally when it is unreachable (the reason is shown) and
fail when ``CI`` is set, where ``.ci/run`` starts redis-server and memcached on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from redis import exceptions as redis_errors

from podium import (
    CacheAdmin,
    CacheBackendError,
    CachePolicy,
    Config,
    Engine,
    SimulatedAgent,
    StageStatus,
    Workflow,
)
from podium.backends.memcached import whole_seconds
from podium.backends.urls import open_backend
from podium.cli.main import main
from podium.foundation.redaction import redact_url

REDIS = ("127.0.0.1", 6379)
MEMCACHED = ("127.0.0.1", 11211)
REDIS_URL = "redis://127.0.0.1:6379/15"
MEMCACHED_URL = "memcached://127.0.0.1:11211"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure)")
    pytest.skip(reason)


def require_server(name: str, address: tuple[str, int]) -> None:
    try:
        socket.create_connection(address, timeout=0.5).close()
    except OSError as error:
        unavailable(
            f"{name} is not reachable on {address[0]}:{address[1]} ({error.strerror}); start it to run this"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url() -> str:
    require_server("redis-server", REDIS)
    return REDIS_URL


@pytest.fixture
def memcached_url() -> str:
    require_server("memcached", MEMCACHED)
    return MEMCACHED_URL


def workflow(agent_name: str = "a", namespace: str = "") -> Workflow:
    wf = Workflow(f"servers-{uuid.uuid4().hex[:8]}")

    @wf.stage(cache=CachePolicy(namespace=namespace, ttl=30.5))
    async def answer(ctx, question: str) -> str:  # type: ignore[no-untyped-def]
        return (await ctx.agent(agent_name).complete(question)).text

    return wf


def engine_for(url: str, agent: SimulatedAgent, **settings: Any) -> Engine:
    return Engine(config=Config({"cache_url": url, **settings}), agents={"a": agent})


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("redis", marks=pytest.mark.needs_server("redis")),
        pytest.param("memcached", marks=pytest.mark.needs_server("memcached")),
    ],
)
async def test_a_server_backend_serves_hits_with_savings(server: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{server}_url")
    agent = SimulatedAgent("answer", input_tokens=300, output_tokens=100)
    wf = workflow()
    async with engine_for(url, agent) as engine:
        first = await engine.run(wf, {"question": "why?"})
        await engine.result_cache.flights.drain()
    async with engine_for(url, agent) as engine:  # a new engine: nothing in process memory
        second = await engine.run(wf, {"question": "why?"})
    assert first["answer"].status is StageStatus.SUCCEEDED
    assert second["answer"].status is StageStatus.CACHED
    assert second["answer"].value == "answer"
    assert second.saved.total_tokens == 400
    assert second.saved.cost_usd == pytest.approx(first.cost_usd)
    assert agent.calls == 1


@pytest.mark.needs_server("redis")
async def test_redis_stats_and_clear_touch_only_podium_keys(redis_url: str) -> None:
    async with engine_for(redis_url, SimulatedAgent("x")) as engine:
        await engine.result_cache.clear()
        backend: Any = engine.result_cache.backend
        await backend.client.set("other-app:key", b"keep")
        for question in ("a", "b"):
            await engine.run(workflow(namespace="ns1"), {"question": question})
        await engine.run(workflow(), {"question": "a"})
        await engine.result_cache.flights.drain()
        stats = await engine.result_cache.stats()
        assert stats["backend"] == "redis"
        assert stats["entries"] == 3
        assert stats["namespaces"] == {"": {"stage": 1}, "ns1": {"stage": 2}}
        assert stats["server"]["used_memory"] > 0
        assert await engine.result_cache.clear("ns1") == 2
        assert await engine.result_cache.clear() == 1
        assert await backend.client.get("other-app:key") == b"keep"
        await backend.client.delete("other-app:key")


@pytest.mark.needs_server("memcached")
async def test_memcached_clears_everything_but_not_by_namespace(memcached_url: str) -> None:
    async with engine_for(memcached_url, SimulatedAgent("x")) as engine:
        wf = workflow()
        await engine.run(wf, {"question": "q"})
        await engine.result_cache.flights.drain()
        stats = await engine.result_cache.stats()
        assert stats["backend"] == "memcached"
        assert stats["entries"] is None
        assert stats["server"]["curr_items"] >= 1
        assert engine.result_cache.clear_flushes_all
        with pytest.raises(CacheBackendError, match="cannot clear one namespace"):
            await engine.result_cache.clear("ns1")
        assert await engine.result_cache.clear() is None
        assert not (await engine.run(wf, {"question": "q"}))["answer"].cached


@pytest.mark.parametrize(
    "scheme", ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.needs_server("redis"))]
)
async def test_each_listing_backend_counts_and_clears_only_podiums_keys(
    scheme: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    urls = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/c.sqlite3"}
    backend: Any = open_backend(urls.get(scheme) or request.getfixturevalue("redis_url"))
    assert isinstance(backend, CacheAdmin)
    try:
        await backend.clear_prefix("podium:")
        for key in ("podium:_:stage:a", "podium:team:agent:b", "podium:team:stage:c", "other-app:x"):
            await backend.set(key, b"v")
        stats = await backend.stats("podium:")
        assert stats.entries == 3
        assert stats.namespaces == {"": {"stage": 1}, "team": {"agent": 1, "stage": 1}}
        assert await backend.clear_prefix("podium:team:") == 2
        assert await backend.clear_prefix("podium:") == 1
        assert await backend.get("other-app:x") == b"v"
    finally:
        await backend.delete("other-app:x")
        await backend.close()


@pytest.mark.needs_server("redis")
async def test_closing_redis_raises_no_deprecation_warning(redis_url: str) -> None:
    backend: Any = open_backend(redis_url)
    await backend.get("podium:_:stage:nothing")  # opens a connection
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        await backend.close()


def test_redis_tells_a_server_that_is_down_from_a_bad_command() -> None:
    backend: Any = open_backend("redis://127.0.0.1:1/0")
    assert backend.is_connection_error(redis_errors.ConnectionError("Connection refused"))
    assert backend.is_connection_error(redis_errors.TimeoutError())
    assert backend.is_connection_error(ConnectionRefusedError())
    assert not backend.is_connection_error(redis_errors.ResponseError("WRONGTYPE"))
    assert not backend.is_connection_error(ValueError("bad value"))


def test_memcached_ttls_round_up_to_whole_seconds_never_to_forever() -> None:
    assert [whole_seconds(t) for t in (None, 0, 0.2, 1, 1.0, 30.5)] == [0, 0, 1, 1, 1, 31]


@pytest.mark.needs_server("memcached")
async def test_memcached_takes_fractional_ttls(memcached_url: str) -> None:
    backend: Any = open_backend(memcached_url)
    try:
        await backend.set("podium:_:stage:fraction", b"x", ttl=0.5)
        await backend.expire("podium:_:stage:fraction", 20.25)
        assert await backend.get("podium:_:stage:fraction") == b"x"
    finally:
        await backend.delete("podium:_:stage:fraction")
        await backend.close()


@pytest.mark.needs_server("memcached")
def test_clearing_memcached_from_the_command_line_asks_before_flushing_the_server(
    memcached_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    async def other_apps_key(value: bytes | None = None) -> Any:
        backend: Any = open_backend(memcached_url)
        try:
            if value is not None:
                await backend.set("other-app:key", value)
            return await backend.get("other-app:key")
        finally:
            await backend.close()

    asyncio.run(other_apps_key(b"v"))
    refused = CliRunner().invoke(main, ["cache", "clear", "--cache-url", memcached_url], input="n\n")
    assert refused.exit_code == 1
    assert "flushes the whole memcached server, other applications' keys too. Flush?" in refused.output
    assert asyncio.run(other_apps_key()) == b"v"
    flushed = CliRunner().invoke(main, ["cache", "clear", "--yes", "--cache-url", memcached_url])
    assert flushed.exit_code == 0, flushed.output
    assert "cleared all namespaces: all entries" in flushed.output
    assert asyncio.run(other_apps_key()) is None


@pytest.mark.parametrize("scheme", ["redis", "memcached"])
async def test_an_unreachable_server_is_one_warning_and_uncached_runs(
    scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = (
        f"{scheme}://:hunter2@127.0.0.1:{free_port()}"
        if scheme == "redis"
        else f"memcached://127.0.0.1:{free_port()}"
    )
    agent = SimulatedAgent("x")
    with caplog.at_level(logging.WARNING, logger="podium.cache"):
        async with engine_for(url, agent) as engine:
            results = [await engine.run(workflow(), {"question": "q"}) for _ in range(3)]
    assert all(r.ok and r["answer"].status is StageStatus.SUCCEEDED for r in results)
    assert agent.calls == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "running uncached" in warnings[0]
    assert "hunter2" not in caplog.text


@pytest.fixture
async def black_hole() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers: a hung backend."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


@pytest.mark.parametrize("scheme", ["redis", "memcached"])
async def test_a_hung_server_times_out_into_an_uncached_run(
    scheme: str, black_hole: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="podium.cache"):
        async with engine_for(
            f"{scheme}://127.0.0.1:{black_hole}", SimulatedAgent("x"), cache_timeout=0.2
        ) as engine:
            started = time.perf_counter()
            result = await engine.run(workflow(), {"question": "q"})
            elapsed = time.perf_counter() - started
            again = await engine.run(workflow(), {"question": "q"})
    assert result["answer"].status is StageStatus.SUCCEEDED
    assert again.ok
    assert elapsed < 2.0
    assert "running uncached" in caplog.text


async def test_a_memcached_command_cut_short_never_leaves_its_reply_for_the_next(black_hole: int) -> None:
    async with engine_for(
        f"memcached://127.0.0.1:{black_hole}", SimulatedAgent("x"), cache_timeout=0.1
    ) as engine:
        backend: Any = engine.result_cache.backend
        before = backend.client
        assert await engine.result_cache.read("podium:_:stage:k") is None
        assert backend.client is not before


async def test_a_waiter_takes_over_when_the_leader_is_cancelled_during_a_slow_lookup(black_hole: int) -> None:
    agent = SimulatedAgent("x")
    wf = workflow()
    async with engine_for(f"redis://127.0.0.1:{black_hole}", agent, cache_timeout=1.0) as engine:
        leader = asyncio.create_task(engine.run(wf, {"question": "q"}))
        await asyncio.sleep(0.05)
        follower = asyncio.create_task(engine.run(wf, {"question": "q"}))
        await asyncio.sleep(0.05)
        leader.cancel()
        result = await follower
    assert result["answer"].status is StageStatus.SUCCEEDED
    assert agent.calls == 1


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, Any]]:
    """A private redis-server that the test may stop and start again on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    assert binary is not None
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
        processes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        processes[-1].terminate()
        processes[-1].wait(5)

    start()
    yield port, (start, stop)
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(5)


async def test_a_redis_that_stops_and_comes_back(
    own_redis: tuple[int, Any], caplog: pytest.LogCaptureFixture
) -> None:
    port, (start, stop) = own_redis
    agent = SimulatedAgent("x", input_tokens=5, output_tokens=5)
    wf = workflow()
    with caplog.at_level(logging.WARNING, logger="podium.cache"):
        async with engine_for(f"redis://127.0.0.1:{port}/0", agent) as engine:
            engine.result_cache.retry_after = 0.2
            await engine.run(wf, {"question": "q"})
            await engine.result_cache.flights.drain()
            assert (await engine.run(wf, {"question": "q"}))["answer"].cached
            stop()
            down = await engine.run(wf, {"question": "q"})
            assert down.ok
            assert down["answer"].status is StageStatus.SUCCEEDED
            assert not engine.result_cache.available
            start()
            await asyncio.sleep(0.3)
            await engine.run(wf, {"question": "q"})  # a miss: the restarted server is empty
            await engine.result_cache.flights.drain()
            back = await engine.run(wf, {"question": "q"})
    assert back["answer"].cached
    assert agent.calls == 3
    assert "running uncached" in caplog.text


def test_passwords_are_masked_in_urls() -> None:
    assert redact_url("redis://user:s3cret@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("redis://:s3cret@host/1") == "redis://:***@host/1"
    assert redact_url("memcached://host:11211") == "memcached://host:11211"
