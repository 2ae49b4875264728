"""The run report: its record, the critical path, the timeline, the graph, and escaping."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from xml.dom import minidom

import pytest

import podium
from podium.cli.console import result_dict
from podium.definition.graph import EdgeKind, workflow_graph
from podium.report import RunReport, render_report
from podium.report.critical import critical_path
from podium.report.live import ReportRecorder
from podium.report.markup import Markup, tag
from podium.report.run_report import ReportVisit
from podium.report.timeline import render_timeline

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
HOSTILE = "<script>document.title='pwned'</script>"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def visit(
    name: str, start: float | None, end: float | None, status: str = "succeeded", visit: int = 1, **kw: object
) -> ReportVisit:
    duration = (end - start) if start is not None and end is not None else 0.0
    return ReportVisit(
        name,
        visit,
        status=status,
        started_at=at(start) if start is not None else None,
        finished_at=at(end) if end is not None else None,
        duration_s=duration,
        **kw,  # type: ignore[arg-type]
    )


def diamond() -> podium.Workflow:
    wf = podium.Workflow("diamond", strategy="parallel")

    @wf.stage
    async def spec() -> str:
        return "s"

    @wf.stage(needs=["spec"])
    async def slow(spec: str) -> str:
        return "a"

    @wf.stage(needs=["spec"])
    async def quick(spec: str) -> str:
        return "b"

    @wf.stage(needs=["slow", "quick"])
    async def merge(slow: str, quick: str) -> str:
        return "m"

    return wf


def loop_workflow() -> podium.Workflow:
    wf = podium.Workflow("review-loop", strategy="conditional")

    @wf.stage
    async def implement() -> str:
        return "draft"

    @wf.stage(needs=["implement"], max_visits=3, route=lambda ok: "ship" if ok else "fix")
    async def review(ctx: podium.Context, implement: str) -> bool:
        return ctx.latest("fix") == "fixed twice"

    @wf.stage(needs=["review"], route=lambda _: "review")
    async def fix(ctx: podium.Context, review: bool) -> str:
        return "fixed twice" if ctx.visit == 2 else "fixed once"

    @wf.stage(needs=["review"])
    async def ship(review: bool) -> str:
        return "shipped"

    return wf


# ------------------------------------------------------------------------- the graph


def test_the_graph_has_the_loop_back_edges_a_route_function_can_take() -> None:
    graph = workflow_graph(loop_workflow())
    loops = {(e.source, e.target) for e in graph.edges if e.kind is EdgeKind.LOOP}
    # fix's lambda can send the run back to review (max_visits=3), and review to itself.
    assert loops == {("fix", "review"), ("review", "review")}
    assert ("implement", "review", EdgeKind.NEEDS) in {(e.source, e.target, e.kind) for e in graph.edges}


def test_a_mapping_route_draws_only_the_loop_backs_it_names() -> None:
    wf = podium.Workflow("mapped", strategy="conditional")

    @wf.stage(max_visits=2)
    async def draft() -> str:
        return "d"

    @wf.stage(needs=["draft"], route={"again": "draft", "done": "publish"})
    async def check(draft: str) -> str:
        return "done"

    @wf.stage(needs=["check"])
    async def publish(check: str) -> str:
        return "p"

    loops = [(e.source, e.target) for e in workflow_graph(wf).edges if e.kind is EdgeKind.LOOP]
    assert loops == [("check", "draft")]


def test_a_graph_survives_its_json_form() -> None:
    graph = workflow_graph(loop_workflow())
    assert type(graph).from_json(json.loads(json.dumps(graph.to_json()))) == graph


# ------------------------------------------------------------------ the critical path


def test_the_critical_path_follows_the_longest_measured_chain() -> None:
    graph = workflow_graph(diamond())
    visits = (
        visit("spec", 0.0, 1.0),
        visit("quick", 1.0, 1.5),
        visit("slow", 1.0, 4.0),
        visit("merge", 4.0, 5.0),
    )
    path = critical_path(visits, graph)
    assert [visits[i].name for i in path] == ["spec", "slow", "merge"]


def test_the_critical_path_goes_through_a_loops_rounds() -> None:
    graph = workflow_graph(loop_workflow())
    visits = (
        visit("implement", 0.0, 1.0),
        visit("review", 1.0, 1.5, route=("fix",)),
        visit("ship", None, None, status="skipped"),
        visit("fix", 1.5, 3.0, route=("review",)),
        visit("review", 3.0, 3.5, visit=2, route=("ship",)),
        visit("fix", None, None, status="skipped", visit=2),
        visit("ship", 3.5, 3.6, visit=2),
    )
    labels = [visits[i].label for i in critical_path(visits, graph)]
    assert labels == ["implement", "review", "fix", "review #2", "ship #2"]


def test_a_run_where_nothing_ran_has_no_critical_path() -> None:
    assert critical_path((visit("spec", None, None, status="skipped"),), None) == []


# ------------------------------------------------------------------------ escaping


def test_markup_escapes_text_and_attribute_values() -> None:
    html = tag("div", {"data-tip": '"><script>x</script>'}, HOSTILE, Markup("<b>kept</b>"))
    assert "<script>" not in html.replace("<b>kept</b>", "")
    assert "&lt;script&gt;" in html and "&quot;&gt;" in html


def test_markup_refuses_an_attribute_name_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="not an attribute name"):
        tag("div", {'x" onload="alert(1)': 1})


async def test_a_hostile_value_error_and_workflow_name_stay_text_in_the_report(
    podium_engine: object,
) -> None:
    wf = podium.Workflow(f"evil {HOSTILE}", strategy="sequential")

    @wf.stage(description=HOSTILE)
    async def leak() -> str:
        return HOSTILE

    @wf.stage(needs=["leak"])
    async def boom(leak: str) -> str:
        raise RuntimeError(HOSTILE)

    recorder = ReportRecorder()
    async with podium_engine(plugins=(recorder,)) as engine:  # type: ignore[operator]
        result = await engine.run(wf)
    html = render_report(recorder.report(result.run_id))
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert all("pwned" not in script for script in scripts)  # only the page's own script
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in html


# ---------------------------------------------------------------------- the report


async def test_the_report_has_one_bar_per_visit_with_its_status(podium_engine: object) -> None:
    recorder = ReportRecorder()
    async with podium_engine(plugins=(recorder,)) as engine:  # type: ignore[operator]
        result = await engine.run(loop_workflow())
    html = render_report(recorder.report(result.run_id))
    bars = re.findall(
        r'<rect class="bar"[^>]*data-status="(\w+)" data-stage="(\w+)" data-visit="(\d+)"', html
    )
    expected = [(v.status.value, v.name, str(v.visit)) for v in result.history]
    assert sorted(bars) == sorted(expected)
    assert len(result.visits("review")) == 3


def test_the_report_is_self_contained() -> None:
    record = RunReport(
        run_id="r1",
        workflow="diamond",
        status="succeeded",
        started_at=T0,
        finished_at=at(5),
        duration_s=5.0,
        visits=(visit("spec", 0, 1), visit("slow", 1, 4), visit("quick", 1, 1.5), visit("merge", 4, 5)),
        graph=workflow_graph(diamond()),
    )
    html = render_report(record)
    # No reference to anything outside the page: no src/href, no url() but to the page's own ids.
    assert not re.search(r"\b(src|href)=", html)
    assert set(re.findall(r"url\(([^)]*)\)", html)) <= {"#hatch", "#arrow", "#graph-arrow"}
    assert "default-src &#x27;none&#x27;" in html  # and the page's policy forbids any


def test_the_report_shows_duration_against_the_strategys_slo() -> None:
    record = RunReport(
        run_id="r1", workflow="w", status="succeeded", started_at=T0, duration_s=16.0, strategy="parallel"
    )
    html = render_report(record)
    assert re.search(r'data-kpi="duration" data-ok="false"', html)  # parallel's target is 15 s
    assert "SLO &lt; 15.00 s (parallel)" in html


async def test_the_recorder_marks_retries_and_sums_usage_per_model(podium_engine: object) -> None:
    wf = podium.Workflow("flaky", strategy="sequential")
    attempts = []

    @wf.stage(retry=podium.Retry(attempts=3, delay=0.01, jitter=False))
    async def ask(ctx: podium.Context) -> str:
        attempts.append(1)
        await ctx.agent("big").complete("question")
        if len(attempts) < 3:
            raise RuntimeError(f"flaky {len(attempts)}")
        return (await ctx.agent("small").complete("summary")).text

    agents = {
        "big": podium.SimulatedAgent("a", model="claude-sonnet-4-5", input_tokens=1000, output_tokens=100),
        "small": podium.SimulatedAgent("b", model="claude-haiku-4-5", input_tokens=200, output_tokens=20),
    }
    recorder = ReportRecorder()
    async with podium_engine(plugins=(recorder,), agents=agents) as engine:  # type: ignore[operator]
        result = await engine.run(wf)
    record = recorder.report(result.run_id)
    (ask_visit,) = record.visits
    assert [mark.attempt for mark in ask_visit.retries] == [1, 2]
    assert ask_visit.retries[0].error == "RuntimeError: flaky 1"
    models = {m.model: m for m in record.models}
    assert models["claude-sonnet-4-5"].calls == 3 and models["claude-haiku-4-5"].calls == 1
    assert sum((m.usage for m in record.models), podium.Usage()) == result.usage
    assert html_count(render_report(record), 'class="retry-mark"') == 2


def html_count(html: str, fragment: str) -> int:
    return html.count(fragment)


async def test_a_live_record_shows_the_running_stage(podium_engine: object) -> None:
    wf = podium.Workflow("slow", strategy="sequential")
    started = asyncio.Event()
    release = asyncio.Event()

    @wf.stage
    async def first() -> str:
        return "1"

    @wf.stage(needs=["first"])
    async def second(first: str) -> str:
        started.set()
        await release.wait()
        return "2"

    recorder = ReportRecorder()
    async with podium_engine(plugins=(recorder,)) as engine:  # type: ignore[operator]
        handle = await engine.submit(wf)
        await started.wait()
        (run_id,) = recorder.run_ids()
        live = recorder.report(run_id)
        release.set()
        await handle
    assert live.running
    assert [(v.name, v.status) for v in live.visits] == [("first", "succeeded"), ("second", "running")]
    assert 'data-status="running"' in render_report(live)
    assert recorder.report(run_id).status == "succeeded"


def test_a_record_reads_the_json_podium_run_prints() -> None:
    result = podium.run_sync(diamond())
    record = RunReport.from_json(json.loads(json.dumps(result_dict(result))))
    assert [v.name for v in record.visits] == [v.name for v in result.history]
    assert record.usage == result.usage
    back = RunReport.from_json(json.loads(json.dumps(record.to_json())))
    assert back == record


def test_the_timeline_is_well_formed_svg() -> None:
    record = RunReport(
        run_id="r", workflow="w", status="failed", started_at=T0, duration_s=2.0,
        visits=(visit("a", 0, 1, error="E: <&>"), visit("b", None, None, status="skipped", reason="dependency 'a' failed")),
    )  # fmt: skip
    document = minidom.parseString(render_timeline(record))
    bars = document.getElementsByTagName("rect")
    assert [b.getAttribute("data-status") for b in bars if b.getAttribute("class") == "bar"] == [
        "succeeded",
        "skipped",
    ]


async def test_a_mapped_stage_has_a_bar_per_item_named_after_it(podium_engine: object) -> None:
    wf = podium.Workflow("reviews", strategy="parallel")

    @wf.stage
    async def files() -> dict[str, str]:
        return {"app.py": "x", "cli.py": "y"}

    @wf.stage(map="files")
    async def review(files: str) -> str:
        return files.upper()

    recorder = ReportRecorder()
    async with podium_engine(plugins=(recorder,)) as engine:  # type: ignore[operator]
        result = await engine.run(wf)
    report = recorder.report(result.run_id)
    assert sorted(v.label for v in report.visits) == ["files", "review[app.py]", "review[cli.py]"]
    assert not any(v.loop for v in report.visits)  # items are not rounds of a loop
    html = render_report(report)
    assert html.count('<rect class="bar"') == 3 and 'class="inner"' in html
