"""``[plugins.anthropic]`` (provider-wide settings) and an agent's options, merged into one.

Precedence for each setting: a call's options > the agent's options (``[agents.<name>]``,
``AgentSpec.options``) > ``[plugins.anthropic]`` > the environment > the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
import cattrs

from podium import ConfigError, Secret

PROVIDER = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"

#: Sampling parameters that API version 2026-10-21 removed (sending one is a 400).
REMOVED_PARAMETERS = frozenset({"temperature", "top_p", "top_k"})

Streaming = Literal["auto", "always", "never"]


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _http_url(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(f"{attribute.name} must be an http(s) URL, got {value!r}")


@attrs.define
class AnthropicConfig:
    """Settings of every Anthropic agent of an engine (``[plugins.anthropic]``)."""

    #: The API key; else ``ANTHROPIC_API_KEY``. Sent only in the request's auth header.
    api_key: Secret | None = None
    #: The API root; else ``ANTHROPIC_BASE_URL``; else ``https://api.anthropic.com``.
    base_url: str = attrs.field(default="", validator=_http_url)
    #: Seconds one request may wait for the API (connecting: at most 5 s of it).
    timeout: float = attrs.field(default=600.0, validator=_positive)
    #: ``max_tokens`` of agents that declare none.
    max_tokens: int = attrs.field(default=4096, validator=_positive)
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
    base_url: str | None = attrs.field(default=None, validator=_http_url)
    timeout: float | None = attrs.field(default=None, validator=_positive)
    max_tokens: int | None = attrs.field(default=None, validator=_positive)
    stream: Streaming | None = None
    cache_system: bool | None = None
    #: The system prompt of calls whose prompt brings none.
    system: str | None = None
    stop_sequences: list[str] | None = None
    #: Further Messages API fields passed through as given (``thinking``, ``metadata``, ...).
    params: dict[str, Any] | None = None

    def over(self, below: AgentOptions) -> AgentOptions:
        """These options, with ``below``'s values where these are ``None``."""
        return AgentOptions(
            **{
                field.name: mine
                if (mine := getattr(self, field.name)) is not None
                else getattr(below, field.name)
                for field in attrs.fields(AgentOptions)
            }
        )


#: Options only an agent's declaration may set: a call cannot change its client.
CLIENT_OPTIONS = ("api_key", "base_url", "timeout")
CALL_OPTIONS = tuple(f.name for f in attrs.fields(AgentOptions) if f.name not in CLIENT_OPTIONS)


def structure_options(
    converter: cattrs.Converter, options: Mapping[str, Any], where: str, allowed: tuple[str, ...]
) -> AgentOptions:
    """``options`` as :class:`AgentOptions`; a :class:`podium.ConfigError` naming each bad key."""
    problems = []
    for name in options:
        if name in REMOVED_PARAMETERS:
            problems.append(
                f"{name!r} is not accepted by the Messages API (version 2026-10-21 removed "
                f"temperature, top_p and top_k) @ {where}.{name}"
            )
        elif name not in allowed:
            problems.append(f"unknown option {name!r} (known: {', '.join(allowed)}) @ {where}.{name}")
    problems += _not_lists(options, where)
    if not problems:
        try:
            return converter.structure(dict(options), AgentOptions)
        except cattrs.BaseValidationError as error:
            problems = cattrs.transform_error(error, path=where, format_exception=_format)
        except (TypeError, ValueError) as error:
            problems = [f"{error} @ {where}"]
    listed = "\n".join(f"  - {line}" for line in problems)
    raise ConfigError(f"{where}: invalid options for provider {PROVIDER!r}:\n{listed}")


def _not_lists(options: Mapping[str, Any], where: str) -> list[str]:
    # cattrs would turn a string into a list of its characters: "END" must be ["END"].
    value = options.get("stop_sequences")
    if value is None or isinstance(value, (list, tuple)):
        return []
    return [f"expected a list of strings, got {value!r} @ {where}.stop_sequences"]


def _format(error: BaseException, type_: Any) -> str:
    return str(error) if isinstance(error, ValueError) else cattrs.v.format_exception(error, type_)


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
        env = os.environ if env is None else env
        key = (
            options.api_key or section.api_key or (Secret(env[API_KEY_ENV]) if env.get(API_KEY_ENV) else None)
        )
        if not key:
            raise ConfigError(
                f"{where}: no API key for provider {PROVIDER!r}: set {API_KEY_ENV}, or api_key in "
                f"[plugins.{PROVIDER}] or in the agent's options"
            )
        base_url = options.base_url or section.base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError(f"{where}: base_url must be an http(s) URL, got {base_url!r}")
        timeout = options.timeout or section.timeout
        return cls(base_url.rstrip("/"), key, timeout, section.sdk_tracing)
