"""``podium cache stats`` and ``podium cache clear``: the ``cache`` command group.

The cache is the configured ``cache_url``, else the command line's SQLite file
(:data:`CLI_DEFAULT_CACHE_URL`), the same one ``podium run`` uses.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from podium.backends.urls import backend_kind, backend_stats, clear_backend
from podium.contract.plugins import configured_plugin_manager
from podium.definition.config import Config
from podium.foundation.errors import PodiumError
from podium.foundation.redaction import redact_url
from podium.running.result_cache import ResultCache
from podium.values.keys import KEY_PREFIX, check_namespace, namespace_prefix

if TYPE_CHECKING:
    from aiocache.base import BaseCache

    from podium.engine.engine import Engine

#: Where the command line keeps its cache unless ``cache_url`` is configured.
CLI_DEFAULT_CACHE_URL = "sqlite:///.podium/cache.sqlite3"

T = TypeVar("T")


def _cache_of(target: Engine | ResultCache | BaseCache) -> tuple[ResultCache | None, BaseCache | None]:
    if isinstance(target, ResultCache):
        return target, target.backend
    cache = getattr(target, "result_cache", None)
    if isinstance(cache, ResultCache):  # an Engine
        return cache, cache.backend
    return None, target


async def cache_stats(target: Engine | ResultCache | BaseCache) -> dict[str, Any]:
    """What a cache holds, and (for an engine or cache) this process's hits and savings.

    Returns a JSON-ready dict: ``backend``, ``url`` (password masked), ``serializer``,
    ``entries`` and ``bytes`` (``None`` where the backend cannot tell),
    ``namespaces`` (``{namespace: {kind: entries}}``), backend-specific ``server`` figures,
    and ``session`` counters (hits, misses, coalesced, writes, errors, saved tokens and
    cost) when given an engine or a :class:`ResultCache`. Raises :class:`CacheBackendError`
    when the backend cannot be reached.
    """
    cache, backend = _cache_of(target)
    if backend is None:
        stats: dict[str, Any] = {"backend": None, "url": None, "entries": 0, "bytes": 0, "namespaces": {}}
    else:
        stats = {
            "backend": backend_kind(backend),
            "url": redact_url(cache.url) if cache is not None else None,
            "serializer": type(backend.serializer).__name__,
            **await backend_stats(backend, KEY_PREFIX),
        }
    if cache is not None:
        stats["session"] = cache.counters.as_dict()
    return stats


async def clear(target: Engine | ResultCache | BaseCache, namespace: str | None = None) -> int | None:
    """Delete Podium's entries: all of them, or one namespace's (``""`` is the default one).

    Returns how many entries were deleted, or ``None`` when the backend cannot count
    (memcached, which can only flush the whole server and cannot delete by namespace: a
    namespace there raises :class:`CacheBackendError`). Keys of other applications sharing
    a Redis database or SQLite file are never touched.
    """
    _, backend = _cache_of(target)
    if backend is None:
        return 0
    return await clear_backend(backend, namespace_prefix(namespace), namespace is not None)


def cli_cache_url(config: Config) -> str:
    """The cache URL for the command line: the configured one, else the SQLite file."""
    if "cache_url" in config.sources:
        return config.settings.cache_url
    return CLI_DEFAULT_CACHE_URL


def _config(ctx: click.Context, url: str | None) -> Config:
    parent = ctx.find_root().obj if isinstance(ctx.find_root().obj, dict) else {}
    return Config.load(file=parent.get("config_file"), overrides={"cache_url": url} if url else None)


def _with_cache(ctx: click.Context, url: str | None, action: Callable[[ResultCache], Awaitable[T]]) -> T:
    """Open the cache through the ``podium_cache_backend`` hook, run ``action``, close it."""
    try:
        config = _config(ctx, url)
        chosen = cli_cache_url(config)
        settings = config.settings
        pm = configured_plugin_manager(settings)
        backend = pm.hook.podium_cache_backend(url=chosen, config=config)
        if backend is None:
            raise PodiumError(f"no installed plugin provides the cache backend for {redact_url(chosen)!r}")
        cache = ResultCache(backend, url=chosen, timeout=settings.cache_timeout)

        async def main() -> T:
            try:
                return await action(cache)
            finally:
                await cache.close()

        return asyncio.run(main())
    except PodiumError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@click.group("cache")
def cache() -> None:
    """Inspect or clear the result cache (stages and agent calls)."""


@cache.command("stats")
@click.option(
    "--cache-url", "url", help="Cache URL (default: the configured one, else .podium/cache.sqlite3)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.pass_context
def stats(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """How many entries the cache holds, per namespace and kind."""
    figures: dict[str, Any] = _with_cache(ctx, url, cache_stats)
    figures.pop("session", None)  # this process did no work: its counters say nothing
    if as_json:
        click.echo(json.dumps(figures, indent=2, sort_keys=True))
        return
    click.echo(f"cache:      {figures['url']} ({figures['backend']}, {figures['serializer']})")
    entries = figures.get("entries")
    click.echo(f"entries:    {'unknown (the backend cannot list keys)' if entries is None else entries}")
    if figures.get("bytes") is not None:
        click.echo(f"bytes:      {figures['bytes']}")
    for namespace, kinds in figures.get("namespaces", {}).items():
        counts = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        click.echo(f"namespace:  {namespace or '(default)'}: {counts}")
    for name, value in figures.get("server", {}).items():
        click.echo(f"server:     {name} {value}")


@cache.command("clear")
@click.option(
    "--namespace", default=None, help="Clear only this CachePolicy namespace ('' for the default one)."
)
@click.option(
    "--cache-url", "url", help="Cache URL (default: the configured one, else .podium/cache.sqlite3)."
)
@click.option("--yes", is_flag=True, help="Do not ask before flushing a whole memcached server.")
@click.pass_context
def clear_command(ctx: click.Context, namespace: str | None, url: str | None, yes: bool) -> None:
    """Delete cached results: all of Podium's, or one namespace's."""
    if namespace is not None:
        try:
            check_namespace(namespace)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--namespace") from None

    async def run(result_cache: ResultCache) -> int | None:
        assert result_cache.backend is not None
        if backend_kind(result_cache.backend) == "memcached" and namespace is None and not yes:
            click.confirm(
                "memcached can only flush the whole server, other applications' keys too. Flush?", abort=True
            )
        return await clear(result_cache, namespace)

    deleted = _with_cache(ctx, url, run)
    scope = "all namespaces" if namespace is None else f"namespace {namespace or '(default)'!s}"
    click.echo(f"cleared {scope}: {'all entries' if deleted is None else f'{deleted} entries'}")


__all__ = ["cache"]
