"""``[plugins.otel]``: bad values fail before anything runs, saying which key and what to do."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

import podium
from podium import ConfigError
from podium_otel import Exporter, OtelSettings, OtlpProtocol


async def start_with(otel: dict[str, object]) -> None:
    engine = podium.Engine(config=podium.Config({"plugins": {"otel": otel}}))
    try:
        await engine.start()
    finally:
        await engine.stop()


async def test_an_unknown_exporter_is_an_error_naming_the_key_and_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        await start_with({"exporter": "jaeger"})
    assert (
        "unknown exporter 'jaeger'; choose one of: none, console, otlp, prometheus "
        "@ config.plugins.otel.exporter" in str(caught.value)
    )


async def test_an_unknown_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"extra fields found \(exporters\) @ config.plugins.otel"):
        await start_with({"exporters": "console"})


@pytest.mark.parametrize(
    ("otel", "message"),
    [
        ({"traces_exporter": "prometheus"}, "traces_exporter cannot be 'prometheus'"),
        ({"prometheus_port": 70000}, "prometheus_port must be between 0 and 65535, got 70000"),
        ({"otlp_protocol": "thrift"}, "unknown OTLP protocol 'thrift'; choose 'http/protobuf' or 'grpc'"),
        ({"metric_export_interval": "0s"}, "metric_export_interval must be > 0"),
        (
            {"resource_attributes": {"team": ["a"]}},
            "resource_attributes.team must be a string, number or boolean",
        ),
    ],
)
async def test_invalid_values_are_explained(otel: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"config\.plugins\.otel") as caught:
        await start_with(otel)
    assert message in str(caught.value)


async def test_a_missing_exporter_package_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    with pytest.raises(ConfigError) as caught:
        await start_with({"exporter": "otlp", "otlp_protocol": "grpc"})
    assert "pip install 'podium-otel[otlp-grpc]'" in str(caught.value)


async def test_a_busy_prometheus_port_is_an_error_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ConfigError, match=re.escape(f"cannot serve Prometheus metrics on 127.0.0.1:{port}")
        ):
            await start_with({"exporter": "prometheus", "prometheus_port": port})


def test_settings_come_from_the_config_file_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text(
        '[plugins.otel]\nexporter = "otlp"\notlp_protocol = "grpc"\nmetric_export_interval = "15s"\n'
        '[plugins.otel.resource_attributes]\n"deployment.environment" = "staging"\n'
    )
    config = podium.Config.load(cwd=tmp_path, env={"PODIUM_PLUGINS__OTEL__CAPTURE_CONTENT": "true"})
    config.register_section("otel", OtelSettings)
    settings = config.section("otel")
    assert settings == OtelSettings(
        exporter=Exporter.OTLP,
        otlp_protocol=OtlpProtocol.GRPC,
        metric_export_interval=15.0,
        resource_attributes={"deployment.environment": "staging"},
        capture_content=True,
    )


def test_prometheus_exports_metrics_only() -> None:
    settings = OtelSettings(exporter=Exporter.PROMETHEUS)
    assert settings.effective_metrics_exporter is Exporter.PROMETHEUS
    assert settings.effective_traces_exporter is Exporter.NONE
    mixed = OtelSettings(exporter=Exporter.OTLP, metrics_exporter=Exporter.PROMETHEUS)
    assert (mixed.effective_traces_exporter, mixed.effective_metrics_exporter) == (
        Exporter.OTLP,
        Exporter.PROMETHEUS,
    )
