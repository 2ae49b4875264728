"""The run report rendered in headless Chromium: what a reader sees, checked in the DOM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.report import render_report
from podium.report.critical import critical_path
from podium.report.live import ReportRecorder
from podium.report.run_report import RunReport

HOSTILE = "<script>window.pwned = 1; document.title = 'pwned'</script><img src=x onerror='window.pwned=2'>"


def feature_workflow() -> podium.Workflow:
    wf = podium.Workflow(f"feature {HOSTILE}", strategy="conditional", budget=podium.Budget(tokens=50_000))
    tries: list[int] = []

    @wf.stage
    async def spec(ctx: podium.Context) -> str:
        await asyncio.sleep(0.05)
        return (await ctx.agent("planner").complete("spec")).text

    @wf.stage(needs=["spec"])
    async def backend(spec: str) -> str:
        await asyncio.sleep(0.15)
        return HOSTILE

    @wf.stage(needs=["spec"], retry=podium.Retry(attempts=2, delay=0.01, jitter=False))
    async def frontend(spec: str) -> str:
        tries.append(1)
        await asyncio.sleep(0.03)
        if len(tries) == 1:
            raise RuntimeError("flaky build")
        return "ui"

    @wf.stage(needs=["backend", "frontend"], max_visits=2, route=lambda ok: "ship" if ok else "fix")
    async def review(ctx: podium.Context, backend: str, frontend: str) -> bool:
        await asyncio.sleep(0.02)
        return ctx.latest("fix") is not None

    @wf.stage(needs=["review"], route=lambda _: "review")
    async def fix(review: bool) -> str:
        await asyncio.sleep(0.04)
        return "fixed"

    @wf.stage(needs=["review"])
    async def ship(review: bool) -> str:
        raise ValueError(HOSTILE)

    return wf


@pytest.fixture
async def report(podium_engine: Callable[..., podium.Engine], tmp_path: Path) -> tuple[RunReport, str]:
    recorder = ReportRecorder()
    planner = podium.SimulatedAgent("spec", model="claude-sonnet-4-5", input_tokens=1200, output_tokens=300)
    async with podium_engine(plugins=(recorder,), agents={"planner": planner}) as engine:
        result = await engine.run(feature_workflow())
    record = recorder.report(result.run_id)
    path = tmp_path / "report.html"
    path.write_text(render_report(record), encoding="utf-8")
    return record, path.as_uri()


def test_the_report_shows_one_bar_per_visit_with_its_status_and_the_critical_path(
    browser: Any, report: tuple[RunReport, str]
) -> None:
    record, url = report
    browser.open(url)
    bars = browser.css("svg.timeline rect.bar")
    seen = sorted(
        (b.get_attribute("data-stage"), int(b.get_attribute("data-visit")), b.get_attribute("data-status"))
        for b in bars
    )
    assert seen == sorted((v.name, v.visit, v.status) for v in record.visits)
    critical = {
        (b.get_attribute("data-stage"), int(b.get_attribute("data-visit")))
        for b in bars
        if b.get_attribute("data-critical") == "true"
    }
    expected = {
        (record.visits[i].name, record.visits[i].visit) for i in critical_path(record.visits, record.graph)
    }
    assert critical == expected and ("backend", 1) in critical  # backend is the slow branch
    # The critical path is visible, not only an attribute: its bars are outlined.
    outlined = browser.driver.execute_script(
        "return getComputedStyle(document.querySelector('.visit.critical .bar')).stroke"
    )
    assert outlined == "rgb(255, 111, 0)"
    browser.screenshot("report")


def test_the_report_makes_no_network_request(browser: Any, report: tuple[RunReport, str]) -> None:
    _, url = report
    requested = browser.open(url)
    assert requested == []
    assert browser.driver.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_a_hostile_stage_value_and_error_are_shown_as_text_and_never_run(
    browser: Any, report: tuple[RunReport, str]
) -> None:
    _, url = report
    browser.open(url)
    assert browser.driver.execute_script("return window.pwned === undefined")
    assert browser.driver.title.startswith(f"feature {HOSTILE}")  # the title is the text, not 'pwned'
    (error,) = [e for e in browser.css("#errors .error") if e.get_attribute("data-stage") == "ship"]
    assert HOSTILE in error.find_element("css selector", "pre").text
    assert HOSTILE in browser.css("h1")[0].text
    (value,) = [r for r in browser.css("#values tr") if r.get_attribute("data-stage") == "backend"]
    assert value.find_element("css selector", "code").text == HOSTILE  # a string is shown as itself
    assert browser.css("img") == []  # the <img> in the value stayed text too


def test_hovering_a_bar_shows_its_times_tokens_and_cost(browser: Any, report: tuple[RunReport, str]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _, url = report
    browser.open(url)
    (spec,) = [b for b in browser.css("svg.timeline rect.bar") if b.get_attribute("data-stage") == "spec"]
    ActionChains(browser.driver).move_to_element(spec).perform()
    tip = browser.css("#tip")[0]
    assert tip.is_displayed()
    assert "started +" in tip.text and "1,500 tokens" in tip.text and "$0.0081" in tip.text
    browser.screenshot("report-hover")


def test_retries_and_loop_visits_are_marked(browser: Any, report: tuple[RunReport, str]) -> None:
    _, url = report
    browser.open(url)
    frontend = [g for g in browser.css("svg.timeline g.visit") if "frontend" in g.get_attribute("data-tip")]
    assert len(frontend[0].find_elements("css selector", ".retry-mark")) == 1
    loops = browser.css("svg.timeline g.visit.loop")
    assert {g.find_element("css selector", "rect").get_attribute("data-stage") for g in loops} >= {"review"}
    taken = {
        (e.get_attribute("data-source"), e.get_attribute("data-target"))
        for e in browser.css("svg.graph g.edge.loop.taken")
    }
    assert taken == {("fix", "review")}
