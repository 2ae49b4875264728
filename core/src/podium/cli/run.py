"""``podium run`` and ``podium validate``: run a workflow, or check it without running it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, Literal

import click
from rich.console import Console

from podium.cli.base import EXIT_FAILED, EXIT_OK, errors_exit_2, input_option, load_config, parse_inputs
from podium.cli.cache import cli_cache_url
from podium.cli.console import ProgressDisplay, result_dict, summary_table
from podium.cli.logs import configure_logging
from podium.definition.config import Config
from podium.definition.loader import load_target
from podium.definition.workflow import Workflow
from podium.engine.engine import Engine
from podium.values.model import RunResult


@click.command()
@click.argument("target")
@input_option
@click.option("--strategy", help="Override the workflow's strategy.")
@click.option("--cache-url", help="Cache URL (memory://, sqlite:///path, redis://host:port/db).")
@click.option("--no-cache", is_flag=True, help="Run without any cache.")
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
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # pipes and CI logs: one line per stage, not 80 columns
    plugins: list[object] = list(loaded.plugins)
    if not (as_json or no_progress):
        plugins.append(ProgressDisplay(Console(stderr=True)))
    # The command line caches in a SQLite file by default, so two runs share results.
    chosen: str | Literal[False] = False if no_cache else cli_cache_url(config)
    result = asyncio.run(_run(workflow, values, config, plugins, cache_url=chosen))
    if as_json:
        click.echo(json.dumps(result_dict(result), indent=2))
    else:
        out.print(summary_table(result))
        for failed in result.failed():
            out.print(f"[red]{failed.name}[/red]: {failed.error!r}")
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


async def _run(
    workflow: Workflow,
    inputs: dict[str, Any],
    config: Config,
    plugins: list[object],
    cache_url: str | Literal[False],
) -> RunResult:
    async with Engine(config=config, plugins=plugins, cache_url=cache_url) as engine:
        return await engine.run(workflow, inputs)


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
    mapped = sum(1 for stage in workflow.stages.values() if stage.map is not None)
    maps = f" ({mapped} mapped over items known at run time)" if mapped else ""
    click.echo(f"ok: workflow {workflow.name!r} with {len(workflow.stages)} stages{maps} is valid")
