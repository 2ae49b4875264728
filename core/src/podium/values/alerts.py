"""Alerts: raised by the kernel and by plugins, de-duplicated, sent to every registered sink."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

_log = logging.getLogger("podium.alerts")

Severity = Literal["info", "warning", "critical"]


@attrs.frozen
class Alert:
    """Something an operator should know: a threshold crossed, a budget spent.

    ``subject`` is what the alert is about beyond its workflow (an agent's name, say);
    alerts are de-duplicated by name, workflow and subject.
    """

    name: str
    message: str
    severity: Severity = "warning"
    workflow: str | None = None
    run_id: str | None = None
    value: float | None = None
    threshold: float | None = None
    raised_at: datetime = attrs.field(factory=lambda: datetime.now(UTC))
    subject: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """What makes two alerts the same one, for de-duplication."""
        return (self.name, self.workflow, self.subject)


@runtime_checkable
class AlertSink(Protocol):
    """Receives alerts. ``send`` may return an awaitable; failures are logged, never raised."""

    def send(self, alert: Alert) -> Awaitable[None] | None: ...


class LogAlertSink:
    """The default sink: a WARNING (or CRITICAL) record on the ``podium.alerts`` logger."""

    def send(self, alert: Alert) -> None:
        level = logging.CRITICAL if alert.severity == "critical" else logging.WARNING
        _log.log(
            level,
            "ALERT %s: %s",
            alert.name,
            alert.message,
            extra={"alert": alert.name, "workflow": alert.workflow, "run_id": alert.run_id},
        )


class AlertRouter:
    """De-duplicates alerts (the same :attr:`Alert.key` within ``cooldown_s``) and fans them out."""

    def __init__(self, emit: Callable[[Alert], Any], cooldown_s: float = 300.0) -> None:
        self.sinks: list[AlertSink] = []
        self._emit = emit
        self.cooldown_s = cooldown_s
        self._last: dict[tuple[str, str | None, str | None], float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    def raise_alert(self, alert: Alert) -> bool:
        """Send ``alert`` unless the same one was sent within the cooldown; True if sent."""
        key = alert.key
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.cooldown_s:
            return False
        self._last[key] = now
        self._emit(alert)
        for sink in self.sinks:
            try:
                outcome = sink.send(alert)
            except Exception:
                _log.exception("alert sink %r failed", sink)
                continue
            if outcome is not None:
                task = asyncio.ensure_future(self._await(sink, outcome))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        return True

    async def _await(self, sink: AlertSink, outcome: Awaitable[None]) -> None:
        try:
            await outcome
        except Exception:
            _log.exception("alert sink %r failed", sink)

    async def drain(self) -> None:
        """Wait for alerts still being delivered (called on engine shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
