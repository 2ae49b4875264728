"""The ``otlp`` exporter, over HTTP and gRPC, to a collector on 127.0.0.1 speaking real OTLP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import podium


class Collector:
    """What a collector received: span names, metric names and resource attributes."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self.metrics: set[str] = set()
        self.resource: dict[str, str] = {}
        self.paths: set[str] = set()

    def traces(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                self.resource[attribute.key] = attribute.value.string_value
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(span.name for span in scope_spans.spans)

    def metric_data(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                self.metrics.update(metric.name for metric in scope_metrics.metrics)


@pytest.fixture
def http_collector() -> Iterator[tuple[Collector, str]]:
    collector = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            collector.paths.add(self.path)
            response: Any
            if self.path == "/v1/traces":
                collector.traces(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
                response = trace_service_pb2.ExportTraceServiceResponse()
            elif self.path == "/v1/metrics":
                collector.metric_data(metrics_service_pb2.ExportMetricsServiceRequest.FromString(body))
                response = metrics_service_pb2.ExportMetricsServiceResponse()
            else:
                self.send_error(404)
                return
            payload = response.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield collector, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def grpc_collector() -> Iterator[tuple[Collector, str]]:
    collector = Collector()

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            collector.traces(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            collector.metric_data(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield collector, f"http://127.0.0.1:{port}"
    server.stop(grace=None)


async def run_exporting(otel: dict[str, Any]) -> None:
    wf = podium.Workflow("shipped", strategy="sequential")

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("writer").complete("hello")).text

    config = podium.Config({"plugins": {"otel": {"exporter": "otlp", "service_name": "shop", **otel}}})
    async with podium.Engine(config=config, agents={"writer": podium.SimulatedAgent("hi")}) as engine:
        assert (await engine.run(wf)).ok


EXPECTED_SPANS = ["chat claude-sonnet-4-5", "stage ask", "workflow shipped"]


async def test_otlp_over_http_delivers_spans_and_metrics_when_the_engine_stops(
    http_collector: tuple[Collector, str],
) -> None:
    collector, endpoint = http_collector
    await run_exporting({"otlp_endpoint": endpoint})

    assert collector.paths == {"/v1/traces", "/v1/metrics"}
    assert sorted(collector.spans) == EXPECTED_SPANS
    assert collector.resource["service.name"] == "shop"
    assert {"podium.workflow.runs", "podium.stage.duration", "podium.tokens"} <= collector.metrics


async def test_otlp_over_grpc_delivers_spans_and_metrics_when_the_engine_stops(
    grpc_collector: tuple[Collector, str],
) -> None:
    collector, endpoint = grpc_collector
    await run_exporting({"otlp_protocol": "grpc", "otlp_endpoint": endpoint})

    assert sorted(collector.spans) == EXPECTED_SPANS
    assert collector.resource["service.name"] == "shop"
    assert {"podium.workflow.runs", "gen_ai.client.token.usage"} <= collector.metrics
