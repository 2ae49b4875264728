"""``[plugins.openai]`` (provider-wide settings) and an agent's options, merged into one.

Precedence for each setting: a call's options > the agent's options (``[agents.<name>]``,
``AgentSpec.options``) > ``[plugins.openai]`` > the environment > the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
import cattrs

from podium import ConfigError, Secret

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
#: Sent to a self-hosted server that asks for no key (the SDK insists on one).
NO_KEY = "no-key"

MaxTokensField = Literal["max_completion_tokens", "max_tokens"]


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _http_url(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(f"{attribute.name} must be an http(s) URL, got {value!r}")


@attrs.define
class OpenAIConfig:
    """Settings of every OpenAI agent of an engine (``[plugins.openai]``)."""

    #: The API key; else ``OPENAI_API_KEY``. A self-hosted ``base_url`` may need none.
    api_key: Secret | None = None
    #: The API root (``.../v1``); else ``OPENAI_BASE_URL``; else ``https://api.openai.com/v1``.
    base_url: str = attrs.field(default="", validator=_http_url)
    #: Seconds one request may wait for the server (connecting: at most 5 s of it).
    timeout: float = attrs.field(default=600.0, validator=_positive)
    #: ``max_tokens`` of agents that declare none (``None``: the server's own limit).
    max_tokens: int | None = attrs.field(default=None, validator=_positive)
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
    base_url: str | None = attrs.field(default=None, validator=_http_url)
    timeout: float | None = attrs.field(default=None, validator=_positive)
    max_tokens: int | None = attrs.field(default=None, validator=_positive)
    max_tokens_field: MaxTokensField | None = None
    stream: bool | None = None
    #: The system message of calls whose prompt brings none.
    system: str | None = None
    stop: list[str] | None = None
    #: Further Chat Completions fields passed through as given (``temperature``, ``seed``, ...).
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
    problems = [
        f"unknown option {name!r} (known: {', '.join(allowed)}; other request fields go in params) "
        f"@ {where}.{name}"
        for name in options
        if name not in allowed
    ]
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
    value = options.get("stop")
    if value is None or isinstance(value, (list, tuple)):
        return []
    return [f"expected a list of strings, got {value!r} @ {where}.stop"]


def _format(error: BaseException, type_: Any) -> str:
    return str(error) if isinstance(error, ValueError) else cattrs.v.format_exception(error, type_)


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
        env = os.environ if env is None else env
        base_url = options.base_url or section.base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError(f"{where}: base_url must be an http(s) URL, got {base_url!r}")
        key = (
            options.api_key or section.api_key or (Secret(env[API_KEY_ENV]) if env.get(API_KEY_ENV) else None)
        )
        if not key:
            if base_url.rstrip("/") == DEFAULT_BASE_URL:
                raise ConfigError(
                    f"{where}: no API key for provider {PROVIDER!r}: set {API_KEY_ENV}, or api_key in "
                    f"[plugins.{PROVIDER}] or in the agent's options (a self-hosted base_url needs none)"
                )
            key = Secret(NO_KEY)
        timeout = options.timeout or section.timeout
        return cls(base_url.rstrip("/"), key, timeout, section.organization, section.project)
