"""The ``[plugins.context7]`` configuration section and its resolution against the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

from podium import Duration, Secret

DEFAULT_BASE_URL = "https://context7.com/api"
API_KEY_ENV = "CONTEXT7_API_KEY"
BASE_URL_ENV = "CONTEXT7_API_URL"
#: The fields the environment gives when the configuration does not (``register(..., env=)``).
ENVIRONMENT = {"api_key": API_KEY_ENV, "base_url": BASE_URL_ENV}

#: A Context7 library id: ``/owner/repo``, optionally with a version (``/owner/repo/v1.2``, ``@v1.2``).
LIBRARY_ID = re.compile(r"^/[^/\s]+/[^/\s]+([/@][^/\s]+)?$")


def is_library_id(name: str) -> bool:
    """Whether ``name`` is an explicit Context7 library id rather than a name to resolve."""
    return bool(LIBRARY_ID.match(name))


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _check_aliases(instance: Any, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    for name, library_id in value.items():
        if not is_library_id(library_id):
            raise ValueError(
                f"aliases.{name} = {library_id!r} is not a Context7 library id (expected '/owner/repo')"
            )


def _check_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an http(s) URL, got {value!r}")


@attrs.define
class Context7Config:
    """Settings of the Context7 documentation plugin (``[plugins.context7]``).

    Durations accept seconds or strings such as ``"30s"``, ``"6h"``, ``"3d"``.
    """

    #: Bearer key (``ctx7sk...``); else ``CONTEXT7_API_KEY``; anonymous when neither is set.
    api_key: Secret | None = None
    #: Service root; else ``CONTEXT7_API_URL``; else ``https://context7.com/api``.
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, validator=_check_url)
    #: ``"v2"`` (current API, JSON snippets with token counts) or ``"v1"`` (the 2025 API).
    api: Literal["v1", "v2"] = "v2"
    #: HTTP requests in flight at once, across every stage and workflow of an engine.
    concurrency: int = attrs.field(default=4, validator=_positive)
    #: Seconds one HTTP request may take.
    timeout: Duration = attrs.field(default=30.0, validator=_positive)
    #: Further attempts after a 429, a 5xx, a timeout or a network failure.
    retries: int = attrs.field(default=3, validator=_non_negative)
    #: First backoff delay in seconds; doubles per retry, capped by ``max_backoff``.
    backoff: Duration = attrs.field(default=0.5, validator=_non_negative)
    max_backoff: Duration = attrs.field(default=30.0, validator=_non_negative)
    #: A 429 asking to wait longer than this fails at once instead of stalling the stage.
    max_retry_after: Duration = attrs.field(default=60.0, validator=_non_negative)
    #: How long fetched snippets stay cached (per library id and query).
    docs_ttl: Duration = attrs.field(default=6 * 3600.0, validator=_positive)
    #: How long name resolutions and redirects stay cached.
    resolve_ttl: Duration = attrs.field(default=3 * 86400.0, validator=_positive)
    #: Token budget of a ``ctx.docs`` call that passes no ``tokens=``.
    default_tokens: int = attrs.field(default=5000, validator=_positive)
    #: Names pinned to library ids (``fastapi = "/tiangolo/fastapi"``): no search, no guessing.
    aliases: dict[str, str] = attrs.field(factory=dict, validator=_check_aliases)
    #: Cost of one request to the service in USD (feeds the run's cost).
    price_per_request: float = attrs.field(default=0.0, validator=_non_negative)
    #: Off: the plugin declines ``ctx.docs`` so another provider may answer.
    enabled: bool = True


@attrs.frozen
class Settings:
    """The effective settings of one engine: config merged with the environment."""

    config: Context7Config
    base_url: str
    api_key: Secret | None = attrs.field(repr=False)
    #: The base URL without any credentials, safe for logs and cache keys.
    public_url: str = attrs.field(default=attrs.Factory(lambda self: _public(self.base_url), takes_self=True))

    @classmethod
    def resolve(cls, config: Context7Config) -> Settings:
        """The settings of ``config``, a section the configuration structured: the
        environment variables (:data:`ENVIRONMENT`) are already in it."""
        return cls(config, (config.base_url or DEFAULT_BASE_URL).rstrip("/"), config.api_key or None)

    def alias(self, library: str) -> str | None:
        aliases = self.config.aliases
        return aliases.get(library) or aliases.get(library.lower())


def _public(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
