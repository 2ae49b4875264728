"""Alert rules with the seed's thresholds, their cooldown, and the sinks they go to: the log,
a webhook (a real HTTP server on 127.0.0.1), and the run store."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.values.alert_rules import AlertRules, run_alerts, window_alerts

RULES = AlertRules()


def ended(status: str = "succeeded") -> podium.RunRecord:
    return podium.RunRecord(run_id="r", workflow="w", status=status, started_at=time.time(), duration_s=1.0)


# ------------------------------------------------------------------ the rules, one by one


def test_workflow_duration_fires_over_a_minute_and_not_within() -> None:
    [alert] = run_alerts(RULES, "w", "r1", 61.0, 0, None)
    assert (alert.name, alert.value, alert.threshold, alert.severity) == (
        "workflow_duration",
        61.0,
        60.0,
        "warning",
    )
    assert alert.message == "workflow 'w' run r1 took 61.0s, over the 1m threshold"
    assert run_alerts(RULES, "w", "r1", 59.9, 0, None) == []


def test_token_budget_fires_over_the_workflows_budget_and_not_within() -> None:
    [alert] = run_alerts(RULES, "w", "r1", 1.0, 1001, 1000)
    assert (alert.name, alert.value, alert.threshold) == ("token_budget", 1001.0, 1000.0)
    assert run_alerts(RULES, "w", "r1", 1.0, 1000, 1000) == []
    assert run_alerts(RULES, "w", "r1", 1.0, 10**9, None) == []  # no budget, no limit
    assert run_alerts(RULES, "w", "r1", 1.0, 1001, 1000, tokens_already_alerted=True) == []


def test_a_token_limit_in_the_configuration_applies_to_every_workflow() -> None:
    rules = podium.Config({"alerts": {"token_budget": 500}}).settings.alerts
    assert [a.name for a in run_alerts(rules, "w", "r", 1.0, 501, None)] == ["token_budget"]


def test_success_rate_fires_below_95_percent_over_enough_runs() -> None:
    four_of_five = [ended()] * 4 + [ended("failed")]
    [alert] = window_alerts("w", four_of_five, [], RULES)
    assert (alert.name, alert.severity, alert.value, alert.threshold) == (
        "success_rate",
        "critical",
        0.8,
        0.95,
    )
    assert "4 of 5 runs succeeded in the last 1h (80%, below 95%)" in alert.message
    assert window_alerts("w", [ended()] * 19 + [ended("failed")], [], RULES) == []  # exactly 95%
    assert window_alerts("w", [ended("failed")] * 4, [], RULES) == []  # fewer than min_runs
    assert window_alerts("w", [ended("interrupted")] * 5, [], RULES)[0].value == 0.0


def test_agent_failure_rate_fires_above_10_percent_per_agent() -> None:
    calls = [("w", "writer", False)] * 8 + [("w", "writer", True)] * 2 + [("w", "critic", False)] * 10
    [alert] = window_alerts("w", [], calls, RULES)
    assert (alert.name, alert.subject, alert.value) == ("agent_failure_rate", "writer", 0.2)
    assert "agent 'writer' failed 2 of 10 calls" in alert.message
    assert window_alerts("w", [], [("w", "writer", False)] * 9 + [("w", "writer", True)], RULES) == []
    assert window_alerts("w", [], [("w", "writer", True)] * 9, RULES) == []  # fewer than min_calls


def test_false_turns_a_rule_off() -> None:
    rules = podium.Config(
        {
            "alerts": {
                "workflow_duration": False,
                "success_rate": False,
                "agent_failure_rate": False,
                "token_budget": False,
            }
        }
    ).settings.alerts
    assert run_alerts(rules, "w", "r", 1e6, 10**9, 10) == []
    assert window_alerts("w", [ended("failed")] * 50, [("w", "a", True)] * 50, rules) == []


def test_bad_alert_settings_are_errors_at_their_key() -> None:
    with pytest.raises(
        podium.ConfigError,
        match=r"expected a number, or false to turn the rule off; got true @ config\.alerts\.workflow_duration",
    ):
        podium.Config({"alerts": {"workflow_duration": True}})
    with pytest.raises(podium.ConfigError, match=r"success_rate is a share between 0 and 1, got 95"):
        podium.Config({"alerts": {"success_rate": 95}})
    with pytest.raises(podium.ConfigError, match=r"format must be one of json, slack"):
        podium.Config({"alerts": {"webhooks": {"ops": {"url": "http://x", "format": "teams"}}}})


# ------------------------------------------------------------------ raised through an engine


class Sink:
    def __init__(self) -> None:
        self.alerts: list[podium.Alert] = []

    def send(self, alert: podium.Alert) -> None:
        self.alerts.append(alert)


class SinkPlugin:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    @podium.hookimpl
    def podium_register_alert_sinks(self, register: Any) -> None:
        register(self.sink)


def slow_workflow(name: str = "slow") -> podium.Workflow:
    wf = podium.Workflow(name, strategy="sequential")

    @wf.stage
    async def nap() -> None:
        await asyncio.sleep(0.03)

    return wf


async def test_an_alert_goes_to_every_sink_once_per_cooldown() -> None:
    sink = Sink()
    config = podium.Config({"alerts": {"workflow_duration": "10ms"}})
    async with podium.Engine(config=config, plugins=[SinkPlugin(sink)]) as engine:
        await engine.run(slow_workflow())
        await engine.run(slow_workflow())
    assert [a.name for a in sink.alerts] == ["workflow_duration"]
    assert sink.alerts[0].workflow == "slow" and sink.alerts[0].run_id


async def test_the_cooldown_is_configurable() -> None:
    sink = Sink()
    config = podium.Config({"alerts": {"workflow_duration": "10ms", "cooldown": 0}})
    async with podium.Engine(config=config, plugins=[SinkPlugin(sink)]) as engine:
        await engine.run(slow_workflow())
        await engine.run(slow_workflow())
    assert len(sink.alerts) == 2


async def test_failing_runs_raise_the_success_rate_alert_from_the_live_window() -> None:
    sink = Sink()
    wf = podium.Workflow("broken", strategy="sequential")

    @wf.stage
    async def fail() -> None:
        raise RuntimeError("no")

    async with podium.Engine(config=podium.Config(), plugins=[SinkPlugin(sink)]) as engine:
        for _ in range(5):
            await engine.run(wf)
    assert [(a.name, a.severity) for a in sink.alerts] == [("success_rate", "critical")]


async def test_alerts_are_stored_and_their_cooldown_holds_across_processes_sharing_the_store(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path}/runs.sqlite3"
    config = podium.Config({"alerts": {"workflow_duration": "10ms"}})
    first, second = Sink(), Sink()
    async with podium.Engine(config=config, plugins=[SinkPlugin(first)], store=store) as engine:
        await engine.run(slow_workflow())
    async with podium.Engine(config=config, plugins=[SinkPlugin(second)], store=store) as engine:
        await engine.run(slow_workflow())  # another engine, as another process would be
        assert engine.monitor.store is not None
        kept = await engine.monitor.store.alerts(podium.RunFilter())
    assert len(first.alerts) == 1 and second.alerts == []
    assert [a.name for a in kept] == ["workflow_duration"]


async def test_the_window_rules_read_the_store_when_there_is_one(tmp_path: Path) -> None:
    sink = Sink()
    wf = podium.Workflow("flaky", strategy="sequential")
    agent = podium.SimulatedAgent("ok", failure_rate=1.0)

    @wf.stage(fallback="gave up")
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("a").complete("q")).text

    config = podium.Config({"alerts": {"min_calls": 3}})
    store = f"sqlite:///{tmp_path}/runs.sqlite3"
    for _ in range(3):  # three processes, one run each: only the store sees all three calls
        async with podium.Engine(
            config=config, plugins=[SinkPlugin(sink)], agents={"a": agent}, store=store
        ) as engine:
            result = await engine.run(wf)
            assert result.ok
    assert [(a.name, a.subject) for a in sink.alerts] == [("agent_failure_rate", "a")]


# ------------------------------------------------------------------ the webhook sink


class Receiver(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 recording POSTs; answers with the next scripted status."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.delay = delay
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                if status < 300:
                    receiver.got.set()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/s3cr3t-token"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def webhook_config(url: str, **options: Any) -> podium.Config:
    return podium.Config(
        {
            "alerts": {
                "workflow_duration": "10ms",
                "webhooks": {"ops": {"url": url, "backoff": 0.01, **options}},
            }
        }
    )


async def test_a_configured_webhook_receives_each_alert_as_json(receiver: Receiver) -> None:
    async with podium.Engine(config=webhook_config(receiver.url)) as engine:
        result = await engine.run(slow_workflow())
    [body] = receiver.bodies
    assert body["source"] == "podium" and body["name"] == "workflow_duration"
    assert (body["workflow"], body["run_id"], body["threshold"]) == ("slow", result.run_id, 0.01)
    assert body["message"].startswith("workflow 'slow' run ")


async def test_the_slack_format_posts_a_text_message(receiver: Receiver) -> None:
    async with podium.Engine(config=webhook_config(receiver.url, format="slack")) as engine:
        await engine.run(slow_workflow())
    [body] = receiver.bodies
    assert list(body) == ["text"]
    assert body["text"].startswith(":warning: *workflow_duration* [warning] workflow 'slow' run ")


async def test_a_failed_delivery_is_retried_with_backoff(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    async with podium.Engine(config=webhook_config(receiver.url)) as engine:
        await engine.run(slow_workflow())
    assert len(receiver.bodies) == 3 and receiver.got.is_set()


async def test_a_delivery_never_holds_up_the_run(receiver: Receiver) -> None:
    receiver.delay = 0.5
    async with podium.Engine(config=webhook_config(receiver.url)) as engine:
        started = time.perf_counter()
        await engine.run(slow_workflow())
        took = time.perf_counter() - started
        assert not receiver.got.is_set()  # still being delivered when the run has returned
    assert took < 0.4 and receiver.got.is_set()  # delivered by the time the engine stopped


async def test_a_webhook_that_is_down_leaves_the_run_unaffected_with_one_warning_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Receiver()
    url = server.url
    server.server_close()  # nothing listens there any more
    caplog.set_level(logging.WARNING, logger="podium.alerts")
    async with podium.Engine(config=webhook_config(url, attempts=3)) as engine:
        result = await engine.run(slow_workflow())
    assert result.ok
    [warning] = [r for r in caplog.records if "not delivered" in r.getMessage()]
    assert "after 3 attempt(s): ConnectError" in warning.getMessage()
    assert "http://127.0.0.1:" in warning.getMessage()
    assert all("s3cr3t" not in r.getMessage() for r in caplog.records)


async def test_a_webhook_answering_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [404]
    async with podium.Engine(config=webhook_config(receiver.url)) as engine:
        await engine.run(slow_workflow())
    assert len(receiver.bodies) == 1


def test_a_webhook_sink_never_shows_its_url() -> None:
    sink = podium.WebhookAlertSink("ops", "https://hooks.slack.com/services/T0/B0/s3cr3t")
    assert repr(sink) == "<WebhookAlertSink 'ops' https://hooks.slack.com/…>"
    described = {k: v for k, v, _ in webhook_config("https://h/s3cr3t").describe()}
    assert described["alerts.webhooks.ops.url"] == "********"
