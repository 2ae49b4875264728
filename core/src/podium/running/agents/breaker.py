"""Circuit breakers per agent: closed → open after failures → half-open probe → closed.

The state machine takes the time as an argument, so it is tested over any sequence of
events without waiting. A call asks :meth:`CircuitBreaker.admit` first: closed admits,
open refuses until ``reset_s`` has passed, then exactly one probe call is admitted
(half-open) and the others are refused until it ends. Its success closes the circuit,
its failure opens it again for another ``reset_s``.
"""

from __future__ import annotations

import enum
from collections import deque

from podium.definition.agents import BreakerPolicy


class BreakerState(enum.StrEnum):
    """Where a breaker stands: ``closed`` (calls go), ``open`` (refused), ``half_open`` (one probe)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One agent's breaker. Methods take ``now`` (seconds, any monotonic clock) and return
    the new state when they changed it, else ``None``."""

    __slots__ = (
        "_outcomes",
        "_probing",
        "consecutive",
        "last_error",
        "opened_at",
        "policy",
        "state",
    )

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self.opened_at: float | None = None
        self.last_error: str | None = None
        self._probing = False
        self._outcomes: deque[tuple[float, bool]] = deque()  # (when, failed), for failure_rate

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.state.value} failures={self.consecutive}>"

    def next_probe_in(self, now: float) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self.state is not BreakerState.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.policy.reset_s - now)

    def admit(self, now: float) -> tuple[bool, BreakerState | None]:
        """Whether a call may go now, and the state it moved to (half-open), if it moved."""
        if self.state is BreakerState.CLOSED:
            return True, None
        if self.state is BreakerState.OPEN:
            if self.next_probe_in(now) > 0:
                return False, None
            self.state = BreakerState.HALF_OPEN
            self._probing = True
            return True, BreakerState.HALF_OPEN
        if self._probing:  # half-open, the probe is still out
            return False, None
        self._probing = True
        return True, None

    def succeeded(self, now: float) -> BreakerState | None:
        self.consecutive = 0
        self._record(now, failed=False)
        if self.state is not BreakerState.CLOSED:
            self.state = BreakerState.CLOSED
            self.opened_at = None
            self._probing = False
            self._outcomes.clear()
            return BreakerState.CLOSED
        return None

    def failed(self, now: float, error: str) -> BreakerState | None:
        self.consecutive += 1
        self.last_error = error
        self._record(now, failed=True)
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self._should_open()
        ):
            self.state = BreakerState.OPEN
            self.opened_at = now
            self._probing = False
            return BreakerState.OPEN
        return None

    def released(self) -> None:
        """A probe ended with neither success nor failure (cancelled, refused by a limit)."""
        self._probing = False

    def _record(self, now: float, *, failed: bool) -> None:
        if self.policy.failure_rate is None:
            return
        outcomes = self._outcomes
        outcomes.append((now, failed))
        horizon = now - self.policy.window_s
        while outcomes and outcomes[0][0] <= horizon:
            outcomes.popleft()

    def _should_open(self) -> bool:
        policy = self.policy
        if self.consecutive >= policy.failures:
            return True
        if policy.failure_rate is None or len(self._outcomes) < policy.min_calls:
            return False
        failures = sum(1 for _, failed in self._outcomes if failed)
        return failures / len(self._outcomes) >= policy.failure_rate


__all__ = ["BreakerState", "CircuitBreaker"]
