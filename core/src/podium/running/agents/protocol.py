"""The agent protocol (``complete``), what it answers, and a call as lifecycle hooks see it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from podium.values.model import ZERO_USAGE, Usage
from podium.values.providers import AgentSpec, Prompt, RateLimits

if TYPE_CHECKING:
    from podium.definition.config import Config


@attrs.frozen
class AgentReply:
    """What an agent answered: its text, token usage and the model that answered.

    ``stop_reason`` is why the model stopped (``end_turn``, ``max_tokens``, ...);
    ``limits`` the provider's rate-limit state as its response reported it, for the
    limiters; ``request_id`` the provider's id of the request.
    """

    text: str
    usage: Usage = ZERO_USAGE
    model: str | None = None
    stop_reason: str = "end_turn"
    limits: RateLimits | None = None
    request_id: str | None = None


@runtime_checkable
class Agent(Protocol):
    """An LLM agent (or anything answering prompts). ``provider`` and ``model`` label calls."""

    provider: str
    model: str

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        """Answer ``prompt`` with one attempt; raise :class:`podium.ProviderError` on failure."""
        ...


#: Builds one agent of a provider from its declaration (``podium_register_providers``).
ProviderFactory = Callable[[AgentSpec, "Config"], Agent]


@attrs.define(slots=True)
class AgentCall:
    """One call of an agent, as lifecycle hooks see it. Prompts never leave the process
    unless a plugin is configured to capture content.

    ``cached`` is set when the reply came from the agent-call cache (or was shared with an
    identical call in flight): then ``usage`` is zero and ``saved`` what it avoided.
    ``attempts`` counts the requests sent (retries included; 0 for a cached reply or a
    refused call); ``fallback`` names the agent that answered instead, when one did.
    """

    agent: str
    provider: str
    model: str
    prompt: str | Prompt
    options: Mapping[str, Any] = attrs.field(factory=dict)
    reply: AgentReply | None = None
    usage: Usage = ZERO_USAGE
    error: BaseException | None = None
    cached: bool = False
    duration_s: float = 0.0
    saved: Usage = ZERO_USAGE
    attempts: int = 0
    fallback: str | None = None
