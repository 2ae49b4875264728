"""Fixtures: real OpenTelemetry SDK providers with in-memory exporters, and engines using them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import podium
from podium import DocBundle, DocFailure, Document, hookimpl
from podium_conditional import ConditionalStrategy
from podium_otel import OtelPlugin, OtelSettings

#: A strategy name of the tests' own, so the real ``parallel`` plugin can be installed beside them.
FANOUT = "otel-test-fanout"


class FanOutStrategy(ConditionalStrategy):
    """Every ready stage starts at once (``max_concurrency`` None); routes and loops are honoured."""

    name = FANOUT


class FanOutPlugin:
    @hookimpl
    def podium_register_strategies(self, register: Callable[[podium.Strategy], None]) -> None:
        register(FanOutStrategy())


class DocsPlugin:
    """A documentation provider in process: one document per library, ``missing`` fails."""

    @hookimpl
    def podium_fetch_docs(
        self, libraries: list[str], query: str, tokens: int | None, ctx: podium.Context
    ) -> Any:
        async def fetch() -> DocBundle:
            await asyncio.sleep(0.001)
            return DocBundle(
                documents=tuple(
                    Document(lib, f"/docs/{lib}", f"{lib} docs", 120) for lib in libraries if lib != "missing"
                ),
                failures=tuple(
                    DocFailure(lib, "library not found", 404) for lib in libraries if lib == "missing"
                ),
                query=query,
                budget=tokens,
                requests_made=1,
                requests_avoided=len(libraries) - 1,
                tokens_cut=30,
            )

        return fetch()


class Telemetry:
    """The spans and metrics the tests' providers received."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def plugin(self, **settings: Any) -> OtelPlugin:
        return OtelPlugin(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            settings=OtelSettings(**settings) if settings else None,
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        return [
            s for s in self.spans() if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]

    def parent_name(self, span: ReadableSpan) -> str | None:
        """The name of the span's parent among the recorded spans (None for a root)."""
        if span.parent is None:
            return None
        (parent,) = [s for s in self.spans() if s.context.span_id == span.parent.span_id]
        return parent.name

    def tree(self, root: ReadableSpan) -> tuple[str, list[Any]]:
        """``(name, sorted children trees)``: the shape of a trace, independent of timing."""
        return (root.name, sorted((self.tree(child) for child in self.children(root)), key=repr))

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for m in scope_metrics.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found

    def value(self, metric: str, **attributes: Any) -> float:
        """The sum (counters) or total (histograms) of the points whose attributes include these."""
        total = 0.0
        for point in self.points(metric):
            if all(point.attributes.get(key.replace("__", ".")) == v for key, v in attributes.items()):
                total += point.sum if hasattr(point, "bucket_counts") else point.value
        return total

    def count(self, metric: str, **attributes: Any) -> int:
        """How many values a histogram recorded for points with these attributes."""
        return sum(
            point.count
            for point in self.points(metric)
            if all(point.attributes.get(key.replace("__", ".")) == v for key, v in attributes.items())
        )


@pytest.fixture(autouse=True)
def only_the_plugins_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines load podium-sequential and podium-otel only, whatever else is installed beside them."""
    monkeypatch.setenv("PODIUM_LOAD_PLUGINS", "sequential,otel")


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def make_engine(
    telemetry: Telemetry,
) -> Callable[..., Any]:
    """``async with make_engine(...) as engine``: an engine with the test providers and strategy."""

    @asynccontextmanager
    async def make(
        *,
        plugin: OtelPlugin | None = None,
        agents: Mapping[str, podium.Agent] | None = None,
        extra: Iterable[object] = (),
        config: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> AsyncIterator[podium.Engine]:
        engine = podium.Engine(
            config=podium.Config(dict(config or {})),
            plugins=[plugin or telemetry.plugin(**settings), FanOutPlugin(), *extra],
            agents=agents,
        )
        async with engine:
            yield engine

    return make


@pytest.fixture
def docs_plugin() -> DocsPlugin:
    return DocsPlugin()
