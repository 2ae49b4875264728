"""The webhook alert sink: alerts POSTed as JSON (or as a Slack-compatible message).

Delivery happens in the background (the alert router awaits it in its own task, so a run
never waits for it), is retried with exponential backoff, and a webhook that stays down
is one warning per alert on the ``podium.alerts`` logger. The URL is a secret (a chat
tool's webhook URL is a credential): messages name only its scheme and host.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from podium.foundation.redaction import Secret
from podium.values.alert_rules import WebhookSettings
from podium.values.alerts import Alert

_log = logging.getLogger("podium.alerts")

_MARKS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def alert_payload(alert: Alert, format: str = "json") -> dict[str, Any]:
    """The JSON body a webhook receives for ``alert``."""
    if format == "slack":
        where = f" (run {alert.run_id})" if alert.run_id else ""
        mark = _MARKS.get(alert.severity, "")
        return {"text": f"{mark} *{alert.name}* [{alert.severity}] {alert.message}{where}"}
    return {
        "source": "podium",
        "name": alert.name,
        "severity": alert.severity,
        "message": alert.message,
        "workflow": alert.workflow,
        "run_id": alert.run_id,
        "subject": alert.subject,
        "value": alert.value,
        "threshold": alert.threshold,
        "raised_at": alert.raised_at.isoformat(),
    }


class WebhookAlertSink:
    """An alert sink POSTing each alert to a URL; configured as ``[alerts.webhooks.<name>]``.

    :param name: Names the webhook in messages.
    :param url: Where to POST (a :class:`podium.Secret`, or a string made into one).
    :param format: ``"json"`` (the alert's fields) or ``"slack"`` (``{"text": ...}``).
    :param timeout: Seconds one attempt may take.
    :param attempts: Attempts in all; a 4xx answer other than 408 and 429 is not retried.
    :param backoff: Seconds before the second attempt, doubling after each.
    """

    def __init__(
        self,
        name: str,
        url: Secret | str,
        *,
        format: str = "json",
        timeout: float = 5.0,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.name = name
        self._url = url if isinstance(url, Secret) else Secret(url)
        self.format = format
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        parts = urlsplit(self._url.reveal())
        #: Where it posts, fit for messages: scheme and host, never the path (the secret part).
        self.location = f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}/…"

    @classmethod
    def from_settings(cls, name: str, settings: WebhookSettings) -> WebhookAlertSink:
        return cls(
            name,
            settings.url,
            format=settings.format,
            timeout=settings.timeout,
            attempts=settings.attempts,
            backoff=settings.backoff,
        )

    def __repr__(self) -> str:
        return f"<WebhookAlertSink {self.name!r} {self.location}>"

    def send(self, alert: Alert) -> asyncio.Future[None] | Any:
        return self._deliver(alert)

    async def _deliver(self, alert: Alert) -> None:
        payload = alert_payload(alert, self.format)
        problem = ""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = await client.post(self._url.reveal(), json=payload)
                except httpx.HTTPError as error:
                    problem = type(error).__name__  # its text may carry the URL
                else:
                    if response.status_code < 300:
                        return
                    problem = f"HTTP {response.status_code}"
                    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                        break  # the request itself is wrong: another attempt will not help
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        _log.warning(
            "alert %r was not delivered to webhook %r (%s) after %d attempt(s): %s",
            alert.name,
            self.name,
            self.location,
            attempt,
            problem,
            extra={"alert": alert.name, "workflow": alert.workflow, "run_id": alert.run_id},
        )


__all__ = ["WebhookAlertSink", "alert_payload"]
