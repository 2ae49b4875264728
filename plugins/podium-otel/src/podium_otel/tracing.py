"""Spans and measurements of one engine (:class:`Telemetry`) and of one run (:class:`RunTrace`).

Stage spans are parented explicitly to their run's workflow span, never through the
ambient context: stage tasks are launched from scheduler callbacks whose context is not
the run's. Inside a stage the stage span is made current, so the body, its agent calls,
its doc fetches and any span the user starts (in a thread too) become its children. A
mapped stage's span holds an ``item`` span per item, made current inside the item.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from podium import (
    KERNEL_ALERTS,
    AgentCall,
    DocBundle,
    Prompt,
    RunResult,
    RunStatus,
    Stage,
    StageResult,
    StageStatus,
)
from podium_otel import names as n
from podium_otel.instruments import Instruments

if TYPE_CHECKING:
    from podium import Engine, RunState
    from podium_otel.providers import Providers
    from podium_otel.settings import OtelSettings

_VERSION = "0.1.0"
_RAN = frozenset({StageStatus.SUCCEEDED, StageStatus.CACHED, StageStatus.FAILED})


class Telemetry:
    """One engine's tracer, meter, instruments and settings."""

    def __init__(self, engine: Engine, settings: OtelSettings, providers: Providers) -> None:
        self.engine = engine
        self.settings = settings
        self.providers = providers
        self.capture = settings.capture_content
        self.tracer = providers.tracer_provider.get_tracer("podium_otel", _VERSION)
        self.instruments = Instruments(
            providers.meter_provider.get_meter("podium_otel", _VERSION),
            queue_depth=lambda: engine.runs.queued,
        )
        self._attributes: dict[tuple[Any, ...], dict[str, Any]] = {}
        # What has its series published from 0 already: workflows, agents, doc fetches by workflow.
        self._primed: set[tuple[Any, ...]] = set()

    def attributes(self, *pairs: Any) -> dict[str, Any]:
        """A metric attribute dict for ``key, value, key, value, ...``, built once and reused."""
        found = self._attributes.get(pairs)
        if found is None:
            found = self._attributes[pairs] = dict(zip(pairs[::2], pairs[1::2], strict=True))
        return found

    def content(self, text: str) -> str:
        limit = self.settings.content_max_chars
        return text if len(text) <= limit else text[:limit] + "…"

    def record_alert(self, name: str, severity: str, workflow: str | None) -> None:
        key = (n.ALERT, name, n.ALERT_SEVERITY, severity, n.WORKFLOW, workflow or "")
        self.instruments.alerts.add(1, key)

    def prime_workflow(self, run: RunState) -> None:
        """Publish from 0 the series a workflow's runs count in, once, as its first run starts:
        runs by status, the kernel's alerts, stage outcomes, retries and stage cache lookups."""
        workflow = run.workflow.name
        if ("workflow", workflow) in self._primed:
            return
        self._primed.add(("workflow", workflow))
        instruments = self.instruments
        for status in RunStatus:
            instruments.workflow_runs.prime((n.WORKFLOW, workflow, n.RUN_STATUS, status.value))
        for name, severity in KERNEL_ALERTS.items():
            instruments.alerts.prime((n.ALERT, name, n.ALERT_SEVERITY, severity, n.WORKFLOW, workflow))
        for stage in run.plan.stages:
            for outcome in (StageStatus.SUCCEEDED, StageStatus.FAILED):
                instruments.stage_runs.prime(
                    (n.WORKFLOW, workflow, n.STAGE, stage.name, n.STAGE_STATUS, outcome.value)
                )
            if stage.retry is not None:
                instruments.stage_retries.prime((n.WORKFLOW, workflow, n.STAGE, stage.name))
        if any(stage.cache is not None for stage in run.plan.stages):
            self.prime_cache(workflow, "stage")

    def prime_cache(self, workflow: str, kind: str) -> None:
        if ("cache", workflow, kind) not in self._primed:
            self._primed.add(("cache", workflow, kind))
            key = (n.WORKFLOW, workflow, n.CACHE_KIND, kind)
            instruments = self.instruments
            for counter in (
                instruments.cache_hits,
                instruments.cache_misses,
                instruments.cache_saved_tokens,
                instruments.cache_saved_cost,
            ):
                counter.prime(key)

    def prime_agent(self, workflow: str, call: AgentCall) -> None:
        """Publish from 0 an agent's call, failure, token and cost series, as it is first called."""
        key = ("agent", workflow, call.agent, call.provider, call.model)
        if key in self._primed:
            return
        self._primed.add(key)
        instruments = self.instruments
        labels = (n.GEN_AI_PROVIDER, call.provider, n.GEN_AI_REQUEST_MODEL, call.model)
        instruments.agent_calls.prime((n.WORKFLOW, workflow, n.AGENT, call.agent, *labels))
        instruments.agent_failures.prime((n.WORKFLOW, workflow, n.AGENT, call.agent, *labels))
        for kind in ("input", "output"):
            instruments.tokens.prime((n.WORKFLOW, workflow, *labels, n.TOKEN_TYPE, kind))
        instruments.cost.prime((n.WORKFLOW, workflow, *labels))

    def prime_docs(self, workflow: str) -> None:
        if ("docs", workflow) not in self._primed:
            self._primed.add(("docs", workflow))
            for outcome in ("made", "avoided"):
                self.instruments.docs_requests.prime((n.WORKFLOW, workflow, n.DOCS_OUTCOME, outcome))
            self.instruments.docs_tokens.prime((n.WORKFLOW, workflow))


def _ns(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1e9)


def _describe(error: BaseException) -> str:
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _fail(span: Span, error: BaseException | None, attributes: dict[str, Any]) -> None:
    if error is None:
        span.set_status(Status(StatusCode.ERROR))
        return
    attributes[n.ERROR_TYPE] = type(error).__qualname__
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, _describe(error)))


def _describe_stage(span: Span, result: StageResult) -> None:
    status = result.status
    attributes: dict[str, Any] = {n.STAGE_STATUS: status.value}
    if status is StageStatus.SKIPPED:
        attributes[n.STAGE_SKIP_REASON] = result.reason or ""
    elif status is StageStatus.CANCELLED:
        attributes[n.STAGE_REASON] = result.reason or ""
    elif result.items is None:
        attributes[n.STAGE_ATTEMPTS] = result.attempts
        if status is StageStatus.CACHED:
            attributes[n.STAGE_CACHE_HIT] = True
    if result.items is not None:
        attributes[n.STAGE_ITEMS] = len(result.items)
        attributes[n.STAGE_FAILED_ITEMS] = sum(1 for item in result.items if not item.ok)
    if result.fallback:
        attributes[n.STAGE_FALLBACK] = True
    usage = result.usage
    if usage:
        attributes[n.INPUT_TOKENS] = usage.input_tokens
        attributes[n.OUTPUT_TOKENS] = usage.output_tokens
        attributes[n.COST] = usage.cost_usd
    if result.saved:
        attributes[n.SAVED_COST] = result.saved.cost_usd
    if status is StageStatus.FAILED:
        _fail(span, result.error, attributes)
    span.set_attributes(attributes)


class RunTrace:
    """The open spans of one run: its workflow span, stage spans and agent-call spans."""

    __slots__ = (
        "calls",
        "context",
        "items",
        "recording",
        "run_id",
        "span",
        "stages",
        "telemetry",
        "workflow",
    )

    def __init__(self, telemetry: Telemetry, run: RunState) -> None:
        self.telemetry = telemetry
        self.workflow = run.workflow.name
        self.run_id = run.id
        self.span = telemetry.tracer.start_span(
            f"workflow {self.workflow}",
            attributes={n.WORKFLOW: self.workflow, n.RUN_ID: run.id, n.STRATEGY: run.strategy.name},
        )
        self.context = trace.set_span_in_context(self.span)
        # An unrecorded run span (no SDK, or sampled out) means unrecorded stage and call spans
        # under the default parent-based sampler: skip making them, keep the metrics.
        self.recording = self.span.is_recording()
        self.stages: dict[str, Span] = {}
        self.items: dict[tuple[str, Any], Span] = {}
        self.calls: dict[int, tuple[Span, object]] = {}
        telemetry.prime_workflow(run)
        telemetry.instruments.workflow_active.add(1, (n.WORKFLOW, self.workflow))

    # ------------------------------------------------------------------ stages

    def _new_stage_span(self, stage: Stage, visit: int, start_time: int | None = None) -> Span:
        attributes: dict[str, Any] = {n.WORKFLOW: self.workflow, n.RUN_ID: self.run_id, n.STAGE: stage.name}
        if visit > 1 and stage.map is None:
            attributes[n.STAGE_VISIT] = visit
        return self.telemetry.tracer.start_span(
            "stage " + stage.name, context=self.context, attributes=attributes, start_time=start_time
        )

    def _new_item_span(self, stage: Stage, key: Any, visit: int, start_time: int | None = None) -> Span:
        attributes: dict[str, Any] = {
            n.WORKFLOW: self.workflow,
            n.RUN_ID: self.run_id,
            n.STAGE: stage.name,
            n.STAGE_ITEM: key if isinstance(key, str | int) and not isinstance(key, bool) else repr(key),
            n.STAGE_VISIT: visit,
        }
        parent = trace.set_span_in_context(self.open_stage(stage, visit, start_time))
        return self.telemetry.tracer.start_span(
            "item " + stage.name, context=parent, attributes=attributes, start_time=start_time
        )

    def open_stage(self, stage: Stage, visit: int, start_time: int | None = None) -> Span:
        """The stage's open span, started now (or at ``start_time``) if it has none yet."""
        if not self.recording:
            return trace.INVALID_SPAN
        span = self.stages.get(stage.name)
        if span is None:
            span = self.stages[stage.name] = self._new_stage_span(stage, visit, start_time)
        return span

    def enter_stage(self, stage: Stage, visit: int, item_key: Any = None) -> None:
        """Make the stage span (an item's span, for an item) current in the stage's own task
        (it reaches the body and its threads)."""
        # The task's context is its own copy and dies with it: nothing to detach.
        if not self.recording:
            otel_context.attach(self.context)  # user spans in the body stay in this trace
            return
        if item_key is None:
            span = self.open_stage(stage, visit)
        else:
            span = self.items[stage.name, item_key] = self._new_item_span(stage, item_key, visit)
        otel_context.attach(trace.set_span_in_context(span))

    def close_stage(self, stage: Stage, result: StageResult) -> None:
        """End the stage's span (an item's span, for an item) with its outcome, creating it
        for stages and items that never started."""
        status = result.status
        if self.recording:
            item = result.item_key is not None
            if item:
                span = self.items.pop((stage.name, result.item_key), None)
            else:
                span = self.stages.pop(stage.name, None)
            end: int | None = None
            if span is None:
                # A skipped stage (or item) never ran: its span starts and ends when it was skipped.
                skipped = status is StageStatus.SKIPPED
                start = time.time_ns() if skipped else _ns(result.started_at)
                end = start if skipped else None
                if item:
                    span = self._new_item_span(stage, result.item_key, result.visit, start)
                else:
                    span = self._new_stage_span(stage, result.visit, start)
            if span.is_recording():
                _describe_stage(span, result)
            span.end(end_time=end)
        if result.items is not None:
            return  # a mapped stage's runs are its items, measured one by one
        telemetry = self.telemetry
        key = (n.WORKFLOW, self.workflow, n.STAGE, stage.name, n.STAGE_STATUS, status.value)
        instruments = telemetry.instruments
        instruments.stage_runs.add(1, key)
        if status in _RAN:
            instruments.stage_duration.record(result.duration_s, telemetry.attributes(*key))

    def retried(self, stage: Stage, attempt: int, error: BaseException, delay: float) -> None:
        # An item's retry is announced inside the item, whose span is the current one.
        span = self.stages.get(stage.name) if stage.map is None else trace.get_current_span()
        if span is not None and span.is_recording():
            span.add_event(
                "retry",
                {
                    n.RETRY_ATTEMPT: attempt,
                    n.RETRY_DELAY: delay,
                    "exception.type": type(error).__qualname__,
                    "exception.message": str(error),
                },
            )
        telemetry = self.telemetry
        telemetry.instruments.stage_retries.add(1, (n.WORKFLOW, self.workflow, n.STAGE, stage.name))

    def route_taken(self, stage: Stage, targets: Sequence[str], skipped: Sequence[str]) -> None:
        span = self.stages.get(stage.name)
        if span is not None:
            span.set_attribute(n.STAGE_ROUTE, list(targets))
            span.set_attribute(n.STAGE_ROUTE_SKIPPED, list(skipped))

    # ------------------------------------------------------------------ calls inside a stage

    def _parent(self, stage: Stage | None) -> otel_context.Context | None:
        """The current context when it carries a span (the stage's, or one the user started
        inside it); else the stage's span, else the workflow's."""
        if trace.get_current_span().get_span_context().is_valid:
            return None
        span = self.stages.get(stage.name) if stage is not None else None
        return trace.set_span_in_context(span) if span is not None else self.context

    def start_call(self, stage: Stage | None, call: AgentCall) -> None:
        self.telemetry.prime_agent(self.workflow, call)  # before the call can fail
        if not self.recording:
            return
        attributes: dict[str, Any] = {
            n.GEN_AI_OPERATION: "chat",
            n.GEN_AI_PROVIDER: call.provider,
            n.GEN_AI_REQUEST_MODEL: call.model,
            n.AGENT: call.agent,
        }
        for option, value in call.options.items():
            name = n.GEN_AI_REQUEST_OPTIONS.get(option)
            if name is not None and isinstance(value, (int, float, str, list, tuple)):
                attributes[name] = list(value) if isinstance(value, tuple) else value
        telemetry = self.telemetry
        if telemetry.capture:
            prompt = Prompt.of(call.prompt)
            turns = [("system", prompt.system)] if prompt.system else []
            turns += [(m.role, m.content) for m in prompt.history] + [("user", prompt.text)]
            attributes[n.GEN_AI_INPUT_MESSAGES] = json.dumps(
                [
                    {"role": role, "parts": [{"type": "text", "content": telemetry.content(text)}]}
                    for role, text in turns
                ]
            )
        span = telemetry.tracer.start_span(
            f"chat {call.model}", context=self._parent(stage), kind=SpanKind.CLIENT, attributes=attributes
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        self.calls[id(call)] = (span, token)

    def finish_call(self, call: AgentCall) -> None:
        entry = self.calls.pop(id(call), None)
        if entry is not None:
            span, token = entry
            otel_context.detach(token)  # type: ignore[arg-type]
            self._describe_call(span, call)
        self._measure_call(call, call.error)

    def _describe_call(self, span: Span, call: AgentCall) -> None:
        telemetry = self.telemetry
        usage = call.usage
        reply = call.reply
        attributes: dict[str, Any] = {}
        if reply is not None:
            if reply.model:
                attributes[n.GEN_AI_RESPONSE_MODEL] = reply.model
            attributes[n.GEN_AI_FINISH_REASONS] = [reply.stop_reason]
            attributes[n.GEN_AI_INPUT_TOKENS] = usage.input_tokens
            attributes[n.GEN_AI_OUTPUT_TOKENS] = usage.output_tokens
            if usage.cache_read_tokens:
                attributes[n.GEN_AI_CACHE_READ_TOKENS] = usage.cache_read_tokens
            if usage.cache_write_tokens:
                attributes[n.GEN_AI_CACHE_WRITE_TOKENS] = usage.cache_write_tokens
            attributes[n.COST] = usage.cost_usd
            if telemetry.capture:
                attributes[n.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": telemetry.content(reply.text)}],
                            "finish_reason": reply.stop_reason,
                        }
                    ]
                )
        if call.cached:
            attributes["podium.agent.cache_hit"] = True
        error = call.error
        if error is not None:
            _fail(span, error, attributes)
        span.set_attributes(attributes)
        span.end()

    def _measure_call(self, call: AgentCall, error: BaseException | None) -> None:
        telemetry = self.telemetry
        instruments = telemetry.instruments
        provider, model, workflow = call.provider, call.model, self.workflow
        error_type = type(error).__qualname__ if error is not None else None
        base = (n.GEN_AI_OPERATION, "chat", n.GEN_AI_PROVIDER, provider, n.GEN_AI_REQUEST_MODEL, model)
        if error_type is None:
            instruments.operation_duration.record(call.duration_s, telemetry.attributes(*base))
            instruments.agent_calls.add(1, (n.WORKFLOW, workflow, n.AGENT, call.agent, *base[2:]))
        else:
            instruments.operation_duration.record(
                call.duration_s, telemetry.attributes(*base, n.ERROR_TYPE, error_type)
            )
            instruments.agent_calls.add(
                1, (n.WORKFLOW, workflow, n.AGENT, call.agent, *base[2:], n.ERROR_TYPE, error_type)
            )
            instruments.agent_failures.add(1, (n.WORKFLOW, workflow, n.AGENT, call.agent, *base[2:]))
            return
        usage = call.usage
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
        ):
            if count:
                if kind in ("input", "output"):
                    instruments.token_usage.record(count, telemetry.attributes(*base, n.TOKEN_TYPE, kind))
                instruments.tokens.add(count, (n.WORKFLOW, workflow, *base[2:], n.TOKEN_TYPE, kind))
        if usage.cost_usd:
            instruments.cost.add(usage.cost_usd, (n.WORKFLOW, workflow, *base[2:]))

    def docs_starting(self) -> None:
        """Before the first fetch of a workflow's documentation: its series from 0."""
        self.telemetry.prime_docs(self.workflow)
        self.telemetry.prime_cache(self.workflow, "docs")

    async def traced_docs(
        self,
        stage: Stage | None,
        awaitable: Awaitable[DocBundle],
        libraries: Sequence[str],
        query: str,
        tokens: int | None,
    ) -> DocBundle:
        """Await a doc fetch inside a CLIENT span that records what the bundle delivered."""
        telemetry = self.telemetry
        attributes: dict[str, Any] = {n.DOCS_LIBRARIES: [str(library) for library in libraries]}
        if tokens is not None:
            attributes[n.DOCS_BUDGET] = tokens
        if telemetry.capture:
            attributes[n.DOCS_QUERY] = telemetry.content(query)
        span = telemetry.tracer.start_span(
            "fetch docs", context=self._parent(stage), kind=SpanKind.CLIENT, attributes=attributes
        )
        ended: dict[str, Any] = {}
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                bundle = await awaitable
        except Exception as error:
            _fail(span, error, ended)
            raise
        else:
            ended[n.DOCS_TOKENS] = bundle.tokens
            ended[n.DOCS_REQUESTS_MADE] = bundle.requests_made
            ended[n.DOCS_REQUESTS_AVOIDED] = bundle.requests_avoided
            ended[n.DOCS_TOKENS_CUT] = bundle.tokens_cut
            if bundle.failures:
                ended[n.DOCS_FAILED] = [error.library for error in bundle.failures]
                if not bundle.documents:
                    span.set_status(Status(StatusCode.ERROR, "no library's documentation could be fetched"))
            return bundle
        finally:
            span.set_attributes(ended)
            span.end()

    def docs_fetched(self, bundle: DocBundle) -> None:
        instruments = self.telemetry.instruments
        if bundle.requests_made:
            instruments.docs_requests.add(
                bundle.requests_made, (n.WORKFLOW, self.workflow, n.DOCS_OUTCOME, "made")
            )
        if bundle.requests_avoided:
            instruments.docs_requests.add(
                bundle.requests_avoided, (n.WORKFLOW, self.workflow, n.DOCS_OUTCOME, "avoided")
            )
        if bundle.tokens:
            instruments.docs_tokens.add(bundle.tokens, (n.WORKFLOW, self.workflow))

    # ------------------------------------------------------------------ the run

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        self.span.add_event(name, attributes)

    def finish(self, result: RunResult) -> None:
        """End every span still open (a stage killed by a BaseException), then the run's."""
        open_spans = [*((key[0], span) for key, span in self.items.items()), *self.stages.items()]
        self.items.clear()
        self.stages.clear()
        for name, span in open_spans:
            stage_result = result.stages.get(name)
            if stage_result is not None and stage_result.status is StageStatus.FAILED:
                _fail(span, stage_result.error, {})
            span.set_attribute(n.STAGE_STATUS, stage_result.status.value if stage_result else "unknown")
            span.end()
        for span, _ in self.calls.values():
            span.end()
        self.calls.clear()
        status = result.status.value
        usage = result.usage
        self.span.set_attributes(
            {
                n.RUN_STATUS: status,
                n.INPUT_TOKENS: usage.input_tokens,
                n.OUTPUT_TOKENS: usage.output_tokens,
                n.COST: usage.cost_usd,
                n.SAVED_COST: result.saved.cost_usd,
            }
        )
        if not result.ok:
            self.span.set_status(Status(StatusCode.ERROR, f"run {status}"))
        self.span.end()
        telemetry = self.telemetry
        instruments = telemetry.instruments
        key = (n.WORKFLOW, self.workflow, n.RUN_STATUS, status)
        instruments.workflow_runs.add(1, key)
        instruments.workflow_duration.record(result.duration_s, telemetry.attributes(*key))
        instruments.workflow_active.add(-1, (n.WORKFLOW, self.workflow))
