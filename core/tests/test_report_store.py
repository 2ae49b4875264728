"""Reports and the dashboard over a real run store (SQLite): ``podium report``, ``podium ui``."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import podium
from podium.cli.main import main
from podium.cli.store import open_store

try:
    import starlette  # noqa: F401
except ImportError:  # locally a skip with the reason; under CI (which installs the extra) a failure
    if os.environ.get("CI"):
        raise
    pytest.skip("the dashboard needs the ui extra: pip install 'podium[ui]'", allow_module_level=True)

import httpx

from podium.report.stored import graph_from_fingerprint
from podium.ui.app import create_app
from podium.ui.server import BackgroundServer
from podium.ui.store_source import StoreSource

HOSTILE = "<script>window.pwned=1</script>"


def loop_workflow(name: str = "review-loop") -> podium.Workflow:
    wf = podium.Workflow(name, strategy="conditional", budget=podium.Budget(tokens=100_000))

    @wf.stage
    async def implement(ctx: podium.Context) -> str:
        return (await ctx.agent("coder").complete("write")).text

    @wf.stage(needs=["implement"], max_visits=3, route=lambda ok: "ship" if ok else "fix")
    async def review(ctx: podium.Context, implement: str) -> bool:
        return ctx.latest("fix") == "fixed twice"

    @wf.stage(needs=["review"], route=lambda _: "review")
    async def fix(ctx: podium.Context, review: bool) -> str:
        return "fixed twice" if ctx.visit == 2 else "fixed once"

    @wf.stage(needs=["review"])
    async def ship(review: bool) -> str:
        raise RuntimeError(HOSTILE)

    return wf


AGENTS = {
    "coder": podium.SimulatedAgent("code", model="claude-sonnet-4-5", input_tokens=900, output_tokens=300)
}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.sqlite3'}"


async def record_runs(store_url: str, *workflows: podium.Workflow) -> list[podium.RunResult]:
    async with podium.Engine(store=store_url, agents=AGENTS, cache_url=False) as engine:
        return [await engine.run(wf) for wf in workflows]


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_podium_report_draws_the_latest_stored_run_with_its_graph_and_models(
    store_url: str, tmp_path: Path
) -> None:
    (result,) = await record_runs(store_url, loop_workflow())
    out = tmp_path / "report.html"
    code, _, err = await asyncio.to_thread(cli, "report", "--store", store_url, "--html", str(out))
    assert code == 0, err
    html = out.read_text()
    bars = re.findall(
        r'<rect class="bar"[^>]*data-status="(\w+)" data-stage="(\w+)" data-visit="(\d+)"', html
    )
    assert sorted(bars) == sorted((v.status.value, v.name, str(v.visit)) for v in result.history)
    assert re.search(r'class="edge loop taken" data-source="fix" data-target="review"', html)
    assert 'data-model="claude-sonnet-4-5"' in html
    assert "RuntimeError: &lt;script&gt;" in html and HOSTILE not in html


async def test_podium_report_takes_a_run_id_prefix(store_url: str, tmp_path: Path) -> None:
    first, _ = await record_runs(store_url, loop_workflow("first"), loop_workflow("second"))
    out = tmp_path / "first.html"
    code, _, err = await asyncio.to_thread(
        cli, "report", first.run_id[:8], "--store", store_url, "--html", str(out)
    )
    assert code == 0, err
    assert "<title>first · run " in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nope"], "no run 'nope'"),
        (["report"], "no runs recorded in"),
    ],
)
def test_podium_report_of_nothing_exits_2_saying_so(
    store_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = cli(*args, "--store", store_url, "--html", str(tmp_path / "r.html"))
    assert code == 2
    assert message in err and "Traceback" not in err


def test_podium_report_refuses_a_path_it_cannot_write_before_reading(store_url: str, tmp_path: Path) -> None:
    code, _, err = cli("report", "--store", store_url, "--html", str(tmp_path / "no" / "r.html"))
    assert code == 2 and "no such directory" in err


def test_a_stored_fingerprint_gives_back_the_graph(store_url: str) -> None:
    fingerprint = {
        "stages": {
            "draft": {"needs": [], "needs_any": [], "route": None, "max_visits": 2},
            "check": {
                "needs": ["draft"],
                "needs_any": [],
                "route": {"map": {"again": "draft", "ok": ["publish"]}},
            },
            "publish": {"needs": ["check"], "needs_any": [], "route": None, "max_visits": 1},
        }
    }
    graph = graph_from_fingerprint("w", fingerprint)
    assert graph is not None
    assert {(e.source, e.target, e.kind.value) for e in graph.edges} == {
        ("draft", "check", "needs"),
        ("check", "publish", "needs"),
        ("check", "draft", "loop"),
    }


def store_source(store_url: str) -> StoreSource:
    return StoreSource(open_store(podium.Config(), store_url))


@pytest.fixture
def dashboard(store_url: str) -> Iterator[str]:
    """The dashboard over the store, served by uvicorn on a free port of 127.0.0.1."""
    source = store_source(store_url)
    with BackgroundServer(create_app(source, opened=source.opened)) as server:
        yield server.url


async def test_the_dashboard_lists_and_filters_stored_runs(store_url: str, dashboard: str) -> None:
    ok = podium.Workflow("tidy", strategy="sequential")
    ok.add_stage(lambda: "done", name="only", version="1")
    failed, _ = await record_runs(store_url, loop_workflow(), ok)
    async with httpx.AsyncClient(base_url=dashboard) as client:
        everything = (await client.get("/api/runs")).json()["runs"]
        only_failed = (await client.get("/api/runs", params={"status": "failed"})).json()["runs"]
        page = await client.get(f"/runs/{failed.run_id}")
        kpis = await client.get("/kpis")
    assert {r["workflow"] for r in everything} == {"review-loop", "tidy"}
    assert [r["run_id"] for r in only_failed] == [failed.run_id]
    assert page.status_code == 200 and page.text.count('<rect class="bar"') == len(failed.history)
    assert kpis.text.count('<svg class="chart"') == 5


async def test_a_stored_running_run_updates_live_in_the_browser(
    browser: Any, store_url: str, dashboard: str
) -> None:
    wf = podium.Workflow("live", strategy="sequential")
    started, release = asyncio.Event(), asyncio.Event()

    @wf.stage
    async def first() -> str:
        return "1"

    @wf.stage(needs=["first"])
    async def slow(first: str) -> str:
        started.set()
        await release.wait()
        return "2"

    def statuses() -> dict[str, str]:
        return {
            b.get_attribute("data-stage"): b.get_attribute("data-status")
            for b in browser.css("svg.timeline rect.bar")
        }

    async with podium.Engine(store=store_url, cache_url=False) as engine:
        handle = await engine.submit(wf)
        await started.wait()
        await asyncio.sleep(0.2)  # the first visit is committed before its dependent starts
        await asyncio.to_thread(browser.open, f"{dashboard}/runs/{handle.run.id}")
        assert statuses() == {"first": "succeeded"}
        assert browser.css("#live")[0].get_attribute("data-running") == "true"
        release.set()
        await handle
    live = browser.css("#live")[0]
    await asyncio.to_thread(browser.wait_until, lambda: live.get_attribute("data-running") == "false")
    assert statuses() == {"first": "succeeded", "slow": "succeeded"}
    await asyncio.to_thread(browser.screenshot, "dashboard-store-live")


def test_podium_ui_serves_the_store_until_stopped(store_url: str, podium_ui: Callable[..., Any]) -> None:
    (result,) = asyncio.run(record_runs(store_url, loop_workflow()))
    server = podium_ui("--store", store_url)
    page = server.get("/")
    assert page.status_code == 200
    assert f'data-run="{result.run_id}"' in page.text
    assert httpx.post(server.url + "/").status_code == 405  # read-only
    assert f"Podium dashboard on {server.url}" in server.stop()


def test_podium_ui_on_a_port_in_use_exits_2(store_url: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        code, _, err = cli("ui", "--port", str(port), "--store", store_url)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_podium_ui_on_a_store_it_cannot_open_exits_2_before_serving(tmp_path: Path, unused_port: int) -> None:
    (tmp_path / "runs.sqlite3").mkdir()
    code, _, err = cli("ui", "--port", str(unused_port), "--store", f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    assert code == 2 and "is a directory; point store at a file" in err
    assert "Podium dashboard on" not in err and "Traceback" not in err


def test_podium_ui_without_the_extra_says_what_to_install(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "podium.ui.app", None)  # as if starlette were not installed
    code, _, err = cli("ui", "--store", store_url)
    assert code == 2 and "pip install 'podium[ui]'" in err and "Traceback" not in err
