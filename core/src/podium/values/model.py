"""Value objects of the public API: policies a user declares and results a run returns."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs

from podium.foundation.errors import NOT_RETRIED, DefinitionError, ProviderError
from podium.values.keys import check_namespace


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise DefinitionError(f"{attribute.name} must be >= 0, got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise DefinitionError(f"{attribute.name} must be > 0, got {value!r}")


def _retry_on_default(error: BaseException) -> bool:
    if isinstance(error, ProviderError):
        # Running the body again sends the same request: a permanent error gets the same
        # answer, and a transient one the agent's own retry has already sent again.
        return error.transient and error.attempts <= 1
    return isinstance(error, Exception) and not isinstance(error, NOT_RETRIED)


@attrs.frozen
class Retry:
    """How a stage body is retried: exponential backoff with full jitter.

    The delay before retry *n* (1-based) is a random value in
    ``[0, min(max_delay, delay * backoff ** (n - 1))]`` when ``jitter`` is on, else that bound.
    ``retry_on`` decides which exceptions are worth another attempt (a tuple of exception
    types or a predicate); timeouts of one attempt count as ``TimeoutError``. The default
    retries any ``Exception`` except those another attempt cannot fix: configuration and
    definition errors, a missing agent, a plugin error, :class:`podium.BudgetExceeded`, and
    a :class:`podium.ProviderError` that is permanent (a 4xx) or that the agent's own retry
    already sent again (so that the two retry layers never multiply requests).
    """

    attempts: int = attrs.field(default=3, validator=_positive)
    delay: float = attrs.field(default=0.5, validator=_non_negative)
    backoff: float = attrs.field(default=2.0, validator=_positive)
    max_delay: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] = attrs.field(
        default=_retry_on_default
    )

    def should_retry(self, error: BaseException) -> bool:
        """Whether ``error`` may be retried by this policy."""
        if isinstance(self.retry_on, tuple):
            return isinstance(error, self.retry_on)
        return bool(self.retry_on(error))

    def delay_before(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        bound = min(self.max_delay, self.delay * self.backoff ** (retry - 1))
        if not self.jitter:
            return bound
        return (rng or random).uniform(0, bound)


def _cache_namespace(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        check_namespace(value)
    except ValueError as error:
        raise DefinitionError(f"CachePolicy: {error}") from None


@attrs.frozen
class CachePolicy:
    """Opt-in caching of a stage's result by a stable hash of its inputs.

    - ``ttl``: seconds a cached value lives; ``None`` keeps it as long as the backend does.
    - ``key``: a function of the stage's keyword arguments returning a JSON-like value to
      hash instead of the arguments themselves (for inputs that cannot be keyed).
    - ``version``: overrides the stage's version in the key; bump it to invalidate.
    - ``namespace``: separates keys of otherwise identical calls, and is what
      ``podium cache clear --namespace`` deletes: 1-64 letters, digits, ``_ . -``.
    - ``read``: look values up, and share identical calls in flight (off: always execute,
      still write).
    - ``write``: store fresh values (with the tokens and cost they took).
    - ``refresh``: execute even on a hit and overwrite the stored value.
    """

    ttl: float | None = attrs.field(default=None, validator=_positive)
    key: Callable[..., Any] | None = None
    version: str | None = None
    namespace: str = attrs.field(default="", validator=_cache_namespace)
    read: bool = True
    write: bool = True
    refresh: bool = False


@attrs.frozen
class Budget:
    """Soft limits for one run: once spent, no new stage starts and an alert is raised.

    ``tokens`` counts input + output tokens (cache reads are priced, not counted here).
    """

    tokens: int | None = attrs.field(default=None, validator=_positive)
    cost_usd: float | None = attrs.field(default=None, validator=_positive)
    duration_s: float | None = attrs.field(default=None, validator=_positive)

    def breach(self, usage: Usage, cost_usd: float, elapsed_s: float) -> str | None:
        """The first limit exceeded, described for a person, or ``None``."""
        if self.tokens is not None and usage.total_tokens > self.tokens:
            return f"tokens {usage.total_tokens} > {self.tokens}"
        if self.cost_usd is not None and cost_usd > self.cost_usd:
            return f"cost ${cost_usd:.4f} > ${self.cost_usd:.4f}"
        if self.duration_s is not None and elapsed_s > self.duration_s:
            return f"duration {elapsed_s:.1f}s > {self.duration_s:.1f}s"
        return None

    def spent(self, usage: Usage, cost_usd: float, elapsed_s: float) -> float:
        """The largest share of a limit spent (1.0 is exactly the budget; 0 without limits)."""
        shares = [
            value / limit
            for value, limit in (
                (usage.total_tokens, self.tokens),
                (cost_usd, self.cost_usd),
                (elapsed_s, self.duration_s),
            )
            if limit
        ]
        return max(shares, default=0.0)


@attrs.frozen
class Usage:
    """Tokens and cost spent (or saved). ``total_tokens`` is input + output."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.requests + other.requests,
            self.cost_usd + other.cost_usd,
        )

    def __bool__(self) -> bool:
        return self != ZERO_USAGE


ZERO_USAGE = Usage()


class StageStatus(enum.StrEnum):
    """What became of a stage in a run."""

    SUCCEEDED = "succeeded"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self in (StageStatus.SUCCEEDED, StageStatus.CACHED)


class RunStatus(enum.StrEnum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BUDGET_EXCEEDED = "budget_exceeded"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@attrs.define(slots=True)
class StageResult:
    """The outcome of one visit of a stage: value or error, timing, attempts, usage and cost.

    ``visit`` numbers the visits of the stage in its run (1 for the first): each time the
    stage is decided — run, skipped or cancelled — is a visit, so a stage that a loop brings
    back has several (every one is in :attr:`RunResult.history`). ``error`` is the
    exception of a failed stage, or, with ``fallback`` set, the one its fallback replaced.

    A mapped stage (``map=``) has one visit per item, whose ``item_key`` is the item's
    index in the list (or its key in the mapping) the items came from, and one
    *gathered* result: ``items`` holds the item visits in item order, ``value`` their
    gathered values (a :class:`podium.Gathered` or :class:`podium.GatheredDict`),
    ``usage`` their sum, and ``visit`` the number of the last of them.
    """

    name: str
    status: StageStatus
    value: Any = None
    error: BaseException | None = None
    reason: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE
    route: tuple[str, ...] | None = None
    visit: int = 1
    fallback: bool = False
    item_key: Any = None
    items: tuple[StageResult, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.status.ok

    @property
    def cached(self) -> bool:
        return self.status is StageStatus.CACHED

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd


@attrs.define(slots=True)
class RunResult(Mapping[str, StageResult]):
    """The outcome of a workflow run; a mapping of stage name to :class:`StageResult`.

    ``result[name]`` is the stage's *latest* visit (for a mapped stage, its gathered
    result); :attr:`history` holds every visit in the order they settled (:meth:`visits`
    those of one stage, the items of a mapped stage), so the usage of the visits adds up
    to the run's. Every finished stage's result is here whatever the
    run's status: a failure, a budget breach, a timeout or a cancellation never loses
    work already done. ``reason`` says why a run that did not succeed ended.
    """

    run_id: str
    workflow: str
    status: RunStatus
    stages: dict[str, StageResult]
    started_at: datetime
    finished_at: datetime
    duration_s: float
    usage: Usage = ZERO_USAGE
    saved: Usage = ZERO_USAGE
    error: BaseException | None = None
    history: list[StageResult] = attrs.field(factory=list)
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd

    @property
    def saved_cost_usd(self) -> float:
        return self.saved.cost_usd

    def __getitem__(self, name: str) -> StageResult:
        try:
            return self.stages[name]
        except KeyError:
            raise KeyError(f"no stage {name!r} in run of {self.workflow!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    @property
    def outputs(self) -> dict[str, Any]:
        """The values of the stages that succeeded, by name."""
        return {name: r.value for name, r in self.stages.items() if r.ok}

    def visits(self, name: str) -> list[StageResult]:
        """Every visit of stage ``name``, in the order they settled."""
        if name not in self.stages:
            raise KeyError(f"no stage {name!r} in run of {self.workflow!r}")
        return [r for r in self.history if r.name == name]

    def failed(self) -> list[StageResult]:
        """The stages that failed, in run order."""
        return [r for r in self.stages.values() if r.status is StageStatus.FAILED]
