"""The ``[plugins.otel]`` configuration section."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from podium import Duration


class Exporter(enum.StrEnum):
    """Where telemetry goes. ``none`` (the default) exports nothing of its own."""

    NONE = "none"
    CONSOLE = "console"
    OTLP = "otlp"
    PROMETHEUS = "prometheus"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        raise ValueError(
            f"unknown exporter {value!r}; choose one of: {', '.join(member.value for member in cls)}"
        )


class OtlpProtocol(enum.StrEnum):
    """The OTLP transport, each provided by an optional extra of podium-otel."""

    HTTP = "http/protobuf"
    GRPC = "grpc"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        raise ValueError(f"unknown OTLP protocol {value!r}; choose 'http/protobuf' or 'grpc'")


def _port(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value <= 65535:
        raise ValueError(f"{attribute.name} must be between 0 and 65535, got {value}")


def _resource_attributes(value: Any) -> dict[str, Any]:
    """Flatten nested tables back into dotted keys.

    Attribute names contain dots (``"deployment.environment"``), which the configuration
    layers read as nested tables; both spellings mean the same attribute.
    """
    flat: dict[str, Any] = {}

    def visit(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                visit(f"{prefix}.{key}" if prefix else str(key), child)
        elif isinstance(node, (str, bool, int, float)):
            flat[prefix] = node
        else:
            raise ValueError(
                f"resource_attributes.{prefix} must be a string, number or boolean, got {node!r}"
            )

    visit("", value)
    return flat


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.define
class OtelSettings:
    """Configuration of podium-otel, read from ``[plugins.otel]``.

    :param exporter: ``none`` | ``console`` | ``otlp`` | ``prometheus``, for both traces
        and metrics (``prometheus`` exports metrics only; traces then follow the
        application's global provider).
    :param traces_exporter: Overrides ``exporter`` for traces (``none``, ``console``, ``otlp``).
    :param metrics_exporter: Overrides ``exporter`` for metrics.
    :param otlp_protocol: ``http/protobuf`` (extra ``otlp-http``) or ``grpc`` (extra ``otlp-grpc``).
    :param otlp_endpoint: Collector URL; unset, the exporter reads ``OTEL_EXPORTER_OTLP_*``
        variables (credentials belong in ``OTEL_EXPORTER_OTLP_HEADERS``, never here).
    :param prometheus_host: Address the scrape endpoint listens on.
    :param prometheus_port: Port of the scrape endpoint (``0``: any free port).
    :param service_name: ``service.name`` of the resource; unset, ``OTEL_SERVICE_NAME`` or ``podium``.
    :param resource_attributes: Extra resource attributes (``deployment.environment`` ...).
    :param capture_content: Record prompts, replies and doc queries in spans (off by default).
    :param content_max_chars: Captured content is cut to this many characters.
    :param metric_export_interval: Seconds between pushes of the ``console`` and ``otlp`` metric exporters.
    """

    exporter: Exporter = Exporter.NONE
    traces_exporter: Exporter | None = None
    metrics_exporter: Exporter | None = None
    otlp_protocol: OtlpProtocol = OtlpProtocol.HTTP
    otlp_endpoint: str | None = None
    prometheus_host: str = "127.0.0.1"
    prometheus_port: int = attrs.field(default=9464, validator=_port)
    service_name: str | None = None
    resource_attributes: dict[str, Any] = attrs.field(factory=dict, converter=_resource_attributes)
    capture_content: bool = False
    content_max_chars: int = attrs.field(default=8192, validator=_positive)
    metric_export_interval: Duration = attrs.field(default=60.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.traces_exporter is Exporter.PROMETHEUS:
            raise ValueError("traces_exporter cannot be 'prometheus': Prometheus scrapes metrics only")

    @property
    def effective_traces_exporter(self) -> Exporter:
        """The exporter used for traces (``prometheus`` has none for traces)."""
        chosen = self.traces_exporter or self.exporter
        return Exporter.NONE if chosen is Exporter.PROMETHEUS else chosen

    @property
    def effective_metrics_exporter(self) -> Exporter:
        """The exporter used for metrics."""
        return self.metrics_exporter or self.exporter
