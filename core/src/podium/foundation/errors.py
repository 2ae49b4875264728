"""Podium's exceptions, all of them, each exported from ``podium``.

Every message says what is wrong, where, and what to do.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from typing import Any

#: The ``podium`` extra that installs each thing Podium's own plugins provide (a strategy
#: or an agent provider, by name, ``ctx.docs``, or all of them): the one place the kernel names its plugins,
#: used only by the errors that say what to install.
INSTALL_HINTS = {
    "strategy sequential": "podium[sequential]",
    "strategy parallel": "podium[parallel]",
    "strategy conditional": "podium[conditional]",
    "docs": "podium[context7]",
    "metrics": "podium[otel]",
    "executor dask": "podium[dask]",
    "provider anthropic": "podium[anthropic]",
    "provider openai": "podium[openai]",
    "everything": "podium[all]",
}


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def install_hint(need: str) -> str | None:
    """``pip install 'podium[...]'`` for a need of :data:`INSTALL_HINTS`, else ``None``."""
    extra = INSTALL_HINTS.get(need)
    return f"pip install '{extra}'" if extra else None


class PodiumError(Exception):
    """Base class of every error Podium raises on purpose."""


class DefinitionError(PodiumError):
    """A workflow, stage or policy is defined wrongly; raised before anything runs.

    ``option`` names the stage option it is about, when it is about one, so that a
    workflow file can point at its key (``stages[0].timeout``).
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class DefinitionErrors(DefinitionError):
    """Several definition errors found at once; each is listed with its location."""

    def __init__(self, errors: Sequence[str], source: str = "workflow") -> None:
        self.errors = list(errors)
        self.source = source
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{source} has {len(self.errors)} error(s):\n{lines}")


class ConfigError(PodiumError):
    """The configuration is invalid; the message lists each bad key with its path."""


class PluginError(PodiumError):
    """A plugin could not be loaded or misbehaved."""


class StrategyNotFound(DefinitionError):
    """A workflow names a strategy that no installed plugin provides."""


class StageTimeout(TimeoutError, PodiumError):
    """One attempt of a stage ran longer than its ``timeout``."""


class WorkflowTimeout(TimeoutError, PodiumError):
    """The whole run exceeded the workflow's ``timeout``; running stages were cancelled."""


class CacheKeyError(PodiumError, TypeError):
    """A stage input cannot be turned into a stable cache key."""


class CacheBackendError(PodiumError):
    """A cache command (stats, clear) could not be carried out on the cache backend."""


class RunStoreError(PodiumError):
    """The run store cannot be opened, read or written; the message says which and why."""


class ResumeError(PodiumError):
    """A stored run cannot be resumed: unknown, still running, already resumed, or its
    workflow's definition changed (the message lists what changed)."""


class RoutingError(PodiumError):
    """A route named a stage it may not go to."""


class MapError(PodiumError):
    """A mapped stage's items could not be read from the value it maps over (not a list or
    mapping, a set, a string); the mapped stage fails with it when the value is known."""


class GatherError(PodiumError):
    """Items of a mapped stage without ``partial=True`` did not succeed, so the stage failed.

    ``failures`` holds the result of each item that did not succeed, by item key.
    """

    def __init__(self, message: str, failures: dict[Any, Any]) -> None:
        super().__init__(message)
        self.failures = failures


class NoDocsProvider(PodiumError):
    """``ctx.docs(...)`` was called but no installed plugin fetches documentation."""


class AgentNotFound(PodiumError, LookupError):
    """``ctx.agent(name)`` names an agent nobody registered."""


class FlightAbandoned(PodiumError):
    """The caller leading a :class:`~podium.SingleFlight` call went away before starting the
    work; the callers waiting for it receive this and start over."""


class SimulatedAgentError(RuntimeError):
    """A failure scripted into a :class:`~podium.SimulatedAgent`; it stands for a provider's
    failure, so it is not a :class:`PodiumError`."""


class BudgetExceeded(PodiumError):
    """The run's budget is spent, so a new agent call was refused (calls in flight finish)."""


class CircuitOpen(PodiumError):
    """An agent's circuit breaker is open: the call was refused at once, no token spent.

    :ivar agent: The agent's name.
    :ivar since: When the breaker opened (a UTC :class:`datetime.datetime`).
    :ivar next_probe_s: Seconds until it lets one probe call through.
    """

    def __init__(self, message: str, *, agent: str, since: Any, next_probe_s: float) -> None:
        super().__init__(message)
        self.agent = agent
        self.since = since
        self.next_probe_s = next_probe_s


class TemplateError(PodiumError, LookupError):
    """A prompt template is unknown, or rendering it lacks a value for one of its fields."""


class QueueFull(PodiumError):
    """``Engine.submit(..., wait=False)`` found the run queue full; nothing was queued."""


#: Errors that another attempt cannot fix: the default ``Retry.retry_on`` never retries them.
NOT_RETRIED: tuple[type[Exception], ...] = (
    ConfigError,
    DefinitionError,
    PluginError,
    AgentNotFound,
    BudgetExceeded,
    TemplateError,
)


class ProviderErrorKind(enum.StrEnum):
    """What went wrong in a call to an LLM provider; decides whether another attempt may help."""

    RATE_LIMITED = "rate_limited"  # 429: too many requests or tokens for now
    OVERLOADED = "overloaded"  # 529, or a provider's "overloaded" error
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"  # no answer in time (the request may still have been billed)
    CONNECTION = "connection"  # could not reach the provider
    AUTHENTICATION = "authentication"  # 401: the key is missing, wrong or revoked
    PERMISSION = "permission"  # 403
    NOT_FOUND = "not_found"  # 404: e.g. an unknown model
    BAD_REQUEST = "bad_request"  # 400, 413, 422: the request itself is wrong
    QUOTA_EXHAUSTED = "quota_exhausted"  # a spend or billing limit that waiting will not lift
    OTHER = "other"


#: The kinds another attempt may fix (after waiting, when the provider says how long).
TRANSIENT_KINDS = frozenset(
    {
        ProviderErrorKind.RATE_LIMITED,
        ProviderErrorKind.OVERLOADED,
        ProviderErrorKind.SERVER_ERROR,
        ProviderErrorKind.TIMEOUT,
        ProviderErrorKind.CONNECTION,
    }
)


class ProviderError(PodiumError):
    """A call to an LLM provider failed; ``kind`` says how, ``transient`` whether to try again.

    :param message: The provider's own message (never the API key).
    :param provider: The provider's registered name (``"anthropic"``, ``"openai"``, ...).
    :param kind: A :class:`ProviderErrorKind`.
    :param status: The HTTP status, when there was a response.
    :param retry_after: Seconds the provider asked to wait before the next attempt.
    :param limits: The provider's rate-limit state from the response (a :class:`podium.RateLimits`).
    :param request_id: The provider's id of the request, for support tickets.

    When the agent layer gives up on a call it names the agent and the attempts it made
    (``agent``, ``attempts``), and the message begins with the agent:
    ``agent 'reviewer': no answer within 30 s (3 attempts)``.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        kind: ProviderErrorKind,
        status: int | None = None,
        retry_after: float | None = None,
        limits: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.kind = ProviderErrorKind(kind)
        self.status = status
        self.retry_after = retry_after
        self.limits = limits
        self.request_id = request_id
        self.agent: str | None = None
        self.attempts = 0

    def gave_up(self, agent: str, attempts: int) -> None:
        """Record that agent ``agent`` stopped after ``attempts`` attempts with this error."""
        self.agent = agent
        self.attempts = attempts

    def __str__(self) -> str:
        message = super().__str__()
        if self.agent is None:
            return message
        tries = f" ({self.attempts} attempts)" if self.attempts > 1 else ""
        return f"agent {self.agent!r}: {message}{tries}"

    @property
    def transient(self) -> bool:
        """Whether another attempt may succeed (rate limits, overload, 5xx, timeouts, connection)."""
        return self.kind in TRANSIENT_KINDS

    def __repr__(self) -> str:
        status = f", status={self.status}" if self.status is not None else ""
        return f"ProviderError({str(self)!r}, provider={self.provider!r}, kind={self.kind.value!r}{status})"
