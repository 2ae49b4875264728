"""The breaker's state machine over any sequence of events, and pools that never exceed their size."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

import podium
from podium.running.agents.breaker import BreakerState, CircuitBreaker
from podium.running.agents.pool import Pool

events = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.floats(0, 40)),
        st.tuples(st.sampled_from(["success", "failure", "cancel"]), st.just(0.0)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(failures=st.integers(1, 6), reset_s=st.floats(1, 30), script=events)
def test_the_breaker_state_machine_follows_its_rules_over_any_event_sequence(
    failures: int, reset_s: float, script: list[tuple[str, float]]
) -> None:
    breaker = CircuitBreaker(podium.BreakerPolicy(failures=failures, reset_s=reset_s))  # type: ignore[arg-type]
    now = 0.0
    streak = 0  # consecutive failures while closed, as the rules count them
    for event, seconds in script:
        if event == "wait":
            now += seconds
            continue
        state = breaker.state
        admitted, _ = breaker.admit(now)
        if state is BreakerState.CLOSED:
            assert admitted
        elif state is BreakerState.OPEN:
            assert admitted == (now >= breaker.opened_at + reset_s)  # type: ignore[operator]
        if not admitted:
            assert breaker.state is not BreakerState.CLOSED
            continue
        probing = breaker.state is BreakerState.HALF_OPEN
        if probing:  # only one probe at a time
            assert breaker.admit(now) == (False, None)
        if event == "success":
            breaker.succeeded(now)
            streak = 0
            assert breaker.state is BreakerState.CLOSED
        elif event == "failure":
            breaker.failed(now, "boom")
            streak += 1
            if probing or streak >= failures:
                assert breaker.state is BreakerState.OPEN and breaker.opened_at == now
                streak = 0 if probing else streak
            else:
                assert breaker.state is BreakerState.CLOSED
            if breaker.state is BreakerState.OPEN:
                streak = 0
        else:
            breaker.released()
        assert breaker.next_probe_in(now) <= reset_s + 1e-9


def test_a_failure_rate_over_the_window_opens_the_breaker() -> None:
    policy = podium.BreakerPolicy(failures=100, failure_rate=0.5, window_s=60, min_calls=4)  # type: ignore[arg-type]
    breaker = CircuitBreaker(policy)
    for n, failed in enumerate([False, True, False, True]):
        if failed:
            breaker.failed(float(n), "boom")
        else:
            breaker.succeeded(float(n))
    assert breaker.state is BreakerState.OPEN


@settings(max_examples=50, deadline=None)
@given(size=st.integers(1, 6), calls=st.integers(1, 40), cancel_every=st.integers(2, 9))
def test_a_pool_never_holds_more_than_its_size_even_when_waiters_are_cancelled(
    size: int, calls: int, cancel_every: int
) -> None:
    async def scenario() -> None:
        pool = Pool(size)
        inside = 0
        peak = 0

        async def use() -> None:
            nonlocal inside, peak
            async with pool:
                inside += 1
                peak = max(peak, inside)
                try:
                    await asyncio.sleep(0)
                finally:
                    inside -= 1

        tasks = [asyncio.create_task(use()) for _ in range(calls)]
        await asyncio.sleep(0)
        for task in tasks[::cancel_every]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert peak <= size and pool.in_use == 0 and pool.waiting == 0

    asyncio.run(scenario())
