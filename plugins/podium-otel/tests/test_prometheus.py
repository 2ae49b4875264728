"""The ``prometheus`` exporter's scrape endpoint, and the Grafana dashboard that charts it."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import podium
from podium import CachePolicy, Retry, SimulatedAgent
from podium_otel import plugin_for

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana" / "podium-dashboard.json"
PROMQL_WORDS = {"by", "without", "le", "sum", "rate", "increase", "topk", "histogram_quantile"}


def busy_workflow() -> podium.Workflow:
    """Touches every metric: cache miss then hit, agent calls (one failing), docs, a retry,
    a failure, and a budget alert."""
    wf = podium.Workflow("busy", strategy="sequential", budget=podium.Budget(tokens=10_000))

    @wf.stage(cache=CachePolicy(), version="1")
    async def research(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete("research")).text

    @wf.stage(needs=["research"], retry=Retry(attempts=2, delay=0, jitter=False))
    async def draft(ctx: podium.Context, research: str) -> str:
        await ctx.docs(["fastapi", "pytest"], query="testing", tokens=1000)
        reply = await ctx.agent("flaky").complete("draft")  # fails on the first call only
        return reply.text

    @wf.stage(needs=["draft"])
    async def spend(ctx: podium.Context, draft: str) -> str:
        return (await ctx.agent("verbose").complete("expand")).text

    @wf.stage(needs=["spend"])
    async def broken(spend: str) -> None:
        raise RuntimeError("boom")

    return wf


def scrape(address: tuple[str, int]) -> str:
    host, port = address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        body: str = response.read().decode()
        return body


async def exported_metrics(docs_plugin: Any) -> str:
    config = podium.Config(
        {"plugins": {"otel": {"exporter": "prometheus", "prometheus_port": 0, "service_name": "shop"}}}
    )
    agents = {
        "writer": SimulatedAgent("notes", input_tokens=200, output_tokens=50),
        "flaky": SimulatedAgent("text", fail_on=[1], input_tokens=100, output_tokens=10),
        "verbose": SimulatedAgent("long", input_tokens=20_000, output_tokens=1),
    }
    async with podium.Engine(config=config, agents=agents, plugins=[docs_plugin]) as engine:
        await engine.run(busy_workflow())
        await engine.run(busy_workflow())
        plugin = plugin_for(engine)
        assert plugin is not None
        assert plugin.scrape_address is not None
        return await asyncio.to_thread(scrape, plugin.scrape_address)


def samples(text: str) -> Iterator[Any]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in dashboard["templating"]["list"]]
    return found


def metric_and_label_names(query: str) -> tuple[set[str], set[str]]:
    """The series names and label names a PromQL query (or ``label_values``) refers to."""
    labels: set[str] = set()
    for match in re.finditer(r"label_values\((\w+),\s*(\w+)\)", query):
        labels.add(match.group(2))
        query = query.replace(match.group(0), match.group(1))
    for matchers in re.findall(r"\{([^}]*)\}", query):
        labels.update(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", query):
        labels.update(name.strip() for name in grouping.split(","))
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)", " ", query)
    metrics = {w for w in re.findall(r"[a-zA-Z_:][\w:]*", stripped) if w not in PROMQL_WORDS and "_" in w}
    return metrics, labels - {"le"}


async def test_the_scrape_endpoint_serves_the_engines_metrics(docs_plugin: Any) -> None:
    text = await exported_metrics(docs_plugin)
    by_name = {s.name: s for s in samples(text)}
    assert by_name["target_info"].labels["service_name"] == "shop"
    runs = {
        s.labels["podium_run_status"]: s.value
        for s in samples(text)
        if s.name == "podium_workflow_runs_total"
    }
    assert runs == {status.value: 2.0 if status == "budget_exceeded" else 0.0 for status in podium.RunStatus}


async def test_every_metric_and_label_the_grafana_dashboard_queries_is_exported(docs_plugin: Any) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    text = await exported_metrics(docs_plugin)
    exported = {s.name for s in samples(text)}
    exported_labels = {label for s in samples(text) for label in s.labels}

    queried_metrics: set[str] = set()
    queried_labels: set[str] = set()
    for query in queries(dashboard):
        metrics, labels = metric_and_label_names(query)
        assert metrics, f"no metric found in {query!r}"
        queried_metrics |= metrics
        queried_labels |= labels

    assert queried_metrics - exported == set()
    assert queried_labels - exported_labels == set()
    # The dashboard covers what the seed asks to watch: runs, durations, tokens, cost, cache, alerts.
    for needed in (
        "podium_workflow_runs_total",
        "podium_workflow_duration_seconds_bucket",
        "podium_stage_duration_seconds_bucket",
        "podium_tokens_total",
        "podium_cost_USD_total",
        "podium_cache_hits_total",
        "podium_alerts_total",
    ):
        assert needed in queried_metrics


def test_the_query_parser_finds_metrics_and_labels() -> None:
    metrics, labels = metric_and_label_names(
        "histogram_quantile(0.95, sum by (le, podium_stage_name) "
        '(rate(podium_stage_duration_seconds_bucket{podium_workflow_name=~"$workflow"}[$__rate_interval])))'
    )
    assert metrics == {"podium_stage_duration_seconds_bucket"}
    assert labels == {"podium_stage_name", "podium_workflow_name"}
    assert metric_and_label_names("label_values(podium_workflow_runs_total, podium_workflow_name)") == (
        {"podium_workflow_runs_total"},
        {"podium_workflow_name"},
    )


def test_the_dashboard_is_an_importable_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    assert dashboard["uid"] == "podium-workflows"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
            assert target["expr"].strip()
