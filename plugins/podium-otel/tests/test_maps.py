"""A mapped stage in a trace: one stage span holding a span per item, calls under their item."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import StatusCode

import podium
from podium import Retry, SimulatedAgent

#: The strategy conftest registers: every ready stage starts at once.
FANOUT = "otel-test-fanout"
MODEL = "claude-haiku-4-5"


def review_files(**review: Any) -> podium.Workflow:
    wf = podium.Workflow("review-files", strategy=FANOUT)

    @wf.stage
    async def files() -> dict[str, str]:
        return {"a.py": "print(1)", "b.py": "", "c.py": "print(3)"}

    @wf.stage(map="files", **review)
    async def review_file(ctx: podium.Context, files: str) -> str:
        if not files:
            raise ValueError("empty file")
        return (await ctx.agent("reviewer").complete(files)).text

    @wf.stage(map="review_file")
    async def fix(review_file: str) -> str:
        return review_file

    return wf


def reviewer() -> dict[str, podium.Agent]:
    return {"reviewer": SimulatedAgent("fine", model=MODEL, input_tokens=30, output_tokens=5)}


async def test_a_mapped_stage_is_one_span_with_a_span_per_item_and_calls_under_their_item(
    telemetry: Any, make_engine: Any
) -> None:
    async with make_engine(agents=reviewer()) as engine:
        await engine.run(review_files(partial=True))

    root = telemetry.span("workflow review-files")
    chat = ("chat " + MODEL, [])
    assert telemetry.tree(root) == (
        "workflow review-files",
        [
            ("stage files", []),
            ("stage fix", [("item fix", []), ("item fix", []), ("item fix", [])]),
            (
                "stage review_file",
                sorted([("item review_file", []), *[("item review_file", [chat])] * 2], key=repr),
            ),
        ],
    )
    items = {s.attributes["podium.stage.item"]: s for s in telemetry.spans() if s.name == "item review_file"}
    assert set(items) == {"a.py", "b.py", "c.py"}
    assert items["b.py"].status.status_code is StatusCode.ERROR
    assert items["b.py"].attributes["error.type"] == "ValueError"
    assert items["a.py"].attributes["podium.stage.status"] == "succeeded"
    assert items["a.py"].attributes["podium.usage.input_tokens"] == 30
    stage = telemetry.span("stage review_file")
    assert stage.attributes["podium.stage.items"] == 3 and stage.attributes["podium.stage.failed_items"] == 1
    assert stage.attributes["podium.usage.input_tokens"] == 60
    assert stage.status.status_code is StatusCode.UNSET  # partial: it succeeded
    assert all(
        stage.start_time <= item.start_time and item.end_time <= stage.end_time for item in items.values()
    )
    fixes = {s.attributes["podium.stage.item"]: s for s in telemetry.spans() if s.name == "item fix"}
    assert (
        fixes["b.py"].attributes["podium.stage.skip_reason"]
        == "dependency 'review_file' failed on item ['b.py']"
    )


async def test_each_item_is_a_run_in_the_metrics_and_the_gathered_stage_is_not(
    telemetry: Any, make_engine: Any
) -> None:
    async with make_engine(agents=reviewer()) as engine:
        await engine.run(review_files())

    runs = telemetry.value
    assert (
        runs("podium.stage.runs", podium__stage__name="review_file", podium__stage__status="succeeded") == 2
    )
    assert runs("podium.stage.runs", podium__stage__name="review_file", podium__stage__status="failed") == 1
    assert telemetry.count("podium.stage.duration", podium__stage__name="review_file") == 3
    stage = telemetry.span("stage review_file")
    assert stage.status.status_code is StatusCode.ERROR  # without partial, a failed item fails it
    assert "1 of 3 items of stage 'review_file' did not succeed" in (stage.status.description or "")


async def test_an_items_retry_is_an_event_on_its_own_span(telemetry: Any, make_engine: Any) -> None:
    wf = podium.Workflow("retry-items", strategy=FANOUT)
    attempts: dict[int, int] = {}

    @wf.stage
    async def files() -> list[int]:
        return [1, 2]

    @wf.stage(map="files", retry=Retry(attempts=2, delay=0, jitter=False))
    async def flaky(files: int) -> int:
        attempts[files] = attempts.get(files, 0) + 1
        if files == 2 and attempts[files] == 1:
            raise ConnectionError("blip")
        return files

    async with make_engine() as engine:
        await engine.run(wf)
    spans = {s.attributes["podium.stage.item"]: s for s in telemetry.spans() if s.name == "item flaky"}
    assert [e.name for e in spans[0].events] == []
    (retry,) = spans[1].events
    assert retry.name == "retry" and retry.attributes["exception.type"] == "ConnectionError"
    assert [e.name for e in telemetry.span("stage flaky").events] == []
