"""The :class:`OtelPlugin`: Podium's lifecycle hooks turned into spans and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any

from opentelemetry import metrics, trace

from podium import (
    AgentCall,
    Alert,
    Budget,
    Context,
    DocBundle,
    Engine,
    PluginError,
    RunResult,
    RunState,
    Stage,
    StageResult,
    Usage,
    hookimpl,
)
from podium_otel import names as n
from podium_otel.providers import build_providers
from podium_otel.settings import OtelSettings
from podium_otel.tracing import RunTrace, Telemetry


class OtelPlugin:
    """OpenTelemetry traces and metrics for one engine.

    Installed, podium-otel gives every engine its own instance, configured from
    ``[plugins.otel]``. Register one yourself to hand it your providers::

        plugin = OtelPlugin(tracer_provider=my_tracer_provider, meter_provider=my_meter_provider)
        async with podium.Engine(plugins=[plugin]) as engine: ...

    :param tracer_provider: Used as is (never replaced, never shut down); default: the
        global provider, or one built for the configured exporter.
    :param meter_provider: Likewise for metrics.
    :param settings: Overrides the engine's ``[plugins.otel]`` section.

    An instance serves one running engine at a time.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        settings: OtelSettings | None = None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._settings = settings
        self._telemetry: Telemetry | None = None
        self._observer: RunObserver | None = None
        #: Set when podium-otel registered this instance itself; it leaves with its engine.
        self.automatic = False

    def __repr__(self) -> str:
        state = "serving an engine" if self._telemetry is not None else "idle"
        return f"<OtelPlugin {state}>"

    @property
    def telemetry(self) -> Telemetry | None:
        """The running engine's telemetry (tracer, instruments, providers), if any."""
        return self._telemetry

    @property
    def scrape_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the Prometheus endpoint this instance serves, if any."""
        return self._telemetry.providers.scrape_address if self._telemetry is not None else None

    # ------------------------------------------------------------------ engine

    @hookimpl
    def podium_register_config_sections(self, register: Callable[[str, type], None]) -> None:
        register("otel", OtelSettings)

    @hookimpl
    def podium_engine_started(self, engine: Engine) -> None:
        if self._telemetry is not None:
            if self._telemetry.engine is engine:
                return
            raise PluginError(
                "podium-otel: this OtelPlugin already serves another running engine; "
                "give each engine its own OtelPlugin"
            )
        settings = self._settings
        if settings is None:
            section = engine.config.section("otel")
            settings = section if isinstance(section, OtelSettings) else OtelSettings()
        providers = build_providers(settings, self._tracer_provider, self._meter_provider)
        self._telemetry = Telemetry(engine, settings, providers)
        if providers.records:
            # Only then does anything listen to runs: with no SDK behind the API there is
            # nothing to record, and stages keep the kernel's cheapest path.
            self._observer = RunObserver(self._telemetry)
            engine.pm.register(self._observer, name=f"podium_otel.runs.{id(engine):x}")

    @hookimpl
    def podium_engine_stopping(self, engine: Engine) -> Awaitable[None] | None:
        telemetry = self._telemetry
        if telemetry is None or telemetry.engine is not engine:
            return None
        self._telemetry = None
        if self._observer is not None:
            engine.pm.unregister(self._observer)
            self._observer = None
        if self.automatic:
            engine.pm.unregister(self)
        if not telemetry.providers.closers:
            return None
        # Flushing exporters blocks (network, thread joins): keep it off the event loop.
        return asyncio.to_thread(telemetry.providers.close)

    # ------------------------------------------------------------------ alerts

    @hookimpl
    def podium_alert_raised(self, alert: Alert) -> None:
        telemetry = self._telemetry
        if telemetry is None:
            return
        telemetry.record_alert(alert.name, alert.severity, alert.workflow)
        if alert.run_id is not None and self._observer is not None:
            self._observer.alert_raised(alert)


class RunObserver:
    """The lifecycle hooks of one engine's runs, registered only while telemetry records.

    :class:`OtelPlugin` registers it when the engine starts with a tracer or meter that
    records (an SDK provider behind the API), and removes it when the engine stops.
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._runs: dict[RunState, RunTrace] = {}

    def __repr__(self) -> str:
        return f"<RunObserver {len(self._runs)} run(s)>"

    def alert_raised(self, alert: Alert) -> None:
        for trace_ in self._runs.values():
            if trace_.run_id == alert.run_id:
                trace_.event("alert", {n.ALERT: alert.name, n.ALERT_SEVERITY: alert.severity})

    # ------------------------------------------------------------------ runs and stages

    @hookimpl
    def podium_workflow_started(self, run: RunState) -> None:
        telemetry = self.telemetry
        if run.engine is telemetry.engine:
            self._runs[run] = RunTrace(telemetry, run)
            if run.started:  # a run cancelled in the queue never waited its turn
                telemetry.instruments.workflow_queue_wait.record(
                    run.queue_wait_s, telemetry.attributes(n.WORKFLOW, run.workflow.name)
                )

    @hookimpl
    def podium_workflow_ended(self, run: RunState, result: RunResult) -> None:
        trace_ = self._runs.pop(run, None)
        if trace_ is not None:
            trace_.finish(result)

    @hookimpl
    def podium_stage_started(self, run: RunState, stage: Stage, ctx: Context) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.enter_stage(stage, ctx.visit, ctx.item_key)

    @hookimpl
    def podium_stage_ended(self, run: RunState, stage: Stage, result: StageResult) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.close_stage(stage, result)

    @hookimpl
    def podium_stage_retried(
        self, run: RunState, stage: Stage, attempt: int, error: BaseException, delay: float
    ) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.retried(stage, attempt, error, delay)

    @hookimpl
    def podium_route_taken(
        self, run: RunState, stage: Stage, targets: Sequence[str], skipped: Sequence[str]
    ) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.route_taken(stage, targets, skipped)

    @hookimpl
    def podium_budget_exceeded(self, run: RunState, budget: Budget, usage: Usage, reason: str) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.event("budget_exceeded", {"podium.budget.reason": reason})

    @hookimpl
    def podium_breaker_changed(
        self, run: RunState | None, agent: str, state: str, previous: str, reason: str
    ) -> None:
        telemetry = self.telemetry
        telemetry.instruments.breaker_changes.add(1, (n.AGENT, agent, "podium.breaker.state", state))
        trace_ = self._runs.get(run) if run is not None else None
        if trace_ is not None:
            trace_.event(
                "breaker_changed",
                {n.AGENT: agent, "podium.breaker.state": state, "podium.breaker.previous": previous},
            )

    # ------------------------------------------------------------------ caching

    @hookimpl
    def podium_cache_hit(self, run: RunState, stage: Stage | None, kind: str, key: str, saved: Usage) -> None:
        trace_ = self._runs.get(run)
        if trace_ is None:
            return
        instruments = trace_.telemetry.instruments
        attributes = (n.WORKFLOW, trace_.workflow, n.CACHE_KIND, kind)
        instruments.cache_hits.add(1, attributes)
        if saved.total_tokens:
            instruments.cache_saved_tokens.add(saved.total_tokens, attributes)
        if saved.cost_usd:
            instruments.cache_saved_cost.add(saved.cost_usd, attributes)
        if kind == "stage" and stage is not None and stage.map is None:  # an item's span: by its status
            trace_.open_stage(stage, run.visits(stage.name)).set_attribute(n.STAGE_CACHE_HIT, True)

    @hookimpl
    def podium_cache_miss(self, run: RunState, stage: Stage | None, kind: str, key: str) -> None:
        trace_ = self._runs.get(run)
        if trace_ is None:
            return
        trace_.telemetry.instruments.cache_misses.add(1, (n.WORKFLOW, trace_.workflow, n.CACHE_KIND, kind))
        if kind == "stage" and stage is not None and stage.map is None:
            trace_.open_stage(stage, run.visits(stage.name)).set_attribute(n.STAGE_CACHE_HIT, False)

    # ------------------------------------------------------------------ agents and docs

    @hookimpl
    def podium_agent_call_started(self, run: RunState, stage: Stage | None, call: AgentCall) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.start_call(stage, call)

    @hookimpl
    def podium_agent_call_ended(self, run: RunState, stage: Stage | None, call: AgentCall) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.finish_call(call)

    @hookimpl(wrapper=True)
    def podium_fetch_docs(
        self, libraries: Sequence[str], query: str, tokens: int | None, ctx: Context
    ) -> Generator[None, Any, Awaitable[DocBundle] | None]:
        awaitable: Awaitable[DocBundle] | None = yield
        if awaitable is None:
            return None
        trace_ = self._runs.get(ctx.run)
        if trace_ is None:
            return awaitable
        trace_.docs_starting()
        if not trace_.recording:
            return awaitable
        return trace_.traced_docs(ctx.stage, awaitable, libraries, query, tokens)

    @hookimpl
    def podium_doc_fetch_ended(self, run: RunState, stage: Stage | None, bundle: DocBundle) -> None:
        trace_ = self._runs.get(run)
        if trace_ is not None:
            trace_.docs_fetched(bundle)
