"""Built-in alerting: every alert is logged on the ``podium.alerts`` logger, and POSTed to
each webhook configured under ``[alerts.webhooks.<name>]``."""

from __future__ import annotations

from collections.abc import Callable

from podium.definition.config import Config
from podium.engine.defaults.webhook import WebhookAlertSink
from podium.foundation.markers import hookimpl
from podium.values.alerts import AlertSink, LogAlertSink


@hookimpl(trylast=True)
def podium_register_alert_sinks(register: Callable[[AlertSink], None], config: Config) -> None:
    register(LogAlertSink())
    for name, settings in config.settings.alerts.webhooks.items():
        register(WebhookAlertSink.from_settings(name, settings))
