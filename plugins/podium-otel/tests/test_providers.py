"""A library's manners: use the application's providers, never replace them, print nothing unasked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics._internal import _ProxyMeterProvider

import podium
from podium import PluginError
from podium_otel import OtelPlugin, OtelSettings, plugin_for
from podium_otel.providers import make_resource


def one_stage_workflow(name: str = "tiny") -> podium.Workflow:
    wf = podium.Workflow(name, strategy="sequential")

    @wf.stage
    async def only() -> int:
        return 1

    return wf


def assert_no_global_providers() -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert isinstance(metrics.get_meter_provider(), _ProxyMeterProvider)


async def test_providers_passed_in_receive_everything_and_globals_stay_untouched(
    telemetry: Any, make_engine: Any
) -> None:
    async with make_engine(exporter="console") as engine:
        await engine.run(one_stage_workflow())

    assert [s.name for s in telemetry.spans()] == ["stage only", "workflow tiny"]
    assert telemetry.value("podium.workflow.runs") == 1
    assert_no_global_providers()


async def test_by_default_nothing_is_exported_printed_or_set_globally(
    capfd: pytest.CaptureFixture[str],
) -> None:
    async with podium.Engine(config=podium.Config({})) as engine:
        result = await engine.run(one_stage_workflow())
        plugin = plugin_for(engine)
        assert plugin is not None
        assert plugin.telemetry is not None
        assert plugin.telemetry.providers.closers == []

    assert result.ok
    assert capfd.readouterr() == ("", "")
    assert_no_global_providers()


async def test_with_nothing_configured_no_plugin_listens_to_runs_or_stages() -> None:
    # No SDK provider anywhere: nothing would be recorded, so nothing is called per stage
    # and stages keep the kernel's cheapest path.
    async with podium.Engine(config=podium.Config({})) as engine:
        result = await engine.run(one_stage_workflow())
        listeners = {
            impl.plugin_name
            for hook in ("podium_workflow_started", "podium_stage_started", "podium_stage_ended")
            for impl in getattr(engine.pm.hook, hook).get_hookimpls()
        }
    assert result.ok
    assert not any(name.startswith("podium_otel") for name in listeners), listeners


async def test_an_engine_with_a_recording_provider_gets_a_run_observer_that_leaves_with_it(
    telemetry: Any, make_engine: Any
) -> None:
    async with make_engine() as engine:
        observers = [p for p in engine.pm.get_plugins() if type(p).__name__ == "RunObserver"]
        assert len(observers) == 1
    assert observers[0] not in engine.pm.get_plugins()


async def test_the_console_exporter_prints_spans_and_metrics_by_engine_stop(
    capfd: pytest.CaptureFixture[str],
) -> None:
    config = podium.Config({"plugins": {"otel": {"exporter": "console", "service_name": "checkout"}}})
    async with podium.Engine(config=config) as engine:
        await engine.run(one_stage_workflow("printed"))

    out = capfd.readouterr().out
    assert '"name": "stage only"' in out
    assert '"name": "workflow printed"' in out
    assert '"service.name": "checkout"' in out
    assert '"name": "podium.workflow.runs"' in out
    assert_no_global_providers()


def test_a_globally_set_application_provider_is_used_and_never_replaced() -> None:
    # The global provider can be set once per process: this runs in a fresh interpreter.
    script = textwrap.dedent(
        """
        import asyncio, json
        from opentelemetry import trace, metrics
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import podium

        exporter = InMemorySpanExporter()
        app_tracer = TracerProvider()
        app_tracer.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(app_tracer)
        reader = InMemoryMetricReader()
        app_meter = MeterProvider(metric_readers=[reader])
        metrics.set_meter_provider(app_meter)

        wf = podium.Workflow("app", strategy="sequential")

        @wf.stage
        async def only():
            return 1

        async def main():
            config = podium.Config({"plugins": {"otel": {"exporter": "console"}}})
            async with podium.Engine(config=config) as engine:
                await engine.run(wf)

        asyncio.run(main())
        names = [m.name for rm in reader.get_metrics_data().resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics]
        print(json.dumps({
            "spans": sorted(s.name for s in exporter.get_finished_spans()),
            "same_tracer": trace.get_tracer_provider() is app_tracer,
            "same_meter": metrics.get_meter_provider() is app_meter,
            "runs_metric": "podium.workflow.runs" in names,
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == {
        "spans": ["stage only", "workflow app"],
        "same_tracer": True,
        "same_meter": True,
        "runs_metric": True,
    }, "the console exporter printed nothing either: the application's providers were used"


async def test_each_engine_gets_its_own_plugin_unless_the_application_registers_one(
    telemetry: Any, make_engine: Any
) -> None:
    async with (
        podium.Engine(config=podium.Config({})) as first,
        podium.Engine(config=podium.Config({})) as second,
    ):
        own_first, own_second = plugin_for(first), plugin_for(second)
        assert own_first is not None
        assert own_second is not None
        assert own_first is not own_second
        assert own_first.automatic
    assert own_first not in first.pm.get_plugins(), "an automatic plugin leaves with its engine"

    explicit = telemetry.plugin()
    async with make_engine(plugin=explicit) as engine:
        otel_plugins = [p for p in engine.pm.get_plugins() if isinstance(p, OtelPlugin)]
        assert otel_plugins == [explicit]
        await engine.run(one_stage_workflow())
    assert len(telemetry.spans()) == 2, "one plugin traced the run, not two"


async def test_one_plugin_serves_one_running_engine_at_a_time(telemetry: Any) -> None:
    plugin = telemetry.plugin()
    async with podium.Engine(config=podium.Config({}), plugins=[plugin]):
        other = podium.Engine(config=podium.Config({}), plugins=[plugin])
        with pytest.raises(PluginError, match="already serves another running engine"):
            await other.start()
    async with podium.Engine(config=podium.Config({}), plugins=[plugin]) as later:
        assert (await later.run(one_stage_workflow())).ok
    assert len(telemetry.spans()) == 2


def test_the_resource_names_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert make_resource(OtelSettings()).attributes["service.name"] == "podium"

    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    assert make_resource(OtelSettings()).attributes["service.name"] == "from-env"

    configured = make_resource(
        OtelSettings(service_name="checkout", resource_attributes={"deployment.environment": "prod"})
    )
    assert configured.attributes["service.name"] == "checkout"
    assert configured.attributes["deployment.environment"] == "prod"
