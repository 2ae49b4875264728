"""What agent providers and the kernel exchange: prompts, rate-limit state, agent specs.

A provider plugin registers a factory by name through ``podium_register_providers``; the
factory turns an :class:`AgentSpec` into an object implementing :class:`podium.Agent`.
A provider makes exactly one attempt per call and reports what went wrong as a
:class:`podium.ProviderError` (retries, limits and breakers are the kernel's), and what its
rate-limit headers said as :class:`RateLimits`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import attrs


@attrs.frozen
class Message:
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str


@attrs.frozen
class Prompt:
    """What a call sends: the user's text, optional instructions, earlier turns.

    ``system`` is the static part of a prompt (instructions, a template's fixed prefix);
    with ``cache_system`` a provider that supports prompt caching marks it for caching
    (Anthropic's ``cache_control``), and the tokens read back from that cache are reported
    in ``Usage.cache_read_tokens``. A plain string prompt is ``Prompt(text)``.
    """

    text: str
    system: str | None = None
    cache_system: bool = False
    history: tuple[Message, ...] = ()

    @classmethod
    def of(cls, prompt: str | Prompt) -> Prompt:
        """``prompt`` as a :class:`Prompt` (a string becomes its text)."""
        return prompt if isinstance(prompt, Prompt) else cls(prompt)


@attrs.frozen
class Quota:
    """One rate limit as a provider reported it: the limit, what remains, seconds to reset."""

    limit: int | None = None
    remaining: int | None = None
    reset_s: float | None = None


@attrs.frozen
class RateLimits:
    """A provider's rate-limit state from a response's headers (``None`` where not sent).

    ``tokens`` is input and output together, where a provider counts them together;
    ``input_tokens`` and ``output_tokens`` where it counts them apart.
    """

    requests: Quota | None = None
    tokens: Quota | None = None
    input_tokens: Quota | None = None
    output_tokens: Quota | None = None


@attrs.frozen
class AgentSpec:
    """An agent as declared (in ``[agents.<name>]`` or in code): what a provider builds from.

    :ivar name: The name stages call it by (``ctx.agent(name)``).
    :ivar provider: A registered provider name (``simulated`` is built in).
    :ivar model: The model id the provider calls.
    :ivar options: Provider options (``max_tokens``, ``system``, ``base_url``, ``timeout``,
        ``api_key`` as a :class:`podium.Secret`, ...), passed on as declared.
    """

    name: str
    provider: str
    model: str
    options: Mapping[str, Any] = attrs.field(factory=dict)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a response asks to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an
    HTTP date); ``None`` when neither is sent or neither parses. ``headers`` is looked up
    with lower-case names (an ``httpx`` ``Headers`` object is case-insensitive)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        seconds: float | None
        try:
            seconds = float(raw) * scale
        except ValueError:
            seconds = _seconds_until_date(raw, time.time() if now is None else now)
        if seconds is not None and math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def _seconds_until_date(raw: str, now: float) -> float | None:
    try:
        return parsedate_to_datetime(raw).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None
