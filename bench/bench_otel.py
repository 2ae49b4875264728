"""Cost of podium-otel per stage on W2 (1 -> 1000 -> 1 fan-out/fan-in, bodies ``await asyncio.sleep(0)``).

Three engines run the same workflow in one process, interleaved run by run so that drift
hits them alike:

- ``baseline``: no podium-otel at all;
- ``otel_sdk``: podium-otel with a real SDK ``TracerProvider`` (``BatchSpanProcessor`` to an
  exporter that drops the batches, so no I/O is measured) and a ``MeterProvider`` whose
  reader aggregates every measurement;
- ``otel_api_only``: podium-otel installed with nothing configured (the default: the
  OpenTelemetry API's no-op providers).

And, in the same loop, ``bare_sdk``: the OpenTelemetry SDK alone making the same spans
(same names, parents, attributes, one made current per stage) and the same metric points
(a counter add and a histogram record per stage and per run) on the same providers, with
no Podium at all. ``otel_sdk`` is then judged by its cost *over* the baseline as a ratio
to that bare cost: what podium-otel adds to the SDK's own work.

Each figure is the median of the repeats (``best_ms``: the fastest, least disturbed by
other load on the machine). Prints JSON and writes ``bench/results/otel.json``.
Run: ``python bench/bench_otel.py``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.metadata
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import podium
from podium_otel import OtelPlugin

FAN_OUT = 1000
REPEATS = 20
WARMUP = 2
RESULTS = Path(__file__).resolve().parent / "results" / "otel.json"


class FanOut(podium.Strategy):
    """Every ready stage starts at once: what the ``parallel`` strategy does, without its package."""

    name = "bench-fanout"


class FanOutPlugin:
    @podium.hookimpl
    def podium_register_strategies(self, register: Callable[[podium.Strategy], None]) -> None:
        register(FanOut())


class DroppingExporter(SpanExporter):
    """Accepts batches and drops them: the benchmark measures tracing, not a network."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def w2(strategy: str) -> podium.Workflow:
    wf = podium.Workflow("w2", strategy=strategy)

    async def body() -> None:
        await asyncio.sleep(0)

    wf.add_stage(body, name="source")
    for i in range(FAN_OUT):
        wf.add_stage(body, name=f"s{i}", needs=["source"])
    wf.add_stage(body, name="sink", needs=[f"s{i}" for i in range(FAN_OUT)])
    return wf


def strategy_plugin() -> tuple[object, str]:
    """The real ``parallel`` strategy when podium-parallel is installed, else an equivalent."""
    try:
        return importlib.import_module("podium_parallel"), "parallel"
    except ImportError:
        return FanOutPlugin(), FanOut.name


def bare_sdk(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> Callable[[], None]:
    """One run's worth of spans and metric points, made with the SDK directly."""
    tracer = tracer_provider.get_tracer("bench-bare-sdk")
    meter = meter_provider.get_meter("bench-bare-sdk")
    stage_runs = meter.create_counter("bench.stage.runs")
    stage_duration = meter.create_histogram("bench.stage.duration", unit="s")
    workflow_runs = meter.create_counter("bench.workflow.runs")
    workflow_duration = meter.create_histogram("bench.workflow.duration", unit="s")
    names = ["source", *(f"s{i}" for i in range(FAN_OUT)), "sink"]

    def run() -> None:
        root = tracer.start_span(
            "workflow w2",
            attributes={
                "podium.workflow.name": "w2",
                "podium.run.id": "0" * 16,
                "podium.strategy": "parallel",
            },
        )
        parent = trace.set_span_in_context(root)
        for name in names:
            started = time.perf_counter()
            span = tracer.start_span(
                "stage " + name,
                context=parent,
                attributes={
                    "podium.workflow.name": "w2",
                    "podium.run.id": "0" * 16,
                    "podium.stage.name": name,
                },
            )
            token = otel_context.attach(trace.set_span_in_context(span))
            otel_context.detach(token)
            span.set_attributes({"podium.stage.status": "succeeded", "podium.stage.attempts": 1})
            span.end()
            attributes = {
                "podium.workflow.name": "w2",
                "podium.stage.name": name,
                "podium.stage.status": "succeeded",
            }
            stage_runs.add(1, attributes)
            stage_duration.record(time.perf_counter() - started, attributes)
        root.set_attributes({"podium.run.status": "succeeded", "podium.cost": 0.0})
        root.end()
        attributes = {"podium.workflow.name": "w2", "podium.run.status": "succeeded"}
        workflow_runs.add(1, attributes)
        workflow_duration.record(0.01, attributes)

    return run


def engine(plugins: list[object]) -> podium.Engine:
    # Autoload off: each engine has exactly the plugins named here (core's built-ins included).
    return podium.Engine(config=podium.Config({"autoload": False}), plugins=plugins, cache_url=False)


async def main() -> dict[str, Any]:
    exporter = DroppingExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])

    strategies, strategy = strategy_plugin()
    engines = {
        "baseline": engine([strategies]),
        "otel_sdk": engine(
            [strategies, OtelPlugin(tracer_provider=tracer_provider, meter_provider=meter_provider)]
        ),
        "otel_api_only": engine([strategies, OtelPlugin()]),
    }
    for e in engines.values():
        await e.start()
    workflow = w2(strategy)
    bare = bare_sdk(tracer_provider, meter_provider)
    times: dict[str, list[float]] = {name: [] for name in [*engines, "bare_sdk"]}
    for repeat in range(WARMUP + REPEATS):
        for name, e in engines.items():
            gc.collect()
            started = time.perf_counter()
            result = await e.run(workflow)
            elapsed = time.perf_counter() - started
            assert result.ok, result.status
            if repeat >= WARMUP:
                times[name].append(elapsed)
        gc.collect()
        started = time.perf_counter()
        bare()
        if repeat >= WARMUP:
            times["bare_sdk"].append(time.perf_counter() - started)
    for e in engines.values():
        await e.stop()
    tracer_provider.shutdown()
    stages = FAN_OUT + 2
    assert exporter.exported == 2 * (WARMUP + REPEATS) * (stages + 1), "every span reached the exporter"
    median = {name: statistics.median(values) for name, values in times.items()}
    best = {name: min(values) for name, values in times.items()}
    base = median["baseline"]
    bare_cost = median.pop("bare_sdk")
    best.pop("bare_sdk")
    over_bare = [
        (otel - baseline) / sdk
        for otel, baseline, sdk in zip(times["otel_sdk"], times["baseline"], times["bare_sdk"], strict=True)
    ]
    api_only = [
        otel / baseline for otel, baseline in zip(times["otel_api_only"], times["baseline"], strict=True)
    ]
    return {
        "benchmark": "otel",
        "workload": f"W2: 1 -> {FAN_OUT} -> 1, bodies await asyncio.sleep(0)",
        "strategy": strategy,
        "stages": stages,
        "repeats": REPEATS,
        "median_ms": {name: round(value * 1000, 2) for name, value in median.items()},
        "best_ms": {name: round(value * 1000, 2) for name, value in best.items()},
        "us_per_stage": {name: round(value / stages * 1e6, 2) for name, value in median.items()},
        "ratio_to_baseline": {name: round(value / base, 3) for name, value in median.items()},
        "ratio_to_baseline_best": {name: round(value / best["baseline"], 3) for name, value in best.items()},
        "otel_cost_us_per_stage": {
            name: round((value - base) / stages * 1e6, 2)
            for name, value in median.items()
            if name != "baseline"
        },
        "bare_sdk_us_per_stage": round(bare_cost / stages * 1e6, 2),
        "rows": {
            "podium-otel installed, nothing configured (W2), ratio to without": {
                "ratio": round(statistics.median(api_only), 3),
                "min": round(min(api_only), 3),
                "max": round(max(api_only), 3),
                "target": 1.1,
            },
            "podium-otel with the SDK (W2), its cost over the bare SDK cost of the same spans and points": {
                "ratio": round(statistics.median(over_bare), 3),
                "min": round(min(over_bare), 3),
                "max": round(max(over_bare), 3),
                "target": 2.0,
            },
        },
        "python": platform.python_version(),
        "opentelemetry_sdk": importlib.metadata.version("opentelemetry-sdk"),
        "machine": f"{platform.machine()}, {sys.platform}",
    }


if __name__ == "__main__":
    report = asyncio.run(main())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
