"""The cost table: per component from recorded runs, projected to N a month, with Podium's savings."""

from __future__ import annotations

import pytest

import podium
from podium.values.costs import CostSettings, cost_report


def run(run_id: str, cost: float, saved: float, made: int, avoided: int) -> podium.RunRecord:
    return podium.RunRecord(
        run_id=run_id,
        workflow="feature",
        status="succeeded",
        started_at=0.0,
        usage=podium.Usage(1000, 100, cost_usd=cost),
        saved=podium.Usage(500, 50, cost_usd=saved),
        docs=podium.DocCounters(requests_made=made, requests_avoided=avoided),
    )


def call(run_id: str, model: str, cost: float) -> podium.AgentCallRecord:
    return podium.AgentCallRecord(
        run_id=run_id, agent="a", provider="p", model=model, started_at=0.0, usage=podium.Usage(cost_usd=cost)
    )


RUNS = [run("r1", 1.0, 0.5, 2, 8), run("r2", 3.0, 1.5, 0, 10)]
CALLS = [
    call("r1", "claude-sonnet-4-5", 0.8),
    call("r1", "claude-haiku-4-5", 0.2),
    call("r2", "claude-sonnet-4-5", 3.0),
]
SETTINGS = CostSettings(doc_request_usd=0.01, infrastructure_monthly_usd=300.0, monthly_workflows=1000)


def rows(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {row["component"]: row for row in report["components"]}  # type: ignore[attr-defined,index]


def test_agent_calls_are_costed_by_model_and_their_caching_savings_measured() -> None:
    report = cost_report(RUNS, CALLS, SETTINGS)
    by = rows(report)
    assert by["agent calls (claude-sonnet-4-5)"]["monthly_usd"] == pytest.approx(1900.0)
    assert by["agent calls (claude-haiku-4-5)"]["monthly_usd"] == pytest.approx(100.0)
    total = by["agent calls, total"]
    assert (total["monthly_usd"], total["without_podium_monthly_usd"]) == (
        pytest.approx(2000.0),
        pytest.approx(3000.0),
    )
    assert total["saving"] == pytest.approx(1 / 3)
    assert total["how"] == "caching saved 1,100 tokens"


def test_doc_requests_are_priced_as_configured_with_what_batching_and_caching_avoided() -> None:
    docs = rows(cost_report(RUNS, CALLS, SETTINGS))["documentation requests"]
    assert (docs["monthly_usd"], docs["without_podium_monthly_usd"]) == (
        pytest.approx(10.0),
        pytest.approx(100.0),
    )
    assert docs["saving"] == pytest.approx(0.9)
    assert docs["how"] == "batching and caching avoided 18 of 20 requests"


def test_the_total_projects_to_n_workflows_a_month_with_infrastructure_as_configured() -> None:
    report = cost_report(RUNS, CALLS, SETTINGS, monthly=2000)
    assert report["monthly_workflows"] == 2000
    assert rows(report)["infrastructure"]["monthly_usd"] == 300.0
    assert report["total"] == {
        "monthly_usd": pytest.approx(4000 + 20 + 300),
        "without_podium_monthly_usd": pytest.approx(6000 + 200 + 300),
        "saved_monthly_usd": pytest.approx(2180.0),
        "saving": pytest.approx(2180 / 6500),
    }
    assert report["measured"]["doc_requests_avoided"] == 18


def test_unpriced_components_say_what_to_configure() -> None:
    report = cost_report(RUNS, CALLS, CostSettings())
    assert "no price configured: cost.doc_request_usd" in rows(report)["documentation requests"]["how"]
    assert "none configured: cost.infrastructure_monthly_usd" in rows(report)["infrastructure"]["how"]


def test_usage_recorded_without_an_agent_is_its_own_component() -> None:
    report = cost_report([run("r1", 1.5, 0.0, 0, 0)], [call("r1", "m", 1.0)], SETTINGS)
    assert rows(report)["other recorded usage"]["per_run_usd"] == pytest.approx(0.5)


def test_no_runs_leaves_only_the_configured_infrastructure() -> None:
    report = cost_report([], [], SETTINGS)
    assert [row["component"] for row in report["components"]] == ["infrastructure"]
    assert report["total"]["monthly_usd"] == 300.0


def test_bad_cost_settings_are_errors_at_their_key() -> None:
    with pytest.raises(podium.ConfigError, match=r"doc_request_usd must be >= 0"):
        podium.Config({"cost": {"doc_request_usd": -1}})
