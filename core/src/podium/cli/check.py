"""``podium check TARGET``: the deployment checklist, a gate for CI (exit 1 on a gap)."""

from __future__ import annotations

import asyncio
import json
import sys

import click
from rich.console import Console
from rich.markup import escape

from podium.cli.base import EXIT_FAILED, EXIT_OK, errors_exit_2, load_config
from podium.cli.cache import cli_cache_url
from podium.cli.logs import configure_logging
from podium.cli.store import cli_store_url, store_option
from podium.definition.loader import load_target
from podium.engine.checklist import CheckItem, deployment_checklist
from podium.engine.engine import Engine

_MARKS = {True: ("✓", "green"), False: ("✗", "red"), None: ("-", "yellow")}


@click.command("check")
@click.argument("target")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@errors_exit_2
def check_command(ctx: click.Context, target: str, store_url: str | None, as_json: bool) -> None:
    """Evaluate the deployment checklist against the workflow TARGET and the configuration.

    Each item is met (✓), missing (✗, with the reason and the fix) or not applicable (-).
    Exits 1 when an item is missing, 2 when TARGET or the configuration is bad.
    """
    config = load_config(ctx)
    # As `podium run` would: its logging, its cache and its run store are what is checked.
    configure_logging(ctx.obj["log_level"] or config.settings.log_level, json_lines=ctx.obj["log_json"])
    loaded = load_target(target)
    workflow = loaded.workflow

    async def evaluate() -> list[CheckItem]:
        engine = Engine(
            config=config,
            plugins=loaded.plugins,
            cache_url=cli_cache_url(config),
            store=cli_store_url(config, store_url) or False,
        )
        async with engine:
            engine.prepare(workflow, None)  # a definition error is exit 2, as for validate
            return deployment_checklist(engine, workflow)

    items = asyncio.run(evaluate())
    missing = [item for item in items if item.ok is False]
    if as_json:
        payload = {"workflow": workflow.name, "ok": not missing, "items": [item.as_dict() for item in items]}
        click.echo(json.dumps(payload, indent=2))
    else:
        out = Console(highlight=False)
        if not out.is_terminal:
            out = Console(highlight=False, width=160)
        out.print(f"[bold]deployment checklist for workflow {escape(repr(workflow.name))}[/bold]")
        for item in items:
            mark, style = _MARKS[item.ok]
            out.print(f"[{style}]{mark}[/] {escape(item.name)}: {escape(item.reason)}")
            if item.fix:
                out.print(f"    fix: {escape(item.fix)}")
        out.print(f"{len(missing)} item(s) missing" if missing else "ready to deploy")
    sys.exit(EXIT_FAILED if missing else EXIT_OK)


__all__ = ["check_command"]
