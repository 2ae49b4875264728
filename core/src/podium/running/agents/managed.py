"""A managed agent: the policies the kernel applies around every call of one agent.

A call goes through, in this order: the agent-call cache with single-flight (opt-in;
a hit spends nothing), the circuit breaker (open: fail fast with
:class:`podium.CircuitOpen`, or go to the fallback agent), the pool, then the retry loop,
whose every attempt is admitted by the rate limiter (requests and estimated tokens),
sent to the provider, and settled with the tokens really spent. The budget is checked
before all of it, by the stage's :class:`~podium.running.agents.registry.BoundAgent`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from podium.definition.agents import TRANSPORT_OPTIONS, AgentPolicy
from podium.foundation.errors import CircuitOpen, PodiumError, ProviderError, ProviderErrorKind
from podium.foundation.redaction import Secret, is_secret_key
from podium.running.agents.breaker import BreakerState, CircuitBreaker
from podium.running.agents.limiter import Limiter, Meter
from podium.running.agents.pool import Pool
from podium.running.agents.protocol import Agent, AgentCall, AgentReply
from podium.running.agents.reported import UNITS, ReportedQuota
from podium.running.agents.simulated import estimate_tokens
from podium.running.agents.windows import MINUTE
from podium.values.keys import agent_key
from podium.values.model import Usage
from podium.values.providers import Prompt, RateLimits

if TYPE_CHECKING:
    from podium.running.context import Context
    from podium.running.scheduler import RunState

_log = logging.getLogger("podium.agents")

#: Weight of the newest reply in the running average of an agent's output tokens.
_OUTPUT_AVERAGE_WEIGHT = 0.2


_NOT_COUNTED = frozenset(
    {ProviderErrorKind.BAD_REQUEST, ProviderErrorKind.NOT_FOUND, ProviderErrorKind.RATE_LIMITED}
)


def _failure_counts(error: BaseException) -> bool:
    """Whether an error says the agent is unwell (the breaker counts it), not the caller."""
    if isinstance(error, ProviderError):
        # The caller's mistakes, and a quota the limiter waits out, say nothing of its health.
        return error.kind not in _NOT_COUNTED
    return isinstance(error, Exception) and not isinstance(error, PodiumError)


def _unmetered_units(meters: tuple[Meter, ...]) -> frozenset[str]:
    """The reported units that no declared per-minute meter keeps."""
    minute = [m for m in meters if m.window_s >= MINUTE]
    metered = {
        unit
        for unit, tokens in (("requests", False), ("tokens", True))
        if any(m.tokens is tokens for m in minute)
    }
    return frozenset(UNITS) - metered


def _keyed(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that can change an answer: no transport settings, never a secret."""
    return {
        k: v
        for k, v in options.items()
        if k not in TRANSPORT_OPTIONS and not is_secret_key(k) and not isinstance(v, Secret)
    }


class ManagedAgent:
    """One agent with its policies: pool, meters, breaker, retry, fallback, cache."""

    def __init__(
        self,
        name: str,
        agent: Agent,
        policy: AgentPolicy,
        *,
        limiter: Limiter,
        meters: tuple[Meter, ...] = (),
        key_options: Mapping[str, Any] | None = None,
        agents: Mapping[str, ManagedAgent] | None = None,
        reported: ReportedQuota | None = None,
    ) -> None:
        self.name = name
        self.agent = agent
        self.policy = policy
        self.limiter = limiter
        #: The agent's own meters and those of its provider key.
        self.meters = meters
        #: What the provider last reported of its rate limits (shared by the key's agents of a model).
        self.reported = reported if reported is not None else ReportedQuota(f"agent:{name}")
        #: The reported units a request is checked against: those the agent's own
        #: per-minute meters do not already keep (declared limits govern where given).
        self._reported_units = _unmetered_units(meters)
        self.pool = Pool(policy.pool) if policy.pool else None
        self.breaker = CircuitBreaker(policy.breaker) if policy.breaker else None
        #: When the breaker last opened (UTC), for messages and ``podium agents``.
        self.opened_at: datetime | None = None
        self._key_options = _keyed(key_options or {})
        self._max_tokens = (key_options or {}).get("max_tokens")
        self._agents = agents if agents is not None else {}
        self._output_average = 0.0
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"<ManagedAgent {self.name!r} {self.agent.provider}/{self.agent.model}>"

    @property
    def provider(self) -> str:
        return self.agent.provider

    @property
    def model(self) -> str:
        return self.agent.model

    # ------------------------------------------------------------------ the call

    async def complete(
        self, prompt: str | Prompt, options: Mapping[str, Any], call: AgentCall, ctx: Context
    ) -> AgentReply:
        """Answer through every layer; sets ``call``'s ``cached``, ``saved``, ``attempts``, ``fallback``."""
        run = ctx.run
        cache = run.result_cache
        if not (self.policy.cache and cache.enabled):
            return await self._send(prompt, options, call, run)
        key = self.cache_key(prompt, options)

        def on_miss() -> None:
            run.events.emit("podium_cache_miss", run=run, stage=ctx.stage, kind="agent", key=key)

        async def priced() -> tuple[AgentReply, Usage]:
            # Stored with its cost, so that a hit can say what it saved.
            reply = await self._send(prompt, options, call, run)
            return reply, run.pricing.price(reply.model or self.model, reply.usage)

        def execute() -> Coroutine[Any, Any, tuple[AgentReply, Usage]]:
            return priced()

        outcome = await cache.get_or_run(key, execute, ttl=self.policy.cache_ttl, on_miss=on_miss)
        if outcome.hit:
            call.cached = True
            call.saved = outcome.saved
            ctx.record_saved(outcome.saved)
            run.events.emit(
                "podium_cache_hit", run=run, stage=ctx.stage, kind="agent", key=key, saved=outcome.saved
            )
        return outcome.value

    def cache_key(self, prompt: str | Prompt, options: Mapping[str, Any]) -> str:
        """The agent-call cache key: provider, model, options (no secrets) and prompt."""
        keyed = {**self._key_options, **_keyed(options)}
        return agent_key(self.provider, self.model, Prompt.of(prompt), keyed)

    async def _send(
        self, prompt: str | Prompt, options: Mapping[str, Any], call: AgentCall, run: RunState
    ) -> AgentReply:
        """Breaker, pool, retries, fallback."""
        breaker = self.breaker
        if breaker is not None:
            admitted, moved = breaker.admit(self._now())
            if moved is not None:
                self._announce(run, moved, BreakerState.OPEN, "reset time passed: one probe call")
            if not admitted:
                refused = self._refusal()
                if self.policy.fallback is not None:
                    return await self._fall_back(prompt, options, call, run, refused)
                raise refused
        try:
            if self.pool is None:
                reply = await self._attempts(prompt, options, call, run)
            else:
                async with self.pool:
                    reply = await self._attempts(prompt, options, call, run)
        except BaseException as error:
            if breaker is not None:
                if _failure_counts(error):
                    previous = breaker.state
                    moved = breaker.failed(self._now(), f"{type(error).__name__}: {error}")
                    if moved is not None:
                        self.opened_at = datetime.now(UTC)
                        self._announce(run, moved, previous, self._open_reason())
                else:
                    breaker.released()
            if self.policy.fallback is not None and isinstance(error, ProviderError) and error.transient:
                return await self._fall_back(prompt, options, call, run, error)
            raise
        if breaker is not None:
            previous = breaker.state
            moved = breaker.succeeded(self._now())
            if moved is not None:
                self._announce(run, moved, previous, "the probe call succeeded")
        return reply

    async def _fall_back(
        self,
        prompt: str | Prompt,
        options: Mapping[str, Any],
        call: AgentCall,
        run: RunState,
        error: BaseException,
    ) -> AgentReply:
        name = self.policy.fallback
        assert name is not None
        other = self._agents.get(name)
        if other is None or (call.fallback is not None and name in call.fallback.split(" -> ")):
            raise error
        _log.warning("agent %r: %s; falling back to %r", self.name, error, name, extra=run.log_extra())
        call.fallback = name if call.fallback is None else f"{call.fallback} -> {name}"
        return await other._send(prompt, options, call, run)

    async def _attempts(
        self, prompt: str | Prompt, options: Mapping[str, Any], call: AgentCall, run: RunState
    ) -> AgentReply:
        """The retry loop: each attempt admitted, sent, settled (:meth:`_attempt`)."""
        retry = self.policy.retry
        attempts = retry.attempts if retry is not None else 1
        estimate = self._estimate(prompt, options)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(prompt, options, call, estimate)
            except ProviderError as error:
                if retry is None or not error.transient or attempt >= attempts:
                    error.gave_up(self.name, attempt)
                    raise
                delay = self._delay(attempt, error.retry_after)
                _log.info(
                    "agent %r: %s (attempt %d of %d); retrying in %.2fs",
                    self.name,
                    error.kind.value,
                    attempt,
                    attempts,
                    delay,
                    extra=run.log_extra(),
                )
                await asyncio.sleep(delay)

    async def _attempt(
        self, prompt: str | Prompt, options: Mapping[str, Any], call: AgentCall, estimate: tuple[int, int]
    ) -> AgentReply:
        """One request: admitted by what the provider last reported and by the meters, then
        sent; the meters settled with the tokens really spent, the report kept."""
        prompt_tokens, output_tokens = estimate
        tokens = prompt_tokens + output_tokens
        reported, units = self.reported, self._reported_units
        sent = reported.enter(prompt_tokens, output_tokens, units)
        if sent is None:
            sent = await reported.admit(prompt_tokens, output_tokens, units)
        limits: Any = None
        try:
            ticket = await self.limiter.acquire(self.meters, tokens)
            call.attempts += 1
            try:
                reply = await self.agent.complete(prompt, **options)
            except ProviderError as error:
                limits = error.limits
                await self.limiter.settle(ticket, 0, tokens)  # a refused request spent no tokens
                await self._heed(
                    error.limits, error.retry_after if error.kind is ProviderErrorKind.RATE_LIMITED else None
                )
                raise
            except BaseException:
                await self.limiter.settle(ticket, 0, tokens)
                raise
            limits = reply.limits
            usage = reply.usage
            await self.limiter.settle(
                ticket, usage.input_tokens + usage.output_tokens + usage.cache_write_tokens, tokens
            )
            self._learn(usage.output_tokens)
            if limits is not None and self.meters:
                await self._heed(limits, None)
            return reply
        finally:
            reported.ended(sent, limits)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        retry = self.policy.retry
        assert retry is not None
        bound = min(retry.max_delay, retry.delay * retry.backoff ** (attempt - 1))
        return self._random.uniform(0, bound) if retry.jitter else bound

    async def _heed(self, limits: Any, retry_after: float | None) -> None:
        """Close the meters for as long as the provider said (``retry-after``, an exhausted quota)."""
        if not self.meters:
            return
        wait = retry_after or 0.0
        if isinstance(limits, RateLimits):
            for quota in (limits.requests, limits.tokens, limits.input_tokens, limits.output_tokens):
                if quota is not None and quota.remaining == 0 and quota.reset_s:
                    wait = max(wait, quota.reset_s)
        if wait > 0:
            await self.limiter.block(self.meters, wait)

    def _estimate(self, prompt: str | Prompt, options: Mapping[str, Any]) -> tuple[int, int]:
        """Tokens a call reserves: its prompt's estimate, and ``max_tokens`` or the average reply."""
        if isinstance(prompt, str):
            tokens = estimate_tokens(prompt)
        else:
            tokens = estimate_tokens(prompt.text) + estimate_tokens(prompt.system or "")
            tokens += sum(estimate_tokens(m.content) for m in prompt.history)
        max_tokens = options.get("max_tokens", self._max_tokens)
        output = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else round(self._output_average)
        return tokens, output

    def _learn(self, output_tokens: int) -> None:
        average = self._output_average
        self._output_average = (
            float(output_tokens)
            if average == 0
            else average + _OUTPUT_AVERAGE_WEIGHT * (output_tokens - average)
        )

    # ------------------------------------------------------------------ the breaker

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _refusal(self) -> CircuitOpen:
        assert self.breaker is not None
        probe = self.breaker.next_probe_in(self._now())
        since = self.opened_at or datetime.now(UTC)
        when = f"next probe in {probe:.0f} s" if probe > 0 else "a probe call is in flight"
        return CircuitOpen(
            f"agent {self.name!r} open since {since:%Y-%m-%d %H:%M:%S} UTC, {when} "
            f"(last error: {self.breaker.last_error})",
            agent=self.name,
            since=since,
            next_probe_s=probe,
        )

    def _open_reason(self) -> str:
        assert self.breaker is not None
        return f"{self.breaker.consecutive} consecutive failure(s), last: {self.breaker.last_error}"

    def _announce(self, run: RunState, state: BreakerState, previous: BreakerState, reason: str) -> None:
        log = _log.warning if state is BreakerState.OPEN else _log.info
        log(
            "agent %r: breaker %s -> %s (%s)",
            self.name,
            previous.value,
            state.value,
            reason,
            extra=run.log_extra(),
        )
        run.events.emit(
            "podium_breaker_changed",
            run=run,
            agent=self.name,
            state=state.value,
            previous=previous.value,
            reason=reason,
        )

    # ------------------------------------------------------------------ for people

    async def describe(self) -> dict[str, Any]:
        """What ``podium agents`` shows: provider, model, policies, live state."""
        policy = self.policy
        limits = {k: v for k, v in attrs.asdict(policy.limits).items() if v is not None}
        breaker = self.breaker
        state: dict[str, Any] = {"state": breaker.state.value if breaker else None}
        if breaker is not None:
            state.update(
                failures=breaker.consecutive,
                threshold=breaker.policy.failures,
                reset_s=breaker.policy.reset_s,
                opened_at=self.opened_at.isoformat() if self.opened_at else None,
                last_error=breaker.last_error,
            )
        used = await self.limiter.used(self.meters)
        return {
            "name": self.name,
            "provider": self.provider,
            "model": self.model,
            "limits": limits,
            "limit_key": policy.limit_key or self.provider,
            "meters": {m.name: {"limit": m.limit, "used": used.get(m.name, 0)} for m in self.meters},
            "reported": self.reported.describe(),
            "pool": None
            if self.pool is None
            else {"size": self.pool.size, "in_use": self.pool.in_use, "waiting": self.pool.waiting},
            "breaker": state,
            "retry": None if policy.retry is None else policy.retry.attempts,
            "fallback": policy.fallback,
            "cache": policy.cache_ttl if policy.cache_ttl is not None else policy.cache,
        }


__all__ = ["ManagedAgent"]
