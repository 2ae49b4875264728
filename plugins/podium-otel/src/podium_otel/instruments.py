"""The metric instruments podium-otel records, created once per engine.

Prometheus names (as the ``prometheus`` exporter serves them) are in ``docs/otel.md``:
dots become underscores, a unit such as ``s`` adds ``_seconds``, counters end in ``_total``.
"""

from __future__ import annotations

from opentelemetry import metrics

#: Seconds: from a cached stage (milliseconds) to a long agent workflow (ten minutes).
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
#: The GenAI semantic conventions' advised boundaries.
GEN_AI_DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
GEN_AI_TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)


class Instruments:
    """Every counter and histogram, by purpose."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.workflow_runs = meter.create_counter(
            "podium.workflow.runs", unit="{run}", description="Workflow runs that ended, by status"
        )
        self.workflow_active = meter.create_up_down_counter(
            "podium.workflow.active", unit="{run}", description="Workflow runs in progress"
        )
        self.workflow_duration = meter.create_histogram(
            "podium.workflow.duration",
            unit="s",
            description="Wall time of workflow runs",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.stage_runs = meter.create_counter(
            "podium.stage.runs", unit="{stage}", description="Stage outcomes (succeeded, cached, failed, ...)"
        )
        self.stage_duration = meter.create_histogram(
            "podium.stage.duration",
            unit="s",
            description="Wall time of stages that ran or came from the cache",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.stage_retries = meter.create_counter(
            "podium.stage.retries", unit="{retry}", description="Stage attempts that failed and were retried"
        )
        self.agent_calls = meter.create_counter(
            "podium.agent.calls", unit="{call}", description="Agent calls, with error.type when they failed"
        )
        self.tokens = meter.create_counter(
            "podium.tokens",
            unit="{token}",
            description="Tokens spent by agent calls, by model and gen_ai.token.type "
            "(input, output, cache_read, cache_write)",
        )
        self.cost = meter.create_counter("podium.cost", unit="USD", description="Cost of agent calls")
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
        self.cache_hits = meter.create_counter(
            "podium.cache.hits", unit="{hit}", description="Cache hits by kind (stage, agent, docs)"
        )
        self.cache_misses = meter.create_counter(
            "podium.cache.misses", unit="{miss}", description="Cache misses by kind (stage, agent, docs)"
        )
        self.cache_saved_tokens = meter.create_counter(
            "podium.cache.saved.tokens",
            unit="{token}",
            description="Input and output tokens cache hits avoided",
        )
        self.cache_saved_cost = meter.create_counter(
            "podium.cache.saved.cost", unit="USD", description="Cost cache hits avoided"
        )
        self.docs_requests = meter.create_counter(
            "podium.docs.requests",
            unit="{request}",
            description="Documentation requests made, and avoided by batching and caching",
        )
        self.docs_tokens = meter.create_counter(
            "podium.docs.tokens", unit="{token}", description="Documentation tokens delivered to stages"
        )
        self.alerts = meter.create_counter("podium.alerts", unit="{alert}", description="Alerts raised")
