"""What the run store keeps: a record per run, per stage visit and per agent call, and
each change of an agent's circuit breaker.

Records are plain values (times in seconds since the epoch, usage as :class:`Usage`),
the same whichever store keeps them; KPIs, alert rules, cost reports and resume read
them. ``[run_store]`` in the configuration is :class:`RunStoreSettings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from podium.values.model import ZERO_USAGE, Usage
from podium.values.serialization import SERIALIZERS, StoredValue
from podium.values.units import Duration

#: The run store the command line records to when no ``store`` is configured (and what
#: ``store = true`` means).
DEFAULT_STORE_URL = "sqlite:///.podium/runs.sqlite3"

#: Store statuses beyond a :class:`podium.RunStatus`: a run still going, and one whose
#: process died without ending it (found by the store, e.g. after a SIGKILL).
RUNNING = "running"
INTERRUPTED = "interrupted"
#: Statuses of runs that ended (a RunStatus value, or interrupted).
ENDED = ("succeeded", "failed", "budget_exceeded", "timed_out", "cancelled", INTERRUPTED)
#: Runs a resume may continue.
RESUMABLE = ("failed", "budget_exceeded", "timed_out", "cancelled", INTERRUPTED)


def _serializer(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in SERIALIZERS:
        raise ValueError(f"serializer must be one of {', '.join(SERIALIZERS)}, got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.define
class RunStoreSettings:
    """The ``[run_store]`` section: how runs are kept (where is the top-level ``store``).

    - ``serializer``: ``"json"`` (safe, the default) or ``"pickle"``, which also keeps
      values JSON cannot hold; pickle runs code when read, so use it only for a store
      that only trusted processes write.
    - ``capture_content``: also keep agent prompts and replies (off: only their sizes).
    - ``heartbeat``: seconds between "still running" marks; a run of another host whose
      mark is older than three heartbeats counts as interrupted.
    - ``busy_timeout``: seconds to wait for another process's write lock.
    - ``commit_timeout``: seconds a stage waits for its result to be committed before the
      store counts as broken (the run goes on unrecorded).
    """

    serializer: str = attrs.field(default="json", validator=_serializer)
    capture_content: bool = False
    heartbeat: Duration = attrs.field(default=10.0, validator=_positive)
    busy_timeout: Duration = attrs.field(default=5.0, validator=_positive)
    commit_timeout: Duration = attrs.field(default=10.0, validator=_positive)


@attrs.frozen
class DocCounters:
    """What a run's documentation fetches did: requests made and avoided, tokens, tokens cut."""

    requests_made: int = 0
    requests_avoided: int = 0
    tokens: int = 0
    tokens_cut: int = 0

    def __add__(self, other: DocCounters) -> DocCounters:
        return DocCounters(
            self.requests_made + other.requests_made,
            self.requests_avoided + other.requests_avoided,
            self.tokens + other.tokens,
            self.tokens_cut + other.tokens_cut,
        )


@attrs.frozen
class RunRecord:
    """One run: what ran, from where, how it ended, what it spent and saved.

    ``status`` is a :class:`podium.RunStatus` value, ``running`` or ``interrupted``;
    ``inputs`` holds each workflow input as stored (one that could not be kept says why);
    ``cache`` counts cache hits and misses by kind (``{"stage": (hits, misses), ...}``);
    ``resumed_from`` is the run this one continued.
    """

    run_id: str
    workflow: str
    status: str
    started_at: float
    definition_hash: str = ""
    strategy: str = ""
    target: str | None = None
    inputs: Mapping[str, StoredValue] = attrs.field(factory=dict)
    finished_at: float | None = None
    duration_s: float | None = None
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE
    reason: str | None = None
    resumed_from: str | None = None
    budget_tokens: int | None = None
    budget_cost_usd: float | None = None
    docs: DocCounters = DocCounters()
    cache: Mapping[str, tuple[int, int]] = attrs.field(factory=dict)
    host: str | None = None
    pid: int | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@attrs.frozen
class VisitRecord:
    """One visit of a stage, with its value when it succeeded (``None``: not kept).

    ``cache`` says what the result cache did: ``hit``, ``coalesced``, ``miss`` (ran and
    stored), ``restored`` (reused from the run this one resumed), or ``None``.
    """

    run_id: str
    stage: str
    visit: int
    status: str
    seq: int = 0
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float = 0.0
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE
    cache: str | None = None
    route: tuple[str, ...] | None = None
    reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    fallback: bool = False
    value: StoredValue | None = None
    workflow: str = ""


@attrs.frozen
class AgentCallRecord:
    """One agent call of a run; ``prompt`` and ``reply`` only with ``capture_content``."""

    run_id: str
    agent: str
    provider: str
    model: str
    started_at: float
    duration_s: float = 0.0
    usage: Usage = ZERO_USAGE
    stage: str | None = None
    visit: int | None = None
    error_type: str | None = None
    cached: bool = False
    prompt: str | None = None
    reply: str | None = None
    workflow: str = ""

    @property
    def failed(self) -> bool:
        return self.error_type is not None


@attrs.frozen
class BreakerChange:
    """An agent's circuit breaker changed ``previous`` → ``state`` (``closed``, ``open``,
    ``half_open``) at ``changed_at``, in the process ``pid`` on ``host``; ``run_id`` and
    ``workflow`` are the run whose call changed it, when there was one."""

    agent: str
    state: str
    previous: str
    reason: str
    changed_at: float
    provider: str = ""
    model: str = ""
    run_id: str | None = None
    workflow: str | None = None
    host: str = ""
    pid: int | None = None


@attrs.frozen
class RunFilter:
    """Which runs a query is about: started since/before (epoch seconds), of a workflow, with
    a status, whose id starts with a prefix, that resumed a run; the newest ``limit``."""

    since: float | None = None
    until: float | None = None
    workflow: str | None = None
    status: str | None = None
    id_prefix: str | None = None
    resumed_from: str | None = None
    limit: int | None = None


__all__ = [
    "DEFAULT_STORE_URL",
    "ENDED",
    "INTERRUPTED",
    "RESUMABLE",
    "RUNNING",
    "AgentCallRecord",
    "BreakerChange",
    "DocCounters",
    "RunFilter",
    "RunRecord",
    "RunStoreSettings",
    "VisitRecord",
]
