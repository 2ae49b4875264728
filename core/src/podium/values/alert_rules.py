"""Alert rules: the seed's thresholds as defaults, evaluated when a run ends and over a window.

The ``[alerts]`` section is :class:`AlertRules`. Rules about one run (its duration, its
tokens against the budget) look at the run that just ended; rules about a window (the
success rate of a workflow, the failure rate of each agent it calls) look at the runs
that ended within ``window``, once there are enough of them to judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NewType

import attrs

from podium.foundation.redaction import Secret
from podium.values.alerts import Alert, Severity
from podium.values.kpis import CallSample, agent_failures, success_rate
from podium.values.records import RunRecord
from podium.values.units import Duration

#: A threshold a rule compares against; ``false`` in the configuration turns the rule off.
Limit = NewType("Limit", float)
#: ``true``: the workflow's own ``Budget.tokens``; a number: tokens per run for every
#: workflow; ``false``: off.
TokenLimit = bool | int

#: The alerts the kernel raises, by name, with their severities (plugins may raise others):
#: what a metrics exporter can publish from zero before any is raised.
KERNEL_ALERTS: Mapping[str, Severity] = {
    "workflow_duration": "warning",
    "success_rate": "critical",
    "agent_failure_rate": "warning",
    "token_budget": "warning",
    "budget_exceeded": "warning",
}

WEBHOOK_FORMATS = ("json", "slack")


def human_duration(seconds: float) -> str:
    """``90`` as ``"1m 30s"``, ``3600`` as ``"1h"``: for messages."""
    if seconds < 60:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(int(seconds), size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def _format(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in WEBHOOK_FORMATS:
        raise ValueError(f"format must be one of {', '.join(WEBHOOK_FORMATS)}, got {value!r}")


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


def _share(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} is a share between 0 and 1, got {value!r}")


@attrs.define
class WebhookSettings:
    """One ``[alerts.webhooks.<name>]`` table: where alerts are POSTed as JSON.

    ``url`` is a secret (a Slack webhook URL is a credential): never logged. ``format``
    is ``"json"`` (the alert's fields) or ``"slack"`` (``{"text": ...}``, which Slack and
    compatible chat tools accept). A failed delivery is retried ``attempts`` times with
    exponential backoff from ``backoff`` seconds, in the background.
    """

    url: Secret
    format: str = attrs.field(default="json", validator=_format)
    timeout: Duration = 5.0
    attempts: int = attrs.field(default=4, validator=_at_least_one)
    backoff: Duration = 0.5


@attrs.define
class AlertRules:
    """The ``[alerts]`` section: thresholds (``false`` turns a rule off), window, cooldown, sinks.

    - ``workflow_duration``: seconds a run may take (default 60).
    - ``success_rate``: the share of a workflow's runs in the window that must succeed
      (0.95), judged once ``min_runs`` runs ended in the window.
    - ``agent_failure_rate``: the share of an agent's calls in the window that may fail
      (0.10), judged once it made ``min_calls`` calls.
    - ``token_budget``: ``true`` alerts when a run's tokens exceed its workflow's
      ``Budget.tokens``; a number is a limit for every workflow.
    - ``cooldown``: the same alert (name, workflow and subject) is sent at most once per
      cooldown, across processes sharing a run store.
    """

    workflow_duration: Limit | None = Limit(60.0)
    success_rate: Limit | None = attrs.field(default=Limit(0.95), validator=_share)
    agent_failure_rate: Limit | None = attrs.field(default=Limit(0.10), validator=_share)
    token_budget: TokenLimit = True
    window: Duration = 3600.0
    min_runs: int = attrs.field(default=5, validator=_at_least_one)
    min_calls: int = attrs.field(default=10, validator=_at_least_one)
    cooldown: Duration = 300.0
    webhooks: dict[str, WebhookSettings] = attrs.field(factory=dict)

    def token_limit(self, budget_tokens: int | None) -> int | None:
        """The token limit of a run whose workflow budget allows ``budget_tokens``."""
        limit = self.token_budget
        if limit is True:
            return budget_tokens
        return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def run_alerts(
    rules: AlertRules,
    workflow: str,
    run_id: str,
    duration_s: float | None,
    tokens: int,
    budget_tokens: int | None,
    *,
    tokens_already_alerted: bool = False,
) -> list[Alert]:
    """The alerts of the run that just ended: too slow, too many tokens.

    ``tokens_already_alerted``: the run's own budget alert fired already (it stopped the
    run), so the token rule stays quiet.
    """
    alerts = []
    where = f"workflow {workflow!r} run {run_id}"
    limit = rules.workflow_duration
    if limit is not None and duration_s is not None and duration_s > limit:
        alerts.append(
            Alert(
                name="workflow_duration",
                message=f"{where} took {duration_s:.1f}s, over the {human_duration(limit)} threshold",
                severity="warning",
                workflow=workflow,
                run_id=run_id,
                value=duration_s,
                threshold=float(limit),
            )
        )
    allowed = rules.token_limit(budget_tokens)
    if allowed is not None and tokens > allowed and not tokens_already_alerted:
        alerts.append(
            Alert(
                name="token_budget",
                message=f"{where} used {tokens:,} tokens, over its budget of {allowed:,}",
                severity="warning",
                workflow=workflow,
                run_id=run_id,
                value=float(tokens),
                threshold=float(allowed),
            )
        )
    return alerts


def window_alerts(
    workflow: str, runs: Sequence[RunRecord], calls: Sequence[CallSample], rules: AlertRules
) -> list[Alert]:
    """The alerts of ``workflow`` over its ``runs`` and their agent ``calls`` in the window."""
    alerts = []
    window = human_duration(rules.window)
    threshold = rules.success_rate
    succeeded, ended = success_rate(runs)
    if threshold is not None and ended >= rules.min_runs and succeeded / ended < threshold:
        rate = succeeded / ended
        alerts.append(
            Alert(
                name="success_rate",
                message=(
                    f"workflow {workflow!r}: {succeeded} of {ended} runs succeeded in the last {window} "
                    f"({rate:.0%}, below {threshold:.0%})"
                ),
                severity="critical",
                workflow=workflow,
                value=rate,
                threshold=float(threshold),
            )
        )
    threshold = rules.agent_failure_rate
    if threshold is not None:
        for agent, (failed, made) in sorted(agent_failures(calls).items()):
            if made >= rules.min_calls and failed / made > threshold:
                rate = failed / made
                alerts.append(
                    Alert(
                        name="agent_failure_rate",
                        message=(
                            f"agent {agent!r} failed {failed} of {made} calls from workflow {workflow!r} "
                            f"in the last {window} ({rate:.0%}, above {threshold:.0%})"
                        ),
                        severity="warning",
                        workflow=workflow,
                        subject=agent,
                        value=rate,
                        threshold=float(threshold),
                    )
                )
    return alerts


__all__ = [
    "KERNEL_ALERTS",
    "WEBHOOK_FORMATS",
    "AlertRules",
    "Limit",
    "TokenLimit",
    "WebhookSettings",
    "human_duration",
    "run_alerts",
    "window_alerts",
]
