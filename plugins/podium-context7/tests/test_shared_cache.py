"""Two engines sharing one real Redis: the second is served from the first one's fetches;
``podium cache`` sees and clears the plugin's entries by their namespace."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

import podium
from podium_context7.testing import FakeContext7

from .conftest import docs, make_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def redis_port() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required under CI")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_engines_sharing_a_redis_cache_share_documents_and_resolutions(
    fake: FakeContext7, redis_port: int
) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    config = make_config(fake)
    async with podium.Engine(config=config, cache_url=url) as first:
        fetched = await docs(first, ["fastapi", "pytest"], tokens=2000)
    async with podium.Engine(config=config, cache_url=url) as second:
        cached = await docs(second, ["fastapi", "pytest"], tokens=2000)
        stats = await second.result_cache.stats()
        cleared = await second.result_cache.clear("context7")

    assert fetched.requests_made == 4
    assert (cached.requests_made, cached.requests_cached) == (0, 4)
    assert [d.source for d in cached.documents] == ["cache", "cache"]
    assert [d.text for d in cached.documents] == [d.text for d in fetched.documents]
    assert fake.count() == 4
    assert stats["namespaces"] == {"context7": {"docs": 2, "resolve": 2}}
    assert cleared == 4
