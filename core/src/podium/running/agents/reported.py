"""The provider's own rate-limit state, obeyed before each request: no 429 once it has spoken.

Every reply, and every error, may carry what the provider's rate-limit headers said
(:class:`podium.RateLimits`): for each unit (requests, tokens, input or output tokens) the
limit, what remains, and when the quota is fully replenished. A :class:`ReportedQuota`
keeps that state for one provider key and model and admits a request only while what
remains leaves room for it and for every request still in flight (which the provider may
not have counted yet). Once the provider has said that nothing is left, calls wait for
its reset instead of drawing 429s, and concurrent calls share what is left, whatever
window or algorithm the provider meters with.

Concurrent requests may reach the provider in another order than they were sent, so no
single report is the truth: each unit keeps every report that may still be in force, and
what remains is the lowest of them. A report is dropped at its reset, or when a request
sent after it arrived reports (the provider counted everything it did, and whatever was
replenished since), so it holds about as many reports as requests run at once. Before
the first report nothing is known and every request goes; once every report has reset,
the whole limit is available again, less what is in flight. The state is this process's
own: other processes sharing the key are seen through the provider's ``remaining``,
which counts every client of the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Collection
from typing import Any

import attrs

from podium.values.providers import RateLimits

#: The units of :class:`podium.RateLimits`, as a call's amounts name them.
UNITS = ("requests", "tokens", "input_tokens", "output_tokens")


@attrs.define
class _Report:
    """One unit's state as an answer reported it; ``answer`` numbers the answers received."""

    answer: int
    limit: int | None
    remaining: int
    reset_at: float


class ReportedQuota:
    """The rate-limit state one provider key and model reported, and the requests in flight.

    Before each request, :meth:`enter` (it may go now) or else ``await`` :meth:`admit`
    (it waits while the state leaves no room); after it, :meth:`ended` with what the
    answer reported (``None`` when it reported nothing). A request is described by its
    estimated prompt and output tokens, and the units it is checked against.
    """

    def __init__(self, scope: str, clock: Callable[[], float] | None = None) -> None:
        self.scope = scope
        self._clock = clock
        #: Per unit, the reports that may still be the lowest (see the module's docstring).
        self._reports: dict[str, list[_Report]] = {}
        self._limits: dict[str, int] = {}
        #: Each request in flight: its prompt and output tokens, and how many answers had
        #: arrived when it was sent.
        self._in_flight: dict[int, tuple[int, int, int]] = {}
        #: What the requests in flight draw (:meth:`in_flight`).
        self._flying_requests = 0
        self._flying_input = 0
        self._flying_output = 0
        self._sent = 0
        self._answers = 0
        self._queue: asyncio.Lock | None = None
        self._changed: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<ReportedQuota {self.scope} {sorted(self._reports)}, {len(self._in_flight)} in flight>"

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def enter(self, prompt_tokens: int, output_tokens: int, units: Collection[str] = UNITS) -> int | None:
        """The request's number when it may go now (nobody waits before it and the state
        leaves room in ``units``), else ``None``: then ``await`` :meth:`admit`."""
        if self._reports:
            queue = self._queue
            if (queue is not None and queue.locked()) or self.wait(prompt_tokens, output_tokens, units) > 0:
                return None
        return self._take(prompt_tokens, output_tokens)

    async def admit(self, prompt_tokens: int, output_tokens: int, units: Collection[str] = UNITS) -> int:
        """Wait until the state leaves room for the request in ``units``, behind earlier
        waiters (first come, first served); returns its number for :meth:`ended`."""
        queue = self._queue
        if queue is None:
            queue = self._queue = asyncio.Lock()
        async with queue:
            while (wait := self.wait(prompt_tokens, output_tokens, units)) > 0:
                await self._sleep(wait)
            return self._take(prompt_tokens, output_tokens)

    def _take(self, prompt_tokens: int, output_tokens: int) -> int:
        self._sent += 1
        self._in_flight[self._sent] = (prompt_tokens, output_tokens, self._answers)
        self._flying_requests += 1
        self._flying_input += prompt_tokens
        self._flying_output += output_tokens
        return self._sent

    def ended(self, sent: int, limits: Any) -> None:
        """Request ``sent`` is answered (or failed); ``limits`` is what the answer reported."""
        entry = self._in_flight.pop(sent, None)
        if entry is None:
            return
        prompt_tokens, output_tokens, answers_at_send = entry
        self._flying_requests -= 1
        self._flying_input -= prompt_tokens
        self._flying_output -= output_tokens
        if isinstance(limits, RateLimits):
            self._answers += 1
            now = self.now()
            for unit in UNITS:
                quota = getattr(limits, unit)
                if quota is None or quota.remaining is None or quota.reset_s is None:
                    continue  # without a reset time, waiting for one could never end
                report = _Report(self._answers, quota.limit, quota.remaining, now + quota.reset_s)
                self._keep(unit, report, answers_at_send, now)
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def _keep(self, unit: str, report: _Report, answers_at_send: int, now: float) -> None:
        # A request sent after a report arrived was counted after everything that report
        # counted, so its report supersedes it; reports still in force otherwise stay.
        kept = [k for k in self._reports.get(unit, ()) if k.reset_at > now and k.answer > answers_at_send]
        kept.append(report)
        self._reports[unit] = kept
        if report.limit is not None:
            self._limits[unit] = report.limit

    def in_flight(self) -> dict[str, int]:
        """What the requests in flight draw from each unit (every unit, checked or not:
        they occupy the provider's quota whoever checks it)."""
        return {
            "requests": self._flying_requests,
            "tokens": self._flying_input + self._flying_output,
            "input_tokens": self._flying_input,
            "output_tokens": self._flying_output,
        }

    def wait(self, prompt_tokens: int, output_tokens: int, units: Collection[str] = UNITS) -> float:
        """Seconds until a request of these estimates fits in ``units`` (0: now; ``inf``:
        until a request in flight ends)."""
        now = self.now()
        wait = 0.0
        amounts = {
            "requests": 1,
            "tokens": prompt_tokens + output_tokens,
            "input_tokens": prompt_tokens,
            "output_tokens": output_tokens,
        }
        flying = self.in_flight()
        for unit, reports in self._reports.items():
            amount = amounts[unit]
            if amount <= 0 or unit not in units:
                continue
            limit = self._limits.get(unit)
            if limit is not None:
                amount = min(amount, limit)  # larger than the whole quota: wait for all of it
            need = amount + flying[unit]
            # Each report leaving less than that must reset first; then the next ones decide.
            blocking = [k.reset_at for k in reports if k.reset_at > now and k.remaining < need]
            if blocking:
                wait = max(wait, max(blocking) - now)
                if limit is not None and limit < need and all(k.reset_at <= max(blocking) for k in reports):
                    wait = math.inf  # the whole limit is in flight: until a request ends
            elif limit is not None and limit < need and all(k.reset_at <= now for k in reports):
                wait = math.inf
        return wait

    async def _sleep(self, seconds: float) -> None:
        # Until the time named, or until an answer changes what is known or in flight.
        changed = self._changed
        if changed is None:
            changed = self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):  # the wait is over either way
            async with asyncio.timeout(None if math.isinf(seconds) else seconds):
                await changed.wait()

    def describe(self) -> dict[str, dict[str, Any]]:
        """What the provider last left for each unit (the lowest report in force), for ``podium agents``."""
        now = self.now()
        flying = self.in_flight()
        described = {}
        for unit, reports in self._reports.items():
            live = [k for k in reports if k.reset_at > now]
            lowest = min(live, key=lambda k: k.remaining) if live else None
            described[unit] = {
                "limit": self._limits.get(unit),
                "remaining": lowest.remaining if lowest else self._limits.get(unit),
                "reset_in_s": round(lowest.reset_at - now, 3) if lowest else 0.0,
                "in_flight": flying[unit],
            }
        return described


__all__ = ["UNITS", "ReportedQuota"]
