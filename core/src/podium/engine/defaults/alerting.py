"""Built-in alerting: every alert is logged on the ``podium.alerts`` logger."""

from __future__ import annotations

from collections.abc import Callable

from podium.foundation.markers import hookimpl
from podium.values.alerts import AlertSink, LogAlertSink


@hookimpl(trylast=True)
def podium_register_alert_sinks(register: Callable[[AlertSink], None]) -> None:
    register(LogAlertSink())
