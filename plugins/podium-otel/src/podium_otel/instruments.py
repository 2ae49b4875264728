"""The metric instruments podium-otel records, created once per engine.

Counters are *observable*: a stage adds to a plain dict (a fraction of a microsecond) and
the SDK reads the totals only when a reader collects, instead of aggregating every
increment as it happens. Histograms have no such form and are recorded as they come.

A counter's series is published from 0 as soon as its labels are known (a workflow's
first run, an agent's first call), not on its first increment: Prometheus computes
``increase()`` and ``rate()`` from two samples of a series, so one born at 1 would hide
the event that created it.

Prometheus names (as the ``prometheus`` exporter serves them) are in ``docs/otel.md``:
dots become underscores, a unit such as ``s`` adds ``_seconds``, counters end in ``_total``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

#: Attributes as ``(key, value, key, value, ...)``: hashable, built without a dict.
Key = tuple[Any, ...]

#: Seconds: from a cached stage (milliseconds) to a long agent workflow (ten minutes).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
#: The GenAI semantic conventions' advised boundaries: 0.01 s doubling to 81.92 s, 1 token x4 to 4**13.
GEN_AI_DURATION_BUCKETS = tuple(round(0.01 * 2**i, 2) for i in range(14))
GEN_AI_TOKEN_BUCKETS = tuple(4**i for i in range(14))


class Cumulative:
    """A monotonic (or up-down) total per attribute set, observed when a reader collects."""

    __slots__ = ("_attributes", "_totals")

    def __init__(
        self, meter: metrics.Meter, name: str, unit: str, description: str, *, up_down: bool = False
    ) -> None:
        self._totals: dict[Key, float] = {}
        self._attributes: dict[Key, dict[str, Any]] = {}
        create = meter.create_observable_up_down_counter if up_down else meter.create_observable_counter
        create(name, callbacks=[self._observe], unit=unit, description=description)

    def add(self, amount: float, key: Key) -> None:
        totals = self._totals
        totals[key] = totals.get(key, 0) + amount

    def prime(self, key: Key) -> None:
        """Publish the series ``key`` at 0 before anything is counted in it.

        A series first seen already at 1 hides that first increment from Prometheus's
        ``increase()`` and ``rate()``, which need two samples of the series.
        """
        self._totals.setdefault(key, 0)

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        # Readers call this from their own thread: copying the dict is atomic under the GIL.
        observations = []
        for key, total in self._totals.copy().items():
            attributes = self._attributes.get(key)
            if attributes is None:
                attributes = self._attributes[key] = dict(zip(key[::2], key[1::2], strict=True))
            observations.append(Observation(total, attributes))
        return observations


class Instruments:
    """Every counter and histogram, by purpose."""

    def __init__(self, meter: metrics.Meter, queue_depth: Callable[[], int] | None = None) -> None:
        if queue_depth is not None:
            depth = queue_depth

            def observe_depth(options: CallbackOptions) -> Iterable[Observation]:
                return [Observation(depth())]

            meter.create_observable_gauge(
                "podium.workflow.queue.depth",
                callbacks=[observe_depth],
                unit="{run}",
                description="Workflow runs waiting in the engine's queue for a slot (max_concurrent)",
            )
        self.workflow_queue_wait = meter.create_histogram(
            "podium.workflow.queue.wait",
            unit="s",
            description="Seconds runs waited in the engine's queue before they started",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.breaker_changes = Cumulative(
            meter,
            "podium.agent.breaker.changes",
            unit="{change}",
            description="Circuit breaker state changes, by agent and new state",
        )
        self.workflow_runs = Cumulative(
            meter, "podium.workflow.runs", unit="{run}", description="Workflow runs that ended, by status"
        )
        self.workflow_active = Cumulative(
            meter,
            "podium.workflow.active",
            unit="{run}",
            description="Workflow runs in progress",
            up_down=True,
        )
        self.workflow_duration = meter.create_histogram(
            "podium.workflow.duration",
            unit="s",
            description="Wall time of workflow runs",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.stage_runs = Cumulative(
            meter,
            "podium.stage.runs",
            unit="{stage}",
            description="Stage outcomes (succeeded, cached, failed, ...)",
        )
        self.stage_duration = meter.create_histogram(
            "podium.stage.duration",
            unit="s",
            description="Wall time of stages that ran or came from the cache",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.stage_retries = Cumulative(
            meter,
            "podium.stage.retries",
            unit="{retry}",
            description="Stage attempts that failed and were retried",
        )
        self.agent_calls = Cumulative(
            meter,
            "podium.agent.calls",
            unit="{call}",
            description="Agent calls, with error.type when they failed",
        )
        self.agent_failures = Cumulative(
            meter,
            "podium.agent.failures",
            unit="{failure}",
            description="Agent calls that failed, from 0 for every agent called (failure rate's numerator)",
        )
        self.tokens = Cumulative(
            meter,
            "podium.tokens",
            unit="{token}",
            description="Tokens spent by agent calls, by model and gen_ai.token.type "
            "(input, output, cache_read, cache_write)",
        )
        self.cost = Cumulative(meter, "podium.cost", unit="USD", description="Cost of agent calls")
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens per agent call (GenAI semantic conventions)",
            explicit_bucket_boundaries_advisory=GEN_AI_TOKEN_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="Duration of agent calls (GenAI semantic conventions)",
            explicit_bucket_boundaries_advisory=GEN_AI_DURATION_BUCKETS,
        )
        self.cache_hits = Cumulative(
            meter, "podium.cache.hits", unit="{hit}", description="Cache hits by kind (stage, agent, docs)"
        )
        self.cache_misses = Cumulative(
            meter,
            "podium.cache.misses",
            unit="{miss}",
            description="Cache misses by kind (stage, agent, docs)",
        )
        self.cache_saved_tokens = Cumulative(
            meter,
            "podium.cache.saved.tokens",
            unit="{token}",
            description="Input and output tokens cache hits avoided",
        )
        self.cache_saved_cost = Cumulative(
            meter, "podium.cache.saved.cost", unit="USD", description="Cost cache hits avoided"
        )
        self.docs_requests = Cumulative(
            meter,
            "podium.docs.requests",
            unit="{request}",
            description="Documentation requests made, and avoided by batching and caching",
        )
        self.docs_tokens = Cumulative(
            meter,
            "podium.docs.tokens",
            unit="{token}",
            description="Documentation tokens delivered to stages",
        )
        self.alerts = Cumulative(meter, "podium.alerts", unit="{alert}", description="Alerts raised")
