"""The provider's reported rate-limit state: once it has spoken, requests wait instead of drawing 429s."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

import podium
from podium.running.agents.reported import ReportedQuota
from podium.running.agents.windows import SlidingWindow


def report(remaining: int, reset_s: float, limit: int = 3) -> podium.RateLimits:
    return podium.RateLimits(requests=podium.Quota(limit=limit, remaining=remaining, reset_s=reset_s))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_before_any_report_every_request_goes() -> None:
    quota = ReportedQuota("p/m", Clock())
    for _ in range(100):
        await quota.admit(1, 0)
    assert quota.wait(1, 0) == 0


async def test_requests_in_flight_count_against_what_the_provider_said_remains() -> None:
    clock = Clock()
    quota = ReportedQuota("p/m", clock)
    quota.ended(await quota.admit(1, 0), report(remaining=2, reset_s=10))
    await quota.admit(1, 0)
    await quota.admit(1, 0)
    assert quota.wait(1, 0) == 10  # two in flight use the two left: the next waits for the reset
    clock.now = 10
    assert quota.wait(1, 0) == 0  # replenished: three, less the two in flight


async def test_a_report_that_overtook_an_earlier_request_never_adds_room() -> None:
    # Sent a then b; the provider counted b first (2 left... then 1 after a). a's answer
    # arrives first saying 1 is left, then b's saying 2: b's report is older news.
    quota = ReportedQuota("p/m", Clock())
    quota.ended(await quota.admit(1, 0), report(remaining=3, reset_s=10, limit=5))
    a, b = await quota.admit(1, 0), await quota.admit(1, 0)
    quota.ended(a, report(remaining=1, reset_s=10, limit=5))
    quota.ended(b, report(remaining=2, reset_s=10, limit=5))
    await quota.admit(1, 0)
    assert quota.wait(1, 0) == 10


async def test_a_request_sent_after_a_report_arrived_reports_what_was_replenished() -> None:
    quota = ReportedQuota("p/m", Clock())
    quota.ended(await quota.admit(1, 0), report(remaining=1, reset_s=10))
    quota.ended(await quota.admit(1, 0), report(remaining=3, reset_s=10, limit=5))
    assert quota.describe()["requests"]["remaining"] == 3


async def test_a_waiting_request_goes_as_soon_as_the_reset_passes() -> None:
    quota = ReportedQuota("p/m")
    quota.ended(await quota.admit(1, 0), report(remaining=0, reset_s=0.05))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await quota.admit(1, 0)
    assert loop.time() - started >= 0.05


async def test_a_report_without_a_reset_time_is_ignored_rather_than_waited_on_forever() -> None:
    quota = ReportedQuota("p/m", Clock())
    quota.ended(await quota.admit(1, 0), podium.RateLimits(requests=podium.Quota(limit=3, remaining=0)))
    assert quota.wait(1, 0) == 0


#: Rounds: requests sent, then some of those waiting counted by the provider and some of
#: those counted answered, each in the order the picks say; then a wait of 0 to 10 s.
rounds = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.lists(st.integers(0, 9), max_size=4),
        st.lists(st.integers(0, 9), max_size=4),
        st.integers(0, 40),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(limit=st.integers(1, 4), steps=rounds)
def test_a_provider_that_reported_its_quota_never_has_to_refuse_a_request(
    limit: int, steps: list[tuple[int, list[int], list[int], int]]
) -> None:
    """A provider metering ``limit`` requests per sliding 10 s window counts requests in any
    order and answers them in any order; every answer reports what remains and when the
    window is empty. Whatever the interleaving, it never sees a request it must refuse,
    and a request can always go once nothing is in flight and every reset has passed."""

    async def scenario() -> None:
        clock = Clock()
        quota = ReportedQuota("p/m", clock)
        window = SlidingWindow(limit, 10.0)
        # The provider has spoken once: a first request, counted and answered.
        window.admit(clock.now, 1)
        quota.ended(await quota.admit(1, 0), report(limit - 1, 10.0, limit))
        sent: list[int] = []
        counted: list[tuple[int, int, float]] = []  # request, what was left, when counted
        for sends, to_count, to_answer, wait in steps:
            for _ in range(sends):
                if quota.wait(1, 0) == 0:
                    sent.append(await quota.admit(1, 0))
            for pick in to_count:
                if sent:
                    number = sent.pop(pick % len(sent))
                    assert window.wait(clock.now, 1) == 0, "the provider had to refuse a request"
                    window.admit(clock.now, 1)
                    counted.append((number, limit - window.used(clock.now), clock.now))
            for pick in to_answer:
                if counted:
                    number, left, at = counted.pop(pick % len(counted))
                    # The headers were written when it was counted: the window empties 10 s after.
                    quota.ended(number, report(left, max(0.0, at + 10.0 - clock.now), limit))
            clock.now += wait / 4
        for number in sent:
            quota.ended(number, None)
        for number, left, at in counted:
            quota.ended(number, report(left, max(0.0, at + 10.0 - clock.now), limit))
        clock.now += 10.0
        assert quota.wait(1, 0) == 0

    asyncio.run(scenario())
