"""The memory backend: a dict with deadlines, aiocache's API, the in-process path, admin methods."""

from __future__ import annotations

import asyncio

import pytest

import podium
from podium.backends.memory import MemoryCache
from podium.backends.urls import open_backend
from podium.contract.cache_backend import InProcessBackend


async def test_memory_urls_open_podiums_own_backend_which_implements_both_protocols() -> None:
    backend = open_backend("memory://")
    assert isinstance(backend, MemoryCache)
    assert isinstance(backend, podium.CacheAdmin)
    assert isinstance(backend, InProcessBackend)


async def test_values_are_the_objects_themselves_on_both_paths() -> None:
    backend, value = MemoryCache(), {"a": [1, 2]}
    backend.set_nowait("k", value)
    assert backend.get_nowait("k") is value
    assert await backend.get("k") is value
    await backend.set("j", value)
    assert backend.get_nowait("j") is value
    assert backend.get_nowait("missing") is None


async def test_entries_expire_after_their_ttl_and_others_stay() -> None:
    backend = MemoryCache()
    backend.set_nowait("short", 1, ttl=0.05)
    await backend.set("also-short", 2, ttl=0.05)
    backend.set_nowait("long", 3, ttl=60)
    backend.set_nowait("forever", 4)
    await asyncio.sleep(0.1)
    assert backend.get_nowait("short") is None
    assert await backend.get("also-short") is None
    assert not await backend.exists("also-short")
    assert backend.get_nowait("long") == 3
    assert backend.get_nowait("forever") == 4


async def test_expired_entries_nobody_reads_are_dropped_as_writes_go_on() -> None:
    backend = MemoryCache()
    for n in range(100):
        backend.set_nowait(f"k{n}", n, ttl=0.01)
    await asyncio.sleep(0.02)
    backend.set_nowait("fresh", 1)
    assert len(backend._entries) == 1  # the dict itself: memory does not grow with dead entries


async def test_rewriting_an_entry_replaces_its_deadline() -> None:
    backend = MemoryCache()
    backend.set_nowait("k", "old", ttl=0.05)
    backend.set_nowait("k", "new")  # no ttl now: the old deadline must not delete it
    await asyncio.sleep(0.1)
    backend.set_nowait("other", 0)  # a write, which drops what has expired
    assert backend.get_nowait("k") == "new"


async def test_the_rest_of_the_aiocache_api() -> None:
    backend = MemoryCache()
    await backend.multi_set([("a", 1), ("b", 2)])
    assert await backend.multi_get(["a", "b", "c"]) == [1, 2, None]
    await backend.add("new", 3)
    with pytest.raises(ValueError, match="already exists"):
        await backend.add("new", 4)
    assert await backend.increment("counter", 2) == 2
    assert await backend.increment("counter", 3) == 5
    await backend.set("text", "x")
    with pytest.raises(TypeError, match="not an integer"):
        await backend.increment("text", 1)
    assert await backend.expire("a", 0.05)
    assert not await backend.expire("nothing", 1)
    await asyncio.sleep(0.1)
    assert await backend.get("a") is None
    assert await backend.delete("b") == 1
    assert await backend.delete("b") == 0
    await backend.set("ns-x", 1)
    await backend.clear(namespace="ns-")
    assert await backend.get("ns-x") is None
    assert await backend.get("new") == 3
    await backend.clear()
    assert await backend.get("new") is None


async def test_an_increment_keeps_the_entrys_ttl() -> None:
    backend = MemoryCache()
    await backend.set("n", 1, ttl=0.05)
    assert await backend.increment("n", 1) == 2
    await asyncio.sleep(0.1)
    assert await backend.get("n") is None


async def test_stats_and_clear_count_only_live_entries_under_the_prefix() -> None:
    backend = MemoryCache()
    backend.set_nowait("podium:_:stage:a", 1)
    backend.set_nowait("podium:team:agent:b", 2)
    backend.set_nowait("podium:team:stage:gone", 3, ttl=0.01)
    backend.set_nowait("other-app:x", 4)
    await asyncio.sleep(0.02)
    stats = await backend.stats("podium:")
    assert stats == podium.CacheStats(entries=2, namespaces={"": {"stage": 1}, "team": {"agent": 1}})
    assert await backend.clear_prefix("podium:team:") == 1
    assert await backend.clear_prefix("podium:") == 1
    assert backend.snapshot() == {"other-app:x": 4}


async def test_an_aiocache_namespace_applies_to_every_path() -> None:
    backend = MemoryCache(namespace="tenant1:")
    backend.set_nowait("podium:_:stage:a", 1)
    assert await backend.get("podium:_:stage:a") == 1
    assert backend.snapshot() == {"tenant1:podium:_:stage:a": 1}
    assert (await backend.stats("podium:")).namespaces == {"": {"stage": 1}}
    assert await backend.clear_prefix("podium:") == 1
