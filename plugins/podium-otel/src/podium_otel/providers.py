"""Choosing the tracer and meter providers, with a library's manners.

An application's providers always win: providers passed to :class:`podium_otel.OtelPlugin`
are used as they are, and so are providers already set globally. Only when neither exists
and an exporter is configured does podium-otel build providers of its own, which it keeps
to itself (never set globally) and shuts down, flushing them, when the engine stops.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

import attrs
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from podium import ConfigError
from podium_otel.settings import Exporter, OtelSettings, OtlpProtocol

_log = logging.getLogger("podium.otel")

_OTLP_MODULES = {
    OtlpProtocol.HTTP: ("opentelemetry.exporter.otlp.proto.http", "otlp-http"),
    OtlpProtocol.GRPC: ("opentelemetry.exporter.otlp.proto.grpc", "otlp-grpc"),
}


@attrs.define
class Providers:
    """The providers an engine's telemetry uses, and what must be shut down with it."""

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    #: Blocking clean-ups (flush and shut down) of what podium-otel built itself.
    closers: list[Callable[[], None]] = attrs.field(factory=list)
    #: ``(host, port)`` of the Prometheus scrape endpoint, when one was started.
    scrape_address: tuple[str, int] | None = None

    @property
    def records(self) -> bool:
        """Whether anything is recorded: a tracer or meter provider with an SDK behind it.

        The API's own providers (no SDK configured, globally or here) record nothing, so
        podium-otel then stays out of the way. Checked when the engine starts.
        """
        return _real_tracer(self.tracer_provider) or _real_meter(self.meter_provider)

    def close(self) -> None:
        """Flush and shut down the providers podium-otel owns; never the application's."""
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                _log.exception("shutting down an OpenTelemetry component failed")
        self.closers.clear()


def _real_tracer(provider: trace.TracerProvider) -> bool:
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def _real_meter(provider: metrics.MeterProvider) -> bool:
    # The API exposes no "is one set" check; an unset global is this proxy class.
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    return not isinstance(provider, (_ProxyMeterProvider, metrics.NoOpMeterProvider))


def _global_tracer_provider() -> trace.TracerProvider | None:
    provider = trace.get_tracer_provider()
    return provider if _real_tracer(provider) else None


def _global_meter_provider() -> metrics.MeterProvider | None:
    provider = metrics.get_meter_provider()
    return provider if _real_meter(provider) else None


def make_resource(settings: OtelSettings) -> Resource:
    """The resource: configured attributes over ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME``."""
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    if settings.service_name:
        attributes["service.name"] = settings.service_name
    resource = Resource.create(attributes)
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "podium"}))
    return resource


def build_providers(
    settings: OtelSettings,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> Providers:
    """Pick (or build) the providers for ``settings``; exporter errors raise :class:`ConfigError`."""
    providers = Providers(trace.get_tracer_provider(), metrics.get_meter_provider())
    resource: Resource | None = None
    try:
        traces_exporter = settings.effective_traces_exporter
        if tracer_provider is not None:
            providers.tracer_provider = tracer_provider
        elif traces_exporter is not Exporter.NONE:
            existing = _global_tracer_provider()
            if existing is not None:
                _log.info(
                    "using the application's tracer provider; traces exporter %r not installed",
                    traces_exporter.value,
                )
                providers.tracer_provider = existing
            else:
                resource = make_resource(settings)
                sdk_tracer = SdkTracerProvider(resource=resource)
                sdk_tracer.add_span_processor(BatchSpanProcessor(_span_exporter(settings, traces_exporter)))
                providers.tracer_provider = sdk_tracer
                providers.closers.append(sdk_tracer.shutdown)

        metrics_exporter = settings.effective_metrics_exporter
        if meter_provider is not None:
            providers.meter_provider = meter_provider
        elif metrics_exporter is not Exporter.NONE:
            existing_meter = _global_meter_provider()
            if existing_meter is not None:
                _log.info(
                    "using the application's meter provider; metrics exporter %r not installed",
                    metrics_exporter.value,
                )
                providers.meter_provider = existing_meter
            else:
                reader = _metric_reader(settings, metrics_exporter, providers)
                sdk_meter = SdkMeterProvider(
                    resource=resource or make_resource(settings), metric_readers=[reader]
                )
                providers.meter_provider = sdk_meter
                providers.closers.append(sdk_meter.shutdown)
    except BaseException:
        providers.close()
        raise
    return providers


def _span_exporter(settings: OtelSettings, exporter: Exporter) -> SpanExporter:
    if exporter is Exporter.CONSOLE:
        return ConsoleSpanExporter(out=sys.stdout)
    module = _otlp_module(settings, "trace_exporter")
    endpoint = _otlp_endpoint(settings, "traces")
    span_exporter: SpanExporter = module.OTLPSpanExporter(**({"endpoint": endpoint} if endpoint else {}))
    return span_exporter


def _metric_reader(settings: OtelSettings, exporter: Exporter, providers: Providers) -> MetricReader:
    if exporter is Exporter.PROMETHEUS:
        return _prometheus_reader(settings, providers)
    metric_exporter: MetricExporter
    if exporter is Exporter.CONSOLE:
        metric_exporter = ConsoleMetricExporter(out=sys.stdout)
    else:
        module = _otlp_module(settings, "metric_exporter")
        endpoint = _otlp_endpoint(settings, "metrics")
        metric_exporter = module.OTLPMetricExporter(**({"endpoint": endpoint} if endpoint else {}))
    return PeriodicExportingMetricReader(
        metric_exporter, export_interval_millis=settings.metric_export_interval * 1000
    )


def _otlp_module(settings: OtelSettings, name: str) -> Any:
    package, extra = _OTLP_MODULES[settings.otlp_protocol]
    try:
        return importlib.import_module(f"{package}.{name}")
    except ImportError:
        raise ConfigError(
            f"config.plugins.otel: exporter 'otlp' over {settings.otlp_protocol.value} needs the "
            f"{package.replace('.', '-')} package: pip install 'podium-otel[{extra}]'"
        ) from None


def _otlp_endpoint(settings: OtelSettings, signal: str) -> str | None:
    base = settings.otlp_endpoint
    if not base:
        return None
    if settings.otlp_protocol is OtlpProtocol.HTTP:
        return f"{base.rstrip('/')}/v1/{signal}"
    return base


def _prometheus_reader(settings: OtelSettings, providers: Providers) -> MetricReader:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise ConfigError(
            "config.plugins.otel: exporter 'prometheus' needs opentelemetry-exporter-prometheus: "
            "pip install 'podium-otel[prometheus]'"
        ) from None
    # A registry of our own: two engines in one process never collide, and the scrape
    # endpoint serves exactly what this engine records.
    registry = CollectorRegistry(auto_describe=True)
    reader = PrometheusMetricReader(registry=registry)
    try:
        server, thread = start_http_server(
            settings.prometheus_port, addr=settings.prometheus_host, registry=registry
        )
    except OSError as exc:
        raise ConfigError(
            f"config.plugins.otel: cannot serve Prometheus metrics on "
            f"{settings.prometheus_host}:{settings.prometheus_port}: {exc.strerror or exc}"
        ) from None

    def stop_server() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    providers.closers.append(stop_server)
    providers.scrape_address = (settings.prometheus_host, int(server.server_port))
    return reader
