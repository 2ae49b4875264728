"""``[plugins.openai]`` (provider-wide settings) and an agent's options, merged into one.

Precedence for each setting: a call's options > the agent's options (``[agents.<name>]``,
``AgentSpec.options``) > ``[plugins.openai]`` > the environment > the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from podium import Secret
from podium import provider_kit as kit

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
#: Sent to a self-hosted server that asks for no key (the SDK insists on one).
NO_KEY = "no-key"

MaxTokensField = Literal["max_completion_tokens", "max_tokens"]


@attrs.define
class OpenAIConfig:
    """Settings of every OpenAI agent of an engine (``[plugins.openai]``)."""

    #: The API key; else ``OPENAI_API_KEY``. A self-hosted ``base_url`` may need none.
    api_key: Secret | None = None
    #: The API root (``.../v1``); else ``OPENAI_BASE_URL``; else ``https://api.openai.com/v1``.
    base_url: str = attrs.field(default="", validator=kit.http_url)
    #: Seconds one request may wait for the server (connecting: at most 5 s of it).
    timeout: float = attrs.field(default=600.0, validator=kit.positive)
    #: ``max_tokens`` of agents that declare none (``None``: the server's own limit).
    max_tokens: int | None = attrs.field(default=None, validator=kit.positive)
    #: The request field that carries it: OpenAI's current name, or the older one some
    #: self-hosted servers still expect.
    max_tokens_field: MaxTokensField = "max_completion_tokens"
    #: Stream replies (usage from the last chunk, ``stream_options.include_usage``).
    stream: bool = False
    #: ``OpenAI-Organization`` / ``OpenAI-Project`` headers, when the key needs them.
    organization: str | None = None
    project: str | None = None


@attrs.define
class AgentOptions:
    """What an agent (``[agents.<name>]``) or one call may set; ``None`` inherits."""

    api_key: Secret | None = None
    base_url: str | None = attrs.field(default=None, validator=kit.http_url)
    timeout: float | None = attrs.field(default=None, validator=kit.positive)
    max_tokens: int | None = attrs.field(default=None, validator=kit.positive)
    max_tokens_field: MaxTokensField | None = None
    stream: bool | None = None
    #: The system message of calls whose prompt brings none.
    system: str | None = None
    stop: list[str] | None = None
    #: Further Chat Completions fields passed through as given (``temperature``, ``seed``, ...).
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
    organization: str | None = None
    project: str | None = None

    @classmethod
    def resolve(
        cls, section: OpenAIConfig, options: AgentOptions, where: str, env: Mapping[str, str] | None = None
    ) -> ClientSettings:
        base_url = kit.resolve_url(
            options.base_url,
            section.base_url,
            env_var=BASE_URL_ENV,
            default=DEFAULT_BASE_URL,
            where=where,
            env=env,
        )
        # OpenAI's own API needs a key; a server you run may not (the SDK still sends one).
        required = base_url == DEFAULT_BASE_URL
        key = kit.resolve_key(
            options.api_key,
            section.api_key,
            env_var=API_KEY_ENV,
            where=where,
            provider=PROVIDER,
            required=required,
            env=env,
        )
        timeout = options.timeout or section.timeout
        return cls(base_url, key or Secret(NO_KEY), timeout, section.organization, section.project)
