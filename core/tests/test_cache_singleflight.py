"""Single-flight and the result cache API that stage and agent-call caching share."""

from __future__ import annotations

import asyncio

import pytest
from aiocache import SimpleMemoryCache
from hypothesis import given, settings
from hypothesis import strategies as st

from podium import ResultCache, SingleFlight, Usage, agent_key
from podium.foundation.errors import FlightAbandoned

SPENT = Usage(input_tokens=100, output_tokens=20, requests=1, cost_usd=0.01)


async def test_a_thousand_identical_calls_execute_once() -> None:
    flights: SingleFlight[int] = SingleFlight()
    executions = 0

    async def work() -> int:
        nonlocal executions
        executions += 1
        await asyncio.sleep(0.01)
        return 42

    results = await asyncio.gather(*(flights.do("k", work) for _ in range(1000)))
    assert executions == 1
    assert {value for value, _ in results} == {42}
    assert sum(led for _, led in results) == 1
    assert len(flights) == 0


async def test_different_keys_do_not_wait_for_each_other() -> None:
    flights: SingleFlight[str] = SingleFlight()
    started: list[str] = []

    async def work(key: str) -> str:
        started.append(key)
        await asyncio.sleep(0.01)
        return key

    results = await asyncio.gather(*(flights.do(k, lambda k=k: work(k)) for k in "abc"))
    assert sorted(started) == ["a", "b", "c"]
    assert [v for v, _ in results] == ["a", "b", "c"]


async def test_a_failure_reaches_every_waiter_then_the_key_is_free_again() -> None:
    flights: SingleFlight[int] = SingleFlight()

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("broken")

    outcomes = await asyncio.gather(*(flights.do("k", boom) for _ in range(10)), return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes)

    async def fine() -> int:
        return 1

    assert await flights.do("k", fine) == (1, True)


async def test_cancelling_the_leader_leaves_the_work_to_the_others() -> None:
    flights: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    leader = asyncio.create_task(flights.do("k", work))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.do("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await follower == ("done", False)
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_when_every_caller_is_cancelled_the_work_is_cancelled_and_awaited() -> None:
    flights: SingleFlight[str] = SingleFlight()
    cleaned = False

    async def work() -> str:
        nonlocal cleaned
        try:
            await asyncio.sleep(10)
        finally:
            cleaned = True
        return "never"

    callers = [asyncio.create_task(flights.do("k", work)) for _ in range(3)]
    await asyncio.sleep(0.01)
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    assert cleaned
    assert len(flights) == 0


async def test_an_abandoned_flight_tells_waiters_to_start_over() -> None:
    flights: SingleFlight[int] = SingleFlight()
    flight, leader = flights.open("k")
    joined, second = flights.open("k")
    assert leader
    assert not second
    assert joined is flight
    flights.abandon(flight)
    with pytest.raises(FlightAbandoned):
        await flights.wait(joined)
    assert "k" not in flights


async def test_result_cache_reports_executed_cached_and_coalesced() -> None:
    cache = ResultCache(SimpleMemoryCache())
    calls = 0

    async def call_model() -> tuple[str, Usage]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "answer", SPENT

    key = agent_key("simulated", "m", "prompt")
    first, second = await asyncio.gather(cache.get_or_run(key, call_model), cache.get_or_run(key, call_model))
    third = await cache.get_or_run(key, call_model)
    assert (first.source, second.source, third.source) == ("executed", "coalesced", "cached")
    assert first.usage == SPENT
    assert not first.saved
    assert second.saved == third.saved == SPENT
    assert not third.usage
    assert calls == 1
    assert cache.counters.as_dict()["saved_tokens"] == 240


async def test_result_cache_does_not_store_failures() -> None:
    cache = ResultCache(SimpleMemoryCache())

    async def failing() -> tuple[str, Usage]:
        raise RuntimeError("provider 529")

    with pytest.raises(RuntimeError):
        await cache.get_or_run("podium:_:agent:x", failing)
    assert await cache.read("podium:_:agent:x") is None


async def test_a_value_stored_in_another_layout_is_a_miss() -> None:
    backend = SimpleMemoryCache()
    await backend.set("podium:_:stage:old", ("value", "no usage"))
    cache = ResultCache(backend)
    assert await cache.read("podium:_:stage:old") is None


async def test_no_backend_still_coalesces_in_flight_calls() -> None:
    cache = ResultCache(None)
    calls = 0

    async def work() -> tuple[int, Usage]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 1, SPENT

    outcomes = await asyncio.gather(*(cache.get_or_run("k", work) for _ in range(5)))
    assert calls == 1
    assert [o.source for o in outcomes].count("coalesced") == 4


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.booleans()),
        min_size=1,
        max_size=25,
    )
)
def test_random_callers_with_cancellations_never_overlap_executions_of_a_key(
    plan: list[tuple[str, int, bool]],
) -> None:
    """Callers (key, start tick, cancelled?) arrive over a few ticks; some are cancelled."""

    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        running: dict[str, int] = {}
        overlaps = 0

        async def work(key: str) -> str:
            nonlocal overlaps
            running[key] = running.get(key, 0) + 1
            overlaps += running[key] > 1
            try:
                await asyncio.sleep(0.002)
                return key.upper()
            finally:
                running[key] -= 1

        async def caller(key: str, delay: int) -> tuple[str, bool]:
            await asyncio.sleep(delay * 0.001)
            return await flights.do(key, lambda: work(key))

        tasks = [asyncio.create_task(caller(key, delay)) for key, delay, _ in plan]
        await asyncio.sleep(0.0015)
        for task, (_, _, cancel) in zip(tasks, plan, strict=True):
            if cancel:
                task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert overlaps == 0
        for outcome, (key, _, cancel) in zip(outcomes, plan, strict=True):
            if not cancel:
                assert outcome[0] == key.upper()  # type: ignore[index]
        assert len(flights) == 0
        assert all(n == 0 for n in running.values())

    asyncio.run(scenario())
