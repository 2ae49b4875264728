"""Sliding-window meters: the arithmetic of rate limits, with the clock passed in.

A :class:`SlidingWindow` admits an amount (1 request, or N tokens) when the amounts it
admitted in the last ``window_s`` seconds plus this one stay within ``limit``: so no
window of that length, wherever it starts, ever holds more than ``limit``, and under
saturation each unit is reused the moment it leaves the window (nothing is wasted).
An admitted amount can be settled later to what was really spent (a token estimate
corrected by the provider's usage), and :meth:`SlidingWindow.block_until` closes the
meter until a time the provider named (``retry-after``, a reset with nothing remaining).

A provider's own token bucket (capacity = the limit, refilled continuously) accepts
every sequence a sliding window of the same limit admits, so these meters never trip it.
Nothing here awaits or reads a clock: :mod:`podium.running.agents.limiter` does that.
"""

from __future__ import annotations

from collections import deque

#: Seconds of the windows of per-minute and per-second limits.
MINUTE, SECOND = 60.0, 1.0


class Admitted:
    """An amount a window admitted at ``at``; :meth:`SlidingWindow.settle` corrects it."""

    __slots__ = ("amount", "at")

    def __init__(self, at: float, amount: int) -> None:
        self.at = at
        self.amount = amount


class SlidingWindow:
    """At most ``limit`` units in any ``window_s`` seconds."""

    __slots__ = ("_admitted", "_blocked_until", "limit", "total", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        if limit <= 0 or window_s <= 0:
            raise ValueError(f"a window needs a positive limit and length, got {limit} per {window_s}s")
        self.limit = limit
        self.window_s = window_s
        self.total = 0
        self._admitted: deque[Admitted] = deque()
        self._blocked_until = 0.0

    def __repr__(self) -> str:
        return f"<SlidingWindow {self.total}/{self.limit} per {self.window_s:g}s>"

    def _expire(self, now: float) -> None:
        admitted = self._admitted
        horizon = now - self.window_s
        while admitted and admitted[0].at <= horizon:
            self.total -= admitted.popleft().amount

    def clamp(self, amount: int) -> int:
        """``amount`` as the window can ever admit it (a call larger than the limit waits for
        an empty window instead of forever)."""
        return max(0, min(amount, self.limit))

    def wait(self, now: float, amount: int) -> float:
        """Seconds until ``amount`` fits (0: now)."""
        self._expire(now)
        amount = self.clamp(amount)
        wait = max(0.0, self._blocked_until - now)
        excess = self.total + amount - self.limit
        if excess <= 0:
            return wait
        for entry in self._admitted:
            excess -= entry.amount
            if excess <= 0:
                return max(wait, entry.at + self.window_s - now)
        return max(wait, self.window_s)  # only reachable after a debit above the limit

    def admit(self, now: float, amount: int) -> Admitted:
        """Count ``amount`` as spent at ``now`` (call after :meth:`wait` said 0)."""
        entry = Admitted(now, self.clamp(amount))
        self._admitted.append(entry)
        self.total += entry.amount
        return entry

    def settle(self, entry: Admitted, amount: int, now: float) -> None:
        """Correct an admitted estimate to ``amount`` (a refund, or a debit)."""
        self._expire(now)
        if entry.at > now - self.window_s:  # still in the window: it still counts
            self.total += amount - entry.amount
        entry.amount = amount

    def block_until(self, until: float) -> None:
        """Admit nothing before ``until`` (the provider said so)."""
        self._blocked_until = max(self._blocked_until, until)

    def used(self, now: float) -> int:
        """Units counted in the window ending at ``now``."""
        self._expire(now)
        return self.total

    def empty_in(self, now: float) -> float:
        """Seconds until everything admitted so far has left the window (fully replenished)."""
        self._expire(now)
        return self._admitted[-1].at + self.window_s - now if self._admitted else 0.0


__all__ = ["MINUTE", "SECOND", "Admitted", "SlidingWindow"]
