"""What provider plugins share, for writing one: options, keys, clients, excerpts.

A provider plugin (``podium_register_providers``) turns an agent's declared options into
a typed options class, resolves its key, holds one SDK client per event loop and closes
its clients when the engine stops. Podium's own providers are built with these; so can
yours::

    from podium import provider_kit as kit

    class MyAgent(kit.ProviderAgent[MyClient, MyOptions]):
        provider = "mine"
        options_type = MyOptions
        call_options = ("max_tokens", "system")

        def new_client(self) -> MyClient: ...
        async def complete(self, prompt, **options): call = self.call(options); ...

    options = MyAgent.structure(config, spec.options, f"agents.{spec.name}")
    key = kit.resolve_key(options.api_key, section.api_key, env_var="MINE_API_KEY",
                          where=f"agents.{spec.name}", provider="mine")
"""

from __future__ import annotations

import abc
import asyncio
import os
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs

from podium.definition.config import Config
from podium.engine.engine import Engine
from podium.foundation.errors import ConfigError, ProviderErrorKind
from podium.foundation.redaction import Secret

__all__ = [
    "KIND_BY_STATUS",
    "Closer",
    "LoopClient",
    "ProviderAgent",
    "excerpt",
    "fill",
    "http_url",
    "kind_for_status",
    "positive",
    "resolve_key",
    "resolve_url",
    "shown_url",
    "structure_options",
]

T = TypeVar("T")
C = TypeVar("C")
OptionsT = TypeVar("OptionsT")


_K = ProviderErrorKind

#: What an HTTP status says about a failed call when the body says nothing more.
KIND_BY_STATUS: Mapping[int, ProviderErrorKind] = {
    400: _K.BAD_REQUEST,
    401: _K.AUTHENTICATION,
    402: _K.QUOTA_EXHAUSTED,
    403: _K.PERMISSION,
    404: _K.NOT_FOUND,
    408: _K.TIMEOUT,
    413: _K.BAD_REQUEST,
    422: _K.BAD_REQUEST,
    429: _K.RATE_LIMITED,
    503: _K.OVERLOADED,
    504: _K.TIMEOUT,
    529: _K.OVERLOADED,
}


def kind_for_status(status: int) -> ProviderErrorKind:
    """The :class:`podium.ProviderErrorKind` of an HTTP status (other 5xx: server errors)."""
    return KIND_BY_STATUS.get(status) or (_K.SERVER_ERROR if status >= 500 else _K.OTHER)


def positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    """An attrs validator: ``None`` or a number > 0."""
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def http_url(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """An attrs validator: empty, ``None``, or an http(s) URL."""
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(f"{attribute.name} must be an http(s) URL, got {value!r}")


def shown_url(url: object) -> str:
    """A request's URL as an error may show it: without the user, password or query that
    may hold a secret (``https://api.example.com/v1/chat/completions``)."""
    parts = urlsplit(str(url))
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def structure_options(
    config: Config,
    options: Mapping[str, Any],
    cls: type[T],
    where: str,
    *,
    provider: str,
    allowed: Collection[str] | None = None,
    refused: Mapping[str, str] | None = None,
    hint: str = "",
) -> T:
    """``options`` as an instance of the attrs class ``cls``, or a :class:`podium.ConfigError`
    listing every bad key with its path (``agents.reviewer.max_tokens: ...``).

    :param allowed: The option names accepted here (default: every field of ``cls``).
    :param refused: Names refused with a reason of their own (a parameter an API removed).
    :param hint: Said after the known names of an unknown option (where else it may go).

    A string given for a list field is refused: structured as is, ``"END"`` would become
    ``["E", "N", "D"]``.
    """
    fields = {field.name: field for field in attrs.fields(cls)}  # type: ignore[arg-type]
    names = list(allowed) if allowed is not None else list(fields)
    refused = refused or {}
    problems = []
    for name, value in options.items():
        if name in refused:
            problems.append(f"{name!r} {refused[name]} @ {where}.{name}")
        elif name not in names:
            problems.append(f"unknown option {name!r} (known: {', '.join(names)}{hint}) @ {where}.{name}")
        elif isinstance(value, str) and _is_list(fields[name].type):
            problems.append(f"expected a list of strings, got {value!r} @ {where}.{name}")
    if not problems:
        try:
            return config.converter.structure(dict(options), cls)
        except cattrs.BaseValidationError as error:
            problems = cattrs.transform_error(error, path=where, format_exception=_format)
        except (TypeError, ValueError) as error:
            problems = [f"{error} @ {where}"]
    listed = "\n".join(f"  - {line}" for line in problems)
    raise ConfigError(f"{where}: invalid options for provider {provider!r}:\n{listed}")


def _is_list(annotation: Any) -> bool:
    return str(annotation).replace("typing.", "").lower().startswith(("list[", "list |"))


def _format(error: BaseException, type_: Any) -> str:
    return str(error) if isinstance(error, ValueError) else cattrs.v.format_exception(error, type_)


def fill(above: T, below: T) -> T:
    """``above`` with ``below``'s value for each field that is ``None`` in ``above``: a call's
    options over an agent's, an agent's over the provider section's defaults."""
    values = {
        field.name: mine if (mine := getattr(above, field.name)) is not None else getattr(below, field.name)
        for field in attrs.fields(type(above))  # type: ignore[arg-type]
    }
    return type(above)(**values)


def resolve_key(
    *candidates: Secret | None,
    env_var: str,
    where: str,
    provider: str,
    required: bool = True,
    env: Mapping[str, str] | None = None,
) -> Secret | None:
    """The first key given, else the environment variable's; with none and ``required``, a
    :class:`podium.ConfigError` saying where to put one."""
    for key in candidates:
        if key:
            return key
    env = os.environ if env is None else env
    if env.get(env_var):
        return Secret(env[env_var])
    if required:
        raise ConfigError(
            f"{where}: no API key for provider {provider!r}: set {env_var}, or api_key in "
            f"[plugins.{provider}] or in the agent's options"
        )
    return None


def resolve_url(
    *candidates: str | None, env_var: str, default: str, where: str, env: Mapping[str, str] | None = None
) -> str:
    """The first URL given, else the environment variable's, else ``default``, without a
    trailing slash; a :class:`podium.ConfigError` when it is not an http(s) URL."""
    env = os.environ if env is None else env
    url = next((c for c in candidates if c), None) or env.get(env_var) or default
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"{where}: base_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


class LoopClient(Generic[C]):
    """One SDK client per event loop: a client's connections belong to the loop that opened
    them, so a second ``asyncio.run`` (two ``podium.run_sync`` calls) gets a fresh one."""

    def __init__(self, make: Callable[[], C], close: Callable[[C], Awaitable[Any]]) -> None:
        self._make = make
        self._close = close
        self._client: C | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> C:
        """The client of the running loop, made on first use."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            left, left_loop = self._client, self._loop
            self._loop, self._client = loop, self._make()
            if left is not None and left_loop is not None and left_loop.is_closed():
                self._close_left(left)
        return self._client

    def _close_left(self, client: C) -> None:
        """Close, here and now, the client of a loop that has closed.

        Its connections died with their loop, so closing it has nothing to wait for.
        Left open, an SDK client's finalizer schedules its close on whatever loop runs
        when it is collected: a stray task in someone else's run.
        """

        async def closing() -> None:
            await self._close(client)

        step = closing()
        try:
            step.send(None)
        except StopIteration:
            return
        except Exception:  # a dead loop's connections may refuse; the client is closed
            return
        step.close()  # it waited on something: nothing of that loop is left to wait for

    async def aclose(self) -> None:
        """Close the client (that of a loop that has closed, without waiting on anything)."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._loop is asyncio.get_running_loop():
            await self._close(client)
        elif self._loop is not None and self._loop.is_closed():
            self._close_left(client)


class ProviderAgent(abc.ABC, Generic[C, OptionsT]):
    """The base of an agent behind an SDK client ``C``, with options of the attrs class ``OptionsT``.

    It holds the agent's name, model, client settings and options, one client per event
    loop (:meth:`new_client`, made on first use; :meth:`aclose`), and turns a call's options
    into ``OptionsT`` over the agent's (:meth:`call`). A subclass sets the class attributes and
    implements :meth:`new_client` and ``complete``.
    """

    #: The provider's registered name.
    provider: str = ""
    #: The options class (``OptionsT``).
    options_type: ClassVar[type[Any]]
    #: What a call may set; the others only an agent's declaration (its client's key, URL...).
    call_options: ClassVar[tuple[str, ...]] = ()
    #: Option names refused with a reason (``{"temperature": "was removed in ..."}``).
    refused: ClassVar[Mapping[str, str]] = {}
    #: Said after the known names of an unknown option.
    unknown_hint: ClassVar[str] = ""

    def __init__(self, name: str, model: str, settings: Any, options: OptionsT, config: Config) -> None:
        self.name = name
        self.model = model
        self.settings = settings
        self.options = options
        self._config = config
        self.clients: LoopClient[C] = LoopClient(self.new_client, self.close_client)

    @classmethod
    def structure(
        cls, config: Config, options: Mapping[str, Any], where: str, allowed: Collection[str] | None = None
    ) -> OptionsT:
        """Declared or call ``options`` as ``OptionsT`` (see :func:`structure_options`)."""
        value: OptionsT = structure_options(
            config,
            options,
            cls.options_type,
            where,
            provider=cls.provider,
            allowed=allowed,
            refused=cls.refused,
            hint=cls.unknown_hint,
        )
        return value

    def call(self, options: Mapping[str, Any]) -> OptionsT:
        """The options of one call: ``options`` over the agent's (only :attr:`call_options`)."""
        if not options:
            return self.options
        where = f"agent {self.name!r}: complete()"
        return fill(self.structure(self._config, options, where, self.call_options), self.options)

    @property
    def reply_options(self) -> dict[str, Any]:
        """The options that shape replies (no key, URL or timeout): what an agent-call cache keys on."""
        values = attrs.asdict(self.options)  # type: ignore[arg-type]
        return {name: value for name, value in values.items() if name in self.call_options}

    @abc.abstractmethod
    def new_client(self) -> C:
        """A new SDK client, for the running event loop."""

    async def close_client(self, client: C) -> None:
        """Close one SDK client (``await client.close()`` by default)."""
        await client.close()  # type: ignore[attr-defined]

    def client(self) -> C:
        """The SDK client of the running event loop."""
        return self.clients.get()

    async def aclose(self) -> None:
        """Close the SDK client (its connections); the next call opens a new one."""
        await self.clients.aclose()

    def __repr__(self) -> str:
        base_url = getattr(self.settings, "base_url", None)
        return f"<{type(self).__name__} {self.name!r} model={self.model!r} base_url={base_url!r}>"


class Closer:
    """The clients a provider made for each engine's configuration, closed when it stops.

    Track each agent's :class:`LoopClient` when the factory builds it; return
    ``closer.close(engine)`` from the plugin's ``podium_engine_stopping``.
    """

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[Config, list[LoopClient[Any]]] = weakref.WeakKeyDictionary()

    def track(self, config: Config, client: LoopClient[Any]) -> None:
        self._clients.setdefault(config, []).append(client)

    def close(self, engine: Engine) -> Awaitable[None] | None:
        clients = self._clients.pop(engine.config, [])
        if not clients:
            return None

        async def close_all() -> None:
            for client in clients:
                await client.aclose()

        return close_all()


def excerpt(body: object, limit: int = 200) -> str:
    """A one-line excerpt of a response body that is not the API's JSON (a proxy's HTML page)."""
    text = body if isinstance(body, str) else "" if body is None else str(body)
    text = " ".join(text.split())
    return (text[:limit] + "...") if len(text) > limit else text or "(no message)"
