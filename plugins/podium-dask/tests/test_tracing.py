"""Trace context crosses into the workers: a span a stage body starts there is a child of
its stage span (real OpenTelemetry SDK, in-memory exporters on both sides)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from distributed import Client, LocalCluster
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import podium
from podium_otel import OtelPlugin

#: In a thread cluster the workers share this process: the body finds the test's provider
#: here. In worker processes it is absent, and the body uses the worker's global provider.
IN_PROCESS = "podium_dask_test_in_process_tracing"


@pytest.fixture
def driver_spans() -> tuple[OtelPlugin, InMemorySpanExporter, TracerProvider]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelPlugin(tracer_provider=provider), exporter, provider


def traced_workflow() -> podium.Workflow:
    wf = podium.Workflow("traced", strategy="parallel")

    @wf.stage(executor="dask")
    def parse(text: str) -> int:
        in_process = sys.modules.get(IN_PROCESS)
        provider = in_process.provider if in_process else trace.get_tracer_provider()
        with provider.get_tracer("user-code").start_as_current_span("tokenize"):
            return len(text.split())

    @wf.stage(executor="dask", needs=["parse"])
    async def score(parse: int) -> int:
        in_process = sys.modules.get(IN_PROCESS)
        provider = in_process.provider if in_process else trace.get_tracer_provider()
        with provider.get_tracer("user-code").start_as_current_span("rank"):
            return parse * 10

    return wf


def _ids(span: Any) -> tuple[int, int, int | None]:
    return span.context.trace_id, span.context.span_id, span.parent.span_id if span.parent else None


async def test_a_span_started_in_a_body_on_a_worker_thread_is_a_child_of_its_stage_span(
    podium_engine: Callable[..., podium.Engine],
    driver_spans: tuple[OtelPlugin, InMemorySpanExporter, TracerProvider],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin, exporter, provider = driver_spans
    module = types.ModuleType(IN_PROCESS)
    module.provider = provider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, IN_PROCESS, module)
    config = podium.Config({"plugins": {"dask": {"processes": False, "workers": 2}}})
    async with podium_engine(config=config, plugins=(plugin,)) as engine:
        result = await engine.run(traced_workflow(), {"text": "a b c"})
    assert result["score"].value == 30
    spans = {span.name: span for span in exporter.get_finished_spans()}
    for stage, inner in (("parse", "tokenize"), ("score", "rank")):
        stage_trace, stage_id, _ = _ids(spans[f"stage {stage}"])
        inner_trace, _, inner_parent = _ids(spans[inner])
        assert (inner_trace, inner_parent) == (stage_trace, stage_id)


async def test_a_span_started_in_a_body_in_a_worker_process_is_a_child_of_its_stage_span(
    podium_engine: Callable[..., podium.Engine],
    driver_spans: tuple[OtelPlugin, InMemorySpanExporter, TracerProvider],
    process_cluster: LocalCluster,
) -> None:
    plugin, exporter, _ = driver_spans  # the workers are other processes: they export their own spans
    config = podium.Config({"plugins": {"dask": {"address": process_cluster.scheduler_address}}})
    async with podium_engine(config=config, plugins=(plugin,)) as engine:
        result = await engine.run(traced_workflow(), {"text": "a b c d"})
    assert result["score"].value == 40
    stages = {span.name: span for span in exporter.get_finished_spans()}

    def worker_spans() -> list[tuple[str, int, int, int | None]]:
        # Runs on every worker (client.run): what its preloaded exporter holds.
        exported = sys.modules["podium_dask_worker_tracing"].EXPORTER.get_finished_spans()
        return [
            (s.name, s.context.trace_id, s.context.span_id, s.parent.span_id if s.parent else None)
            for s in exported
        ]

    async with Client(process_cluster.scheduler_address, asynchronous=True) as client:
        per_worker = await client.run(worker_spans)
    remote = {
        name: (trace_id, parent)
        for spans in per_worker.values()
        for name, trace_id, _, parent in spans
        if trace_id == stages["stage parse"].context.trace_id
    }
    for stage, inner in (("parse", "tokenize"), ("score", "rank")):
        stage_trace, stage_id, _ = _ids(stages[f"stage {stage}"])
        assert remote[inner] == (stage_trace, stage_id)
