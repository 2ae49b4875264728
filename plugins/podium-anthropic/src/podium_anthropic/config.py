"""``[plugins.anthropic]`` (provider-wide settings) and an agent's options, merged into one.

Precedence for each setting: a call's options > the agent's options (``[agents.<name>]``,
``AgentSpec.options``) > ``[plugins.anthropic]`` > the environment > the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from podium import Secret
from podium import provider_kit as kit

PROVIDER = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"

#: Sampling parameters that API version 2026-10-21 removed (sending one is a 400).
REMOVED_PARAMETERS = frozenset({"temperature", "top_p", "top_k"})
REMOVED_REASON = (
    "is not accepted by the Messages API (version 2026-10-21 removed temperature, top_p and top_k)"
)

Streaming = Literal["auto", "always", "never"]


@attrs.define
class AnthropicConfig:
    """Settings of every Anthropic agent of an engine (``[plugins.anthropic]``)."""

    #: The API key; else ``ANTHROPIC_API_KEY``. Sent only in the request's auth header.
    api_key: Secret | None = None
    #: The API root; else ``ANTHROPIC_BASE_URL``; else ``https://api.anthropic.com``.
    base_url: str = attrs.field(default="", validator=kit.http_url)
    #: Seconds one request may wait for the API (connecting: at most 5 s of it).
    timeout: float = attrs.field(default=600.0, validator=kit.positive)
    #: ``max_tokens`` of agents that declare none.
    max_tokens: int = attrs.field(default=4096, validator=kit.positive)
    #: ``auto`` streams only when ``max_tokens`` needs it; ``always``; ``never``.
    stream: Streaming = "auto"
    #: Mark system prompts for prompt caching (``cache_control``) unless an agent says otherwise.
    cache_system: bool = False
    #: Let the SDK make its own OpenTelemetry spans beside podium-otel's (off: no duplicates).
    sdk_tracing: bool = False


@attrs.define
class AgentOptions:
    """What an agent (``[agents.<name>]``) or one call may set; ``None`` inherits."""

    api_key: Secret | None = None
    base_url: str | None = attrs.field(default=None, validator=kit.http_url)
    timeout: float | None = attrs.field(default=None, validator=kit.positive)
    max_tokens: int | None = attrs.field(default=None, validator=kit.positive)
    stream: Streaming | None = None
    cache_system: bool | None = None
    #: The system prompt of calls whose prompt brings none.
    system: str | None = None
    stop_sequences: list[str] | None = None
    #: Further Messages API fields passed through as given (``thinking``, ``metadata``, ...).
    params: dict[str, Any] | None = None


#: Options only an agent's declaration may set: a call cannot change its client.
CLIENT_OPTIONS = ("api_key", "base_url", "timeout")
CALL_OPTIONS = tuple(f.name for f in attrs.fields(AgentOptions) if f.name not in CLIENT_OPTIONS)


@attrs.frozen
class ClientSettings:
    """What one SDK client is made with: resolved, the key kept out of every repr."""

    base_url: str
    api_key: Secret = attrs.field(repr=False)
    timeout: float
    sdk_tracing: bool

    @classmethod
    def resolve(
        cls, section: AnthropicConfig, options: AgentOptions, where: str, env: Mapping[str, str] | None = None
    ) -> ClientSettings:
        key = kit.resolve_key(
            options.api_key, section.api_key, env_var=API_KEY_ENV, where=where, provider=PROVIDER, env=env
        )
        assert key is not None  # required=True: resolve_key raises instead
        base_url = kit.resolve_url(
            options.base_url,
            section.base_url,
            env_var=BASE_URL_ENV,
            default=DEFAULT_BASE_URL,
            where=where,
            env=env,
        )
        timeout = options.timeout or section.timeout
        return cls(base_url, key, timeout, section.sdk_tracing)
