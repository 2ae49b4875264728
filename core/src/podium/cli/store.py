"""The run store as the command line sees it, and ``podium store prune``.

The store is the configured ``store``, else the command line's SQLite file
(``.podium/runs.sqlite3``), the one ``podium run`` records to; ``store = false`` turns
recording off. Commands that read the store open it through the ``podium_run_store``
hook, as an engine does, so a plugin's store works everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from podium.cli.base import errors_exit_2, load_config
from podium.contract.plugins import configured_plugin_manager
from podium.contract.run_store import RunStore
from podium.definition.config import Config
from podium.definition.converter import parse_duration
from podium.foundation.errors import PodiumError, RunStoreError
from podium.foundation.redaction import redact_url
from podium.values.records import DEFAULT_STORE_URL

T = TypeVar("T")

store_option = click.option(
    "--store", "store_url", help="Run store URL (default: the configured one, else .podium/runs.sqlite3)."
)


def cli_store_url(config: Config, override: str | None = None) -> str | None:
    """The run store of the command line: ``--store``, the configured one, else the default
    file; ``None`` when ``store = false``."""
    if override:
        return override
    setting = config.settings.store
    if setting is False:
        return None
    return DEFAULT_STORE_URL if setting is None or setting is True else setting


def parse_since(value: str | None, option: str = "--since") -> float | None:
    """Epoch seconds ``value`` ago (``24h``, ``30d``, ``90m``), or ``None``."""
    if value is None:
        return None
    try:
        return time.time() - parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def open_store(config: Config, url: str) -> RunStore:
    """The store for ``url`` through the ``podium_run_store`` hook (not opened yet)."""
    pm = configured_plugin_manager(config.settings)
    store: RunStore | None = pm.hook.podium_run_store(url=url, config=config)
    if store is None:
        raise PodiumError(
            f"no installed plugin provides the run store for {redact_url(url)!r} (built in: sqlite:///path)"
        )
    return store


def with_store(ctx: click.Context, store_url: str | None, action: Callable[[RunStore], Awaitable[T]]) -> T:
    """Open the run store, run ``action`` on it, close it; errors exit 2 with a message."""
    config = load_config(ctx)
    url = cli_store_url(config, store_url)
    if url is None:
        raise PodiumError("no run store: the configuration says store = false")
    store = open_store(config, url)

    async def main() -> T:
        try:
            await store.open()
            return await action(store)
        finally:
            with contextlib.suppress(RunStoreError):  # the action's own outcome is what matters
                await store.close()

    return asyncio.run(main())


@click.group("store")
def store_group() -> None:
    """Maintain the run store."""


@store_group.command("prune")
@click.option("--older-than", "older_than", required=True, metavar="DURATION", help="e.g. 30d, 12h.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
@errors_exit_2
def prune(ctx: click.Context, older_than: str, store_url: str | None, as_json: bool) -> None:
    """Delete runs (with their visits, agent calls and alerts) that ended before DURATION ago."""
    before = parse_since(older_than, "--older-than")
    assert before is not None

    async def action(store: RunStore) -> tuple[str, int]:
        return store.url, await store.prune(before)

    url, deleted = with_store(ctx, store_url, action)
    if as_json:
        click.echo(json.dumps({"store": redact_url(url), "deleted_runs": deleted, "older_than": older_than}))
    else:
        click.echo(f"pruned {deleted} run(s) that ended more than {older_than} ago from {redact_url(url)}")


__all__ = ["cli_store_url", "open_store", "parse_since", "store_group", "store_option", "with_store"]
