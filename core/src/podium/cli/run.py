"""``podium run`` and ``podium validate``: run a workflow, or check it without running it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import click
from rich.console import Console

from podium.cli.base import EXIT_FAILED, EXIT_OK, errors_exit_2, input_option, load_config, parse_inputs
from podium.cli.cache import cli_cache_url
from podium.cli.console import ProgressDisplay, result_dict, summary_table
from podium.cli.logs import configure_logging
from podium.cli.store import cli_store_url, store_option
from podium.definition.config import Config
from podium.definition.loader import load_target
from podium.engine.engine import Engine
from podium.foundation.redaction import redact_url
from podium.values.model import RunResult


@click.command()
@click.argument("target")
@input_option
@click.option("--strategy", help="Override the workflow's strategy.")
@click.option("--cache-url", help="Cache URL (memory://, sqlite:///path, redis://host:port/db).")
@click.option("--no-cache", is_flag=True, help="Run without any cache.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress).")
@click.option("--no-progress", is_flag=True, help="Do not show live progress.")
@click.pass_context
@errors_exit_2
def run(
    ctx: click.Context,
    target: str,
    inputs: Sequence[str],
    strategy: str | None,
    cache_url: str | None,
    no_cache: bool,
    store_url: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Run the workflow TARGET (file.py[:name], module:attr or file.toml)."""
    config = load_config(ctx, strategy=strategy, cache_url=cache_url)
    configure_logging(ctx.obj["log_level"] or config.settings.log_level, json_lines=ctx.obj["log_json"])
    loaded = load_target(target)
    workflow = loaded.workflow
    if strategy:
        workflow.strategy = strategy
    values = parse_inputs(inputs)
    plugins = with_progress(loaded.plugins, as_json or no_progress)
    # The command line caches in a SQLite file by default, so two runs share results, and
    # records its runs in another (.podium/runs.sqlite3), so they can be listed and resumed.
    chosen: str | Literal[False] = False if no_cache else cli_cache_url(config)
    store = cli_store_url(config, store_url)

    async def main(engine: Engine) -> RunResult:
        return await engine.run(workflow, values)

    result, recorded = run_on_engine(main, config, plugins, cache_url=chosen, store=store)
    show_result(result, as_json, recorded)


def with_progress(plugins: Sequence[object], quiet: bool) -> list[object]:
    """The target's hook modules, and the live progress display unless ``quiet``."""
    chosen = list(plugins)
    if not quiet:
        chosen.append(ProgressDisplay(Console(stderr=True)))
    return chosen


def run_on_engine(
    action: Callable[[Engine], Awaitable[RunResult]],
    config: Config,
    plugins: list[object],
    *,
    cache_url: str | Literal[False],
    store: str | None,
) -> tuple[RunResult, str | None]:
    """Run ``action`` on an engine made for the command line; also returns the store the
    run was recorded in (``None`` when there is none, or it failed: then it warned)."""

    async def main() -> tuple[RunResult, str | None]:
        async with Engine(
            config=config, plugins=plugins, cache_url=cache_url, store=store or False
        ) as engine:
            result = await action(engine)
            monitor = engine.monitor
        recorded = monitor.store is not None and not monitor.health.broken
        return result, store if recorded else None

    return asyncio.run(main())


def show_result(result: RunResult, as_json: bool, store: str | None) -> None:
    """Print the run (a table, or JSON) and exit 0 when it succeeded, else 1.

    ``store`` is where the run was recorded (``None``: it was not).
    """
    if as_json:
        click.echo(json.dumps(result_dict(result), indent=2))
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=160)  # pipes and CI logs: one line per stage, not 80 columns
        out.print(summary_table(result))
        for failed in result.failed():
            out.print(f"[red]{failed.name}[/red]: {failed.error!r}")
        if store is not None:
            hint = "" if result.ok else f"; continue it with: podium resume {result.run_id}"
            out.print(f"run {result.run_id} recorded in {redact_url(store)}{hint}", highlight=False)
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@click.command()
@click.argument("target")
@input_option
@click.pass_context
@errors_exit_2
def validate(ctx: click.Context, target: str, inputs: Sequence[str]) -> None:
    """Check a workflow definition (and its strategy) without running it."""
    config = load_config(ctx)
    loaded = load_target(target)
    workflow = loaded.workflow

    async def check() -> None:
        async with Engine(config=config, cache_url=False, plugins=loaded.plugins) as engine:
            engine.prepare(workflow, parse_inputs(inputs) if inputs else None)

    asyncio.run(check())
    click.echo(f"ok: workflow {workflow.name!r} with {len(workflow.stages)} stages is valid")
