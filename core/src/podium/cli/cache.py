"""``podium cache stats`` and ``podium cache clear``: the ``cache`` command group.

The cache is the configured ``cache_url``, else the command line's SQLite file
(:data:`CLI_DEFAULT_CACHE_URL`), the same one ``podium run`` uses. Both commands run the
engine's result cache methods (:meth:`~podium.ResultCache.stats`,
:meth:`~podium.ResultCache.clear`) on the backend the ``podium_cache_backend`` hook opens.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from podium.contract.cache_backend import backend_name
from podium.contract.plugins import configured_plugin_manager
from podium.definition.config import Config
from podium.foundation.errors import PodiumError
from podium.foundation.redaction import redact_url
from podium.running.result_cache import ResultCache
from podium.values.keys import check_namespace

#: Where the command line keeps its cache unless ``cache_url`` is configured.
CLI_DEFAULT_CACHE_URL = "sqlite:///.podium/cache.sqlite3"

T = TypeVar("T")

cache_url_option = click.option(
    "--cache-url", "url", help="Cache URL (default: the configured one, else .podium/cache.sqlite3)."
)


def cli_cache_url(config: Config) -> str:
    """The cache URL for the command line: the configured one, else the SQLite file."""
    if "cache_url" in config.sources:
        return config.settings.cache_url
    return CLI_DEFAULT_CACHE_URL


def _config(ctx: click.Context, url: str | None) -> Config:
    parent = ctx.find_root().obj if isinstance(ctx.find_root().obj, dict) else {}
    return Config.load(
        file=parent.get("config_file"), overrides={"cache_url": url, "log_level": parent.get("log_level")}
    )


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
        result_cache = ResultCache(backend, url=chosen, timeout=settings.cache_timeout)

        async def main() -> T:
            try:
                return await action(result_cache)
            finally:
                await result_cache.close()

        return asyncio.run(main())
    except PodiumError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@click.group("cache")
def cache() -> None:
    """Inspect or clear the result cache (stages and agent calls)."""


@cache.command("stats")
@cache_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.pass_context
def stats(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """How many entries the cache holds, per namespace and kind."""
    figures: dict[str, Any] = _with_cache(ctx, url, ResultCache.stats)
    figures.pop("session", None)  # this process did no work: its counters say nothing
    if as_json:
        click.echo(json.dumps(figures, indent=2, sort_keys=True))
        return
    click.echo(f"cache:      {figures['url']} ({figures['backend']}, {figures['serializer']})")
    if not figures["stats_supported"]:
        click.echo("entries:    stats not supported (the backend does not implement podium.CacheAdmin)")
        return
    entries = figures["entries"]
    click.echo(f"entries:    {'unknown (the backend cannot list keys)' if entries is None else entries}")
    if figures["bytes"] is not None:
        click.echo(f"bytes:      {figures['bytes']}")
    for namespace, kinds in figures["namespaces"].items():
        counts = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        click.echo(f"namespace:  {namespace or '(default)'}: {counts}")
    for name, value in figures["server"].items():
        click.echo(f"server:     {name} {value}")


@cache.command("clear")
@click.option(
    "--namespace", default=None, help="Clear only this CachePolicy namespace ('' for the default one)."
)
@cache_url_option
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
        if result_cache.clear_flushes_all and namespace is None and not yes:
            click.confirm(
                f"clearing {redact_url(result_cache.url)} flushes the whole "
                f"{backend_name(result_cache.backend)} server, other applications' keys too. Flush?",
                abort=True,
            )
        return await result_cache.clear(namespace)

    deleted = _with_cache(ctx, url, run)
    scope = "all namespaces" if namespace is None else f"namespace {namespace or '(default)'!s}"
    click.echo(f"cleared {scope}: {'all entries' if deleted is None else f'{deleted} entries'}")


__all__ = ["cache"]
