"""Declared agents and their policies: ``[agents.<name>]``, ``[limits.<key>]``, ``[scheduler]``.

An agent is declared once, in configuration or in code, with the same model: a
``provider`` and ``model`` (what :class:`podium.AgentSpec` carries to the provider's
factory), provider ``options``, and the policies the kernel applies around every call
(pool, rate limits, breaker, retry, fallback, cache). Everything is structured by cattrs
through :func:`podium.definition.config.structure`, so a bad value fails when the
configuration loads, at its path (``must be a positive integer, got -5 @ config.agents['reviewer'].tpm``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NewType

import attrs
import cattrs

from podium.definition.converter import Duration, parse_duration
from podium.foundation.errors import ConfigError, install_hint, suggest
from podium.foundation.redaction import Secret, is_secret_key

#: An integer above zero (``True`` and ``2.5`` are refused, not rounded).
PositiveInt = NewType("PositiveInt", int)

#: Per-call option names a provider understands that never change an answer, so they stay
#: out of agent-call cache keys (secrets are left out anyway).
TRANSPORT_OPTIONS = frozenset({"base_url", "timeout", "api_key", "headers", "organization"})


def positive_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"must be a positive integer, got {value!r}")
    return value


def _fraction(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not 0 < value <= 1:
        raise ValueError(f"must be a fraction in (0, 1], got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"must be > 0 seconds, got {value!r}")


def _not_negative(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"must be >= 0, got {value!r}")


@attrs.frozen
class RateLimit:
    """Requests and tokens per minute and per second; ``None`` leaves that meter unlimited.

    Tokens are input plus output. A call reserves its estimate (the prompt's tokens, at
    about 4 characters each, plus ``max_tokens`` or the agent's average reply) and settles
    with the usage the provider reports.
    """

    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    rps: PositiveInt | None = None
    tps: PositiveInt | None = None

    @property
    def limited(self) -> bool:
        return any(v is not None for v in (self.rpm, self.tpm, self.rps, self.tps))


@attrs.frozen
class BreakerPolicy:
    """When an agent's circuit opens, and when it probes again.

    :ivar failures: Consecutive failed calls that open it.
    :ivar reset_s: Seconds it stays open before one probe call is let through (half-open).
    :ivar failure_rate: Also open when this share of the calls in ``window_s`` failed
        (with at least ``min_calls`` calls in the window); ``None``: consecutive only.
    """

    failures: PositiveInt = PositiveInt(5)
    reset_s: Duration = attrs.field(default=30.0, validator=_positive)
    failure_rate: float | None = attrs.field(default=None, validator=_fraction)
    window_s: Duration = attrs.field(default=60.0, validator=_positive)
    min_calls: PositiveInt = PositiveInt(10)


@attrs.frozen
class AgentRetry:
    """How an agent re-sends a call that failed with a transient provider error.

    Rate limits, overload, 5xx, timeouts and connection errors are retried (waiting what
    the provider's ``retry-after`` asked, else exponential backoff with full jitter);
    4xx and configuration errors never are. ``attempts`` counts the first one.
    """

    attempts: PositiveInt = PositiveInt(3)
    delay: Duration = attrs.field(default=1.0, validator=_not_negative)
    backoff: float = attrs.field(default=2.0, validator=_not_negative)
    max_delay: Duration = attrs.field(default=60.0, validator=_not_negative)
    jitter: bool = True


def _pool(instance: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None:
        positive_int(value, int)


@attrs.frozen
class AgentPolicy:
    """What the kernel does around every call of one agent (all off by default).

    :ivar pool: At most this many calls at once; the others wait, first come first served.
    :ivar limits: The agent's own :class:`RateLimit`.
    :ivar limit_key: The provider key whose shared limits (``[limits.<key>]``) the agent
        also draws from; default: its provider's name.
    :ivar breaker: Its :class:`BreakerPolicy`, or ``None`` for no breaker.
    :ivar retry: Its :class:`AgentRetry`, or ``None`` for one attempt per call.
    :ivar fallback: An agent to call instead while the breaker is open, or when the call
        failed with a transient error after its retries.
    :ivar cache: Cache replies by provider, model, options and prompt (agent-call cache).
    :ivar cache_ttl: Seconds a cached reply lives (``None``: as long as the backend keeps it).
    """

    pool: int | None = attrs.field(default=None, validator=_pool)
    limits: RateLimit = RateLimit()
    limit_key: str | None = None
    breaker: BreakerPolicy | None = None
    retry: AgentRetry | None = AgentRetry()
    fallback: str | None = None
    cache: bool = False
    cache_ttl: float | None = attrs.field(default=None, validator=_positive)


@attrs.frozen
class AgentDeclaration:
    """One ``[agents.<name>]`` table: what to build and the policies around it.

    ``provider`` and ``model`` are required unless the name is an agent registered in code,
    whose policies the table then sets. Every other key of the table is a provider option
    (``max_tokens``, ``system``, ...), checked by the provider when it builds the agent;
    ``api_key`` and other secret-looking ones are kept as :class:`podium.Secret`.
    """

    provider: str | None = None
    model: str | None = None
    options: dict[str, Any] = attrs.field(factory=dict)
    pool: PositiveInt | None = None
    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    rps: PositiveInt | None = None
    tps: PositiveInt | None = None
    limit_key: str | None = None
    breaker: BreakerPolicy | None = None
    retry: AgentRetry | None = AgentRetry()
    fallback: str | None = None
    cache: bool | float = False

    def policy(self) -> AgentPolicy:
        """The declared policies as an :class:`AgentPolicy`."""
        ttl = None if isinstance(self.cache, bool) else float(self.cache)
        return AgentPolicy(
            pool=self.pool,
            limits=RateLimit(self.rpm, self.tpm, self.rps, self.tps),
            limit_key=self.limit_key,
            breaker=self.breaker,
            retry=self.retry,
            fallback=self.fallback,
            cache=self.cache is not False,
            cache_ttl=ttl,
        )

    def secret_options(self) -> dict[str, Any]:
        """``options`` with secret-looking values wrapped in :class:`podium.Secret`."""
        return {
            key: Secret(str(value)) if is_secret_key(key) and not isinstance(value, Secret) else value
            for key, value in self.options.items()
        }


@attrs.frozen
class SchedulerSettings:
    """``[scheduler]``: how many workflow runs an engine runs at once, and how many wait.

    :ivar max_concurrent: Runs at once (``None``: no limit, every run starts at once).
    :ivar queue_size: Runs waiting for a slot before ``submit`` waits (or raises
        :class:`podium.QueueFull` with ``wait=False``); ``None``: unbounded.
    """

    max_concurrent: PositiveInt | None = None
    queue_size: PositiveInt | None = None


@attrs.frozen
class TemplateDeclaration:
    """One ``[templates.<name>]`` table: a prompt template's static prefix and its body."""

    prefix: str
    body: str = "{input}"


def _structure_cache(value: Any, _: type) -> bool | float:
    if isinstance(value, bool):
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = 0.0
    if seconds > 0:
        return seconds
    raise ValueError(f"expected true, false or a TTL in seconds (> 0, or like '1h'), got {value!r}")


def _structure_breaker(value: Any, _: type) -> BreakerPolicy | None:
    if value is False or value is None:
        return None
    if value is True:
        return BreakerPolicy()
    raise TypeError  # a table: structured by the converter's attrs hook


def _structure_retry(value: Any, _: type) -> AgentRetry | None:
    if value is False or value is None:
        return None
    if value is True:
        return AgentRetry()
    if isinstance(value, int) and not isinstance(value, bool):
        return AgentRetry(attempts=PositiveInt(positive_int(value, int)))
    raise TypeError


def register_agent_hooks(converter: cattrs.Converter) -> None:
    """Teach a configuration converter the agents' value types."""
    converter.register_structure_hook(PositiveInt, positive_int)
    converter.register_structure_hook_func(lambda t: t == bool | float, _structure_cache)
    attrs_hook = converter.get_structure_hook(BreakerPolicy)
    retry_hook = converter.get_structure_hook(AgentRetry)

    def breaker(value: Any, cls: type) -> BreakerPolicy | None:
        try:
            return _structure_breaker(value, cls)
        except TypeError:
            if not isinstance(value, Mapping):
                raise ValueError(f"expected true, false or a table, got {value!r}") from None
            result: BreakerPolicy = attrs_hook(value, BreakerPolicy)
            return result

    def retry(value: Any, cls: type) -> AgentRetry | None:
        try:
            return _structure_retry(value, cls)
        except TypeError:
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"expected true, false, a number of attempts or a table, got {value!r}"
                ) from None
            result: AgentRetry = retry_hook(value, AgentRetry)
            return result

    converter.register_structure_hook(BreakerPolicy | None, breaker)
    converter.register_structure_hook(AgentRetry | None, retry)
    policies = converter.get_structure_hook(AgentDeclaration)
    policy_keys = {field.name for field in attrs.fields(AgentDeclaration)} - {"options"}

    def declaration(value: Any, cls: type) -> AgentDeclaration:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a table, got {value!r}")
        options = {k: v for k, v in value.items() if k not in policy_keys}
        declared: AgentDeclaration = policies({k: v for k, v in value.items() if k in policy_keys}, cls)
        return attrs.evolve(declared, options=options)

    converter.register_structure_hook(AgentDeclaration, declaration)


def check_declarations(
    agents: Mapping[str, AgentDeclaration], *, in_code: set[str], providers: set[str]
) -> list[str]:
    """Cross-agent errors (missing provider, unknown provider or fallback, fallback cycles)."""
    errors: list[str] = []
    known = set(agents) | in_code
    for name, declared in agents.items():
        where = f"agents.{name}"
        if name in in_code:
            if declared.provider is not None or declared.model is not None:
                errors.append(
                    f"{where}: {name!r} is registered in code; its table may set policies only, "
                    "not provider or model (rename one of them)"
                )
        else:
            if declared.provider is None:
                errors.append(f"{where}.provider: required (a registered provider: {_listing(providers)})")
            elif declared.provider not in providers:
                command = install_hint(f"provider {declared.provider}")
                errors.append(
                    f"{where}.provider: no provider named {declared.provider!r}"
                    f"{suggest(declared.provider, sorted(providers))}; "
                    f"registered: {_listing(providers)}"
                    + (f"; install it with: {command}" if command else "")
                )
            if declared.model is None:
                errors.append(f"{where}.model: required")
        if declared.fallback is not None and declared.fallback not in known:
            hint = suggest(declared.fallback, sorted(known))
            errors.append(f"{where}.fallback: no agent named {declared.fallback!r}{hint}")
    for name in agents:
        seen = [name]
        current = agents[name].fallback
        while current is not None and current in agents:
            if current in seen:
                errors.append(f"agents.{name}.fallback: a cycle ({' -> '.join([*seen, current])})")
                break
            seen.append(current)
            current = agents[current].fallback
    return errors


def _listing(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def raise_errors(errors: list[str], origin: str) -> None:
    if errors:
        body = "\n".join(f"  - {e}" for e in errors)
        raise ConfigError(f"{origin}: invalid agents:\n{body}")


__all__ = [
    "AgentDeclaration",
    "AgentPolicy",
    "AgentRetry",
    "BreakerPolicy",
    "PositiveInt",
    "RateLimit",
    "SchedulerSettings",
    "TemplateDeclaration",
    "check_declarations",
    "register_agent_hooks",
]
