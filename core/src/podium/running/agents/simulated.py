"""A simulated LLM provider: scripted replies, latency, usage, failures, quotas and prompt caching.

It is what the examples, tests and benchmarks run on, so it behaves like a real provider
where the kernel cares: a quota (requests and tokens per minute) answered with
``ProviderError(kind=RATE_LIMITED, status=429, retry_after=...)`` when exceeded, overload
errors (529), rate-limit state on every reply, and cache-read usage for a prompt whose
static prefix is marked for prompt caching.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from podium.foundation.errors import ProviderError, ProviderErrorKind, SimulatedAgentError
from podium.running.agents.protocol import AgentReply
from podium.running.agents.windows import MINUTE, SlidingWindow
from podium.values.model import Usage
from podium.values.providers import Prompt, Quota, RateLimits

#: Seconds per call: a number, a sequence cycled through, or a function of a seeded generator.
Latency = float | Sequence[float] | Callable[[random.Random], float]


def estimate_tokens(text: str) -> int:
    """About one token per 4 characters (at least 1 for any text)."""
    return max(1, len(text) // 4) if text else 0


class SimulatedQuota:
    """A provider's quota as a simulated provider enforces it: requests and tokens per minute.

    Share one between several :class:`SimulatedAgent` objects to make them draw from one
    account. ``rate_limited`` counts the 429s it answered, ``wasted_tokens`` the input
    tokens those rejected requests carried.
    """

    def __init__(self, *, rpm: int | None = None, tpm: int | None = None, window_s: float = MINUTE) -> None:
        self.requests = SlidingWindow(rpm, window_s) if rpm else None
        self.tokens = SlidingWindow(tpm, window_s) if tpm else None
        self.rate_limited = 0
        self.wasted_tokens = 0

    def __repr__(self) -> str:
        return f"<SimulatedQuota rate_limited={self.rate_limited}>"

    def take(self, provider: str, input_tokens: int, output_tokens: int) -> RateLimits:
        """Count a request, or raise the 429 a provider would answer."""
        now = asyncio.get_running_loop().time()
        tokens = input_tokens + output_tokens
        wait = max(
            self.requests.wait(now, 1) if self.requests else 0.0,
            self.tokens.wait(now, tokens) if self.tokens else 0.0,
        )
        if wait > 0:
            self.rate_limited += 1
            self.wasted_tokens += input_tokens
            raise ProviderError(
                f"rate limited: retry after {wait:.3f}s",
                provider=provider,
                kind=ProviderErrorKind.RATE_LIMITED,
                status=429,
                retry_after=round(wait, 3),
                limits=self._state(now),
            )
        if self.requests:
            self.requests.admit(now, 1)
        if self.tokens:
            self.tokens.admit(now, tokens)
        return self._state(now)

    def _state(self, now: float) -> RateLimits:
        def quota(window: SlidingWindow | None) -> Quota | None:
            if window is None:
                return None
            return Quota(window.limit, max(0, window.limit - window.used(now)), window.empty_in(now))

        return RateLimits(requests=quota(self.requests), tokens=quota(self.tokens))


class SimulatedAgent:
    """A deterministic stand-in for an LLM: scripted latency, replies, token usage and failures.

    :param reply: Fixed text, or a function of the prompt returning the text.
    :param latency: Seconds each call takes: a number, a sequence (cycled), or a function
        of a generator seeded by ``seed`` (``lambda rng: rng.uniform(0.001, 0.005)``).
    :param input_tokens: Tokens billed for the prompt; ``None`` estimates 1 per 4 characters.
    :param output_tokens: Tokens billed for the reply; ``None`` estimates 1 per 4 characters.
    :param fail_on: Call numbers (1-based) that raise :class:`SimulatedAgentError`.
    :param failure_rate: Probability that a call fails, drawn from a generator seeded by ``seed``.
    :param overloaded_on: Call numbers answered with an overloaded error (``ProviderError``,
        kind ``overloaded``, status 529).
    :param overload_rate: Probability of an overloaded error.
    :param rpm: Requests per minute the simulated provider accepts (429 beyond).
    :param tpm: Tokens (input + output) per minute it accepts (429 beyond).
    :param quota: A :class:`SimulatedQuota` shared with other agents (instead of rpm/tpm).
    :param provider: The provider name it reports.

    A :class:`podium.Prompt` with ``cache_system`` is answered like a provider with prompt
    caching: the first call writes the system prefix to the cache (``cache_write_tokens``),
    later ones read it (``cache_read_tokens``) instead of paying for it as input.
    """

    def __init__(
        self,
        reply: str | Callable[[str], str] = "ok",
        *,
        model: str = "claude-sonnet-4-5",
        latency: Latency = 0.0,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        fail_on: Iterable[int] = (),
        failure_rate: float = 0.0,
        overloaded_on: Iterable[int] = (),
        overload_rate: float = 0.0,
        rpm: int | None = None,
        tpm: int | None = None,
        quota: SimulatedQuota | None = None,
        provider: str = "simulated",
        seed: int = 0,
    ) -> None:
        self.provider = provider
        self.model = model
        self._reply = reply
        self.latency = latency
        self._latencies: Iterator[float] | None = (
            itertools.cycle(latency) if isinstance(latency, Sequence) and latency else None
        )
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.fail_on = frozenset(fail_on)
        self.failure_rate = failure_rate
        self.overloaded_on = frozenset(overloaded_on)
        self.overload_rate = overload_rate
        self.quota = (
            quota if quota is not None else (SimulatedQuota(rpm=rpm, tpm=tpm) if rpm or tpm else None)
        )
        self._random = random.Random(seed)
        self._cached_prefixes: set[str] = set()
        self.calls = 0
        self.prompts: list[str] = []

    def __repr__(self) -> str:
        return f"<SimulatedAgent model={self.model!r} calls={self.calls}>"

    def _delay(self) -> float:
        latency = self.latency
        if self._latencies is not None:
            return next(self._latencies)
        if callable(latency):
            return float(latency(self._random))
        return float(latency) if isinstance(latency, (int, float)) else 0.0

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        self.calls += 1
        number = self.calls
        asked = Prompt.of(prompt)
        self.prompts.append(asked.text)
        text = self._reply(asked.text) if callable(self._reply) else self._reply
        usage = self._usage(asked, text)
        limits = None
        if self.quota is not None:
            limits = self.quota.take(
                self.provider, usage.input_tokens + usage.cache_write_tokens, usage.output_tokens
            )
        delay = self._delay()
        if delay:
            await asyncio.sleep(delay)
        if number in self.overloaded_on or (
            self.overload_rate and self._random.random() < self.overload_rate
        ):
            raise ProviderError(
                "overloaded", provider=self.provider, kind=ProviderErrorKind.OVERLOADED, status=529
            )
        if number in self.fail_on or (self.failure_rate and self._random.random() < self.failure_rate):
            raise SimulatedAgentError(f"simulated failure on call {number}")
        if asked.cache_system and asked.system:
            self._cached_prefixes.add(asked.system)
        return AgentReply(text, usage, self.model, limits=limits, request_id=f"sim-{number}")

    def _usage(self, asked: Prompt, text: str) -> Usage:
        sent = len(asked.text) + len(asked.system or "") + sum(len(m.content) for m in asked.history)
        cache_read = cache_write = 0
        if asked.cache_system and asked.system:
            # The prefix is billed as a cache write the first time, then read from the cache.
            prefix = estimate_tokens(asked.system)
            if asked.system in self._cached_prefixes:
                cache_read = prefix
            else:
                cache_write = prefix
            sent -= len(asked.system)
        input_tokens = self.input_tokens if self.input_tokens is not None else max(1, sent // 4)
        output = self.output_tokens if self.output_tokens is not None else max(1, len(text) // 4)
        return Usage(input_tokens, output, cache_read, cache_write, requests=1)


__all__ = ["Latency", "SimulatedAgent", "SimulatedQuota", "estimate_tokens"]
