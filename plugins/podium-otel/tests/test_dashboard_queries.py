"""The Grafana dashboard's queries, evaluated over two scrapes of the real Prometheus endpoint.

How: an engine with podium-otel's ``prometheus`` exporter runs a first batch of runs and
the endpoint is scraped; a second batch runs (raising alerts, failing agent calls,
hitting the cache) and it is scraped again. Every panel's query is then evaluated over
the two scrapes with :mod:`promql` (which does what Prometheus's engine does, see its
docstring) and compared with what the second batch did. A series that appeared only in
the second scrape counts for nothing, as in Prometheus: so these tests fail when a
counter is not published from 0.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import podium
from podium import CachePolicy, Retry, SimulatedAgent
from podium_otel import plugin_for

from .promql import Sample, Scrape, evaluate

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana" / "podium-dashboard.json"
ALL = {"workflow": ".*"}


def shop() -> podium.Workflow:
    wf = podium.Workflow("shop", strategy="sequential")

    @wf.stage(cache=CachePolicy(), version="1")
    async def research(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete("research")).text

    @wf.stage(needs=["research"], retry=Retry(attempts=2, delay=0, jitter=False))
    async def draft(ctx: podium.Context, research: str) -> str:
        await ctx.docs(["fastapi", "pytest"], query="testing", tokens=1000)
        return (await ctx.agent("flaky").complete("draft")).text

    @wf.stage(needs=["draft"])
    async def publish(ctx: podium.Context, draft: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return (await ctx.agent("writer").complete("publish")).text

    return wf


def scrape(address: tuple[str, int]) -> Scrape:
    host, port = address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = [
        Sample(s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]
    return Scrape(time.time(), samples)


async def two_scrapes(docs_plugin: Any) -> tuple[Scrape, Scrape]:
    """Batch 1: one quiet run. Batch 2: three runs, the middle one failing (both of its flaky
    calls fail), the other two slower than the duration threshold (an alert each)."""
    config = podium.Config(
        {
            "alerts": {"workflow_duration": "50ms", "cooldown": 0},
            "plugins": {"otel": {"exporter": "prometheus", "prometheus_port": 0}},
        }
    )
    agents = {
        "writer": SimulatedAgent("notes", input_tokens=200, output_tokens=50),
        "flaky": SimulatedAgent("text", fail_on=[3, 4], input_tokens=100, output_tokens=10),
    }
    async with podium.Engine(
        config=config, agents=agents, plugins=[docs_plugin], cache_url="memory://"
    ) as engine:
        plugin = plugin_for(engine)
        assert plugin is not None and plugin.scrape_address is not None
        await engine.run(shop(), {"delay": 0})
        first = await asyncio.to_thread(scrape, plugin.scrape_address)
        await asyncio.sleep(0.05)
        for delay in (0.06, 0.0, 0.06):
            await engine.run(shop(), {"delay": delay})
        second = await asyncio.to_thread(scrape, plugin.scrape_address)
    return first, second


@pytest.fixture(scope="module")
def scrapes() -> tuple[Scrape, Scrape]:
    from .conftest import DocsPlugin

    return asyncio.run(two_scrapes(DocsPlugin()))


def panel_queries() -> dict[str, list[str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {p["title"]: [t["expr"] for t in p["targets"]] for p in dashboard["panels"] if p.get("targets")}


def only(value: Any) -> float:
    assert isinstance(value, dict) and len(value) == 1, value
    return float(next(iter(value.values())))


def by(value: Any, label: str) -> dict[str, float]:
    assert isinstance(value, dict)
    return {dict(labels)[label]: v for labels, v in value.items()}


def query(title: str, scrapes: tuple[Scrape, Scrape], n: int = 0, variables: dict[str, str] = ALL) -> Any:
    return evaluate(panel_queries()[title][n], *scrapes, variables=variables)


def test_alerts_raised_between_two_scrapes_are_counted(scrapes: tuple[Scrape, Scrape]) -> None:
    # The alert series was born at 0 in the first scrape (the workflow had run, quietly).
    assert only(query("Alerts in range", scrapes)) == 2.0
    by_name = query("Alerts by name", scrapes)
    assert by(by_name, "podium_alert_name")["workflow_duration"] == 2.0


def test_agent_failure_rate_includes_agents_that_never_failed(scrapes: tuple[Scrape, Scrape]) -> None:
    rates = by(query("Agent failure rate", scrapes), "podium_agent_name")
    assert rates == {"flaky": 2 / 4, "writer": 0.0}


def test_success_rate_and_runs_by_status(scrapes: tuple[Scrape, Scrape]) -> None:
    assert only(query("Success rate", scrapes)) == pytest.approx(2 / 3)
    runs = query("Runs by status", scrapes)
    per_status = {dict(labels)["podium_run_status"]: v for labels, v in runs.items()}
    interval = scrapes[1].at - scrapes[0].at
    assert per_status["failed"] * interval == pytest.approx(1.0)
    assert per_status["succeeded"] * interval == pytest.approx(2.0)


def test_cache_hit_rate_counts_the_stage_cache(scrapes: tuple[Scrape, Scrape]) -> None:
    # Batch 2's three research visits all hit the entry batch 1 stored.
    assert only(query("Cache hit rate", scrapes)) == 1.0
    assert by(query("Cache hit rate by kind", scrapes), "podium_cache_kind")["stage"] == 1.0


def test_cost_and_tokens_move_with_the_calls_made(scrapes: tuple[Scrape, Scrape]) -> None:
    cost = only(query("Cost in range", scrapes))
    # writer: 2 publish calls (200 in, 50 out); flaky: 2 answered drafts (100 in, 10 out); sonnet prices.
    expected = (2 * (200 * 3 + 50 * 15) + 2 * (100 * 3 + 10 * 15)) / 1_000_000
    assert cost == pytest.approx(expected)
    assert only(query("Saved by caching", scrapes)) == pytest.approx(3 * (200 * 3 + 50 * 15) / 1_000_000)
    tokens = query("Tokens by model and type", scrapes)
    per_type = by(tokens, "gen_ai_token_type")
    interval = scrapes[1].at - scrapes[0].at
    assert per_type["input"] * interval == pytest.approx(2 * 200 + 2 * 100)


def test_duration_quantiles_land_in_the_bucket_of_what_ran(scrapes: tuple[Scrape, Scrape]) -> None:
    p95 = only(query("Workflow duration p50 / p95", scrapes, n=1))
    assert 0.05 <= p95 <= 0.1  # the two slow runs took 0.06 s and more: the (0.05, 0.1] bucket
    stage_p95 = by(query("Stage duration p95", scrapes), "podium_stage_name")
    assert 0.05 <= stage_p95["publish"] <= 0.1


def test_every_panel_query_evaluates_and_charts_something(scrapes: tuple[Scrape, Scrape]) -> None:
    for title, queries in panel_queries().items():
        for text in queries:
            value = evaluate(text, *scrapes, variables=ALL)
            assert isinstance(value, dict) and value, f"{title}: {text} is empty"
            assert any(not math.isnan(v) for v in value.values()), f"{title}: {text} is NaN"


def test_the_workflow_variable_filters_every_query(scrapes: tuple[Scrape, Scrape]) -> None:
    assert query("Success rate", scrapes, variables={"workflow": "other"}) == {}
    assert only(query("Success rate", scrapes, variables={"workflow": "shop"})) == pytest.approx(2 / 3)


# ------------------------------------------------------------------ the evaluator itself


def counter(at: float, **series: float) -> Scrape:
    return Scrape(at, [Sample("c_total", {"k": k}, v) for k, v in series.items()])


def test_a_series_seen_in_one_scrape_only_has_no_increase_as_in_prometheus() -> None:
    before, now = counter(0, a=1), counter(10, a=4, b=1)
    assert evaluate("increase(c_total[5m])", before, now) == {(("k", "a"),): 3.0}
    assert evaluate("sum(rate(c_total[5m]))", before, now) == {(): 0.3}


def test_a_counter_reset_counts_the_new_value_whole() -> None:
    assert evaluate("increase(c_total[5m])", counter(0, a=10), counter(1, a=3)) == {(("k", "a"),): 3.0}


def test_histogram_quantile_interpolates_inside_the_bucket_holding_the_rank() -> None:
    def buckets(at: float, counts: dict[str, float]) -> Scrape:
        return Scrape(at, [Sample("h_bucket", {"le": le}, v) for le, v in counts.items()])

    before = buckets(0, {"0.1": 0, "0.5": 0, "1": 0, "+Inf": 0})
    now = buckets(1, {"0.1": 2, "0.5": 6, "1": 10, "+Inf": 10})
    # rank 5 of 10 is the 3rd of the 4 observations in (0.1, 0.5]: 0.1 + 0.4 * 3/4
    assert only(
        evaluate("histogram_quantile(0.5, sum by (le) (rate(h_bucket[1m])))", before, now)
    ) == pytest.approx(0.4)
    overflow = buckets(1, {"0.1": 0, "0.5": 0, "1": 0, "+Inf": 4})
    assert (
        only(evaluate("histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))", before, overflow)) == 1.0
    )


def test_division_by_zero_is_nan_or_infinity() -> None:
    before, now = counter(0, a=0, b=0), counter(1, a=0, b=2)
    ratio = evaluate('sum(rate(c_total{k="b"}[1m])) / sum(rate(c_total{k="a"}[1m]))', before, now)
    assert only(ratio) == math.inf
    assert math.isnan(
        only(evaluate('sum(rate(c_total{k="a"}[1m])) / sum(rate(c_total{k="a"}[1m]))', before, now))
    )
