"""``podium runs`` and ``podium resume``: the runs the store remembers, and continuing one."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from podium.cli.base import errors_exit_2, input_option, load_config, parse_inputs
from podium.cli.cache import cli_cache_url
from podium.cli.logs import configure_logging
from podium.cli.run import run_on_engine, with_progress
from podium.cli.store import cli_store_url, parse_since, store_option, with_store
from podium.contract.run_store import RunStore
from podium.engine.engine import Engine
from podium.engine.resume import find_run, workflow_of
from podium.foundation.errors import ResumeError
from podium.running.handle import RunHandle
from podium.values.records import ENDED, RUNNING, RunFilter, RunRecord

STATUSES = (RUNNING, *ENDED)


def run_dict(run: RunRecord) -> dict[str, Any]:
    """A stored run as ``podium runs --json`` prints it."""
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "status": run.status,
        "strategy": run.strategy,
        "started_at": datetime.fromtimestamp(run.started_at).astimezone().isoformat(),
        "finished_at": (
            datetime.fromtimestamp(run.finished_at).astimezone().isoformat() if run.finished_at else None
        ),
        "duration_s": run.duration_s,
        "tokens": run.usage.total_tokens,
        "cost_usd": run.usage.cost_usd,
        "saved_tokens": run.saved.total_tokens,
        "saved_cost_usd": run.saved.cost_usd,
        "reason": run.reason,
        "resumed_from": run.resumed_from,
        "target": run.target,
        "host": run.host,
        "pid": run.pid,
    }


_STYLES = {"succeeded": "green", "failed": "red", "interrupted": "magenta", "running": "blue"}


@click.command("runs")
@click.option("--workflow", help="Only runs of this workflow.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option("--since", help="Only runs started within this long (24h, 7d).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@errors_exit_2
def runs_command(
    ctx: click.Context,
    workflow: str | None,
    status: str | None,
    since: str | None,
    limit: int,
    store_url: str | None,
    as_json: bool,
) -> None:
    """List the runs the store remembers, newest first (interrupted ones marked as such)."""
    where = RunFilter(since=parse_since(since), workflow=workflow, status=status, limit=limit)

    async def action(store: RunStore) -> list[RunRecord]:
        return await store.runs(where)

    found = with_store(ctx, store_url, action)
    if as_json:
        click.echo(json.dumps([run_dict(r) for r in found], indent=2))
        return
    if not found:
        click.echo("no runs recorded" + (" matching the filters" if workflow or status or since else ""))
        return
    table = Table("run", "workflow", "status", "started", "duration", "tokens", "cost", "note")
    for run in found:
        note = run.reason or ""
        if run.resumed_from:
            note = f"resumed {run.resumed_from}" + (f"; {note}" if note else "")
        table.add_row(
            run.run_id,
            run.workflow,
            f"[{_STYLES.get(run.status, 'yellow')}]{run.status}[/]",
            datetime.fromtimestamp(run.started_at).strftime("%Y-%m-%d %H:%M:%S"),
            f"{run.duration_s:.2f}s" if run.duration_s is not None else "",
            f"{run.usage.total_tokens:,}",
            f"${run.usage.cost_usd:.4f}",
            note,
        )
    Console(width=None if Console().is_terminal else 180).print(table)


@click.command("resume")
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Resume even though the workflow changed (reuses what did not).")
@input_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress).")
@click.option("--no-progress", is_flag=True, help="Do not show live progress.")
@click.pass_context
@errors_exit_2
def resume_command(
    ctx: click.Context,
    run_id: str,
    force: bool,
    inputs: Sequence[str],
    store_url: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Continue a failed, cancelled or interrupted run, reusing its completed stages.

    RUN_ID may be a unique prefix. The workflow is loaded again from where the run loaded
    it; a changed definition is refused (the changes are listed) unless --force.
    """
    config = load_config(ctx)
    configure_logging(ctx.obj["log_level"] or config.settings.log_level, json_lines=ctx.obj["log_json"])
    store = cli_store_url(config, store_url)
    if store is None:
        raise ResumeError("resuming needs a run store, and the configuration says store = false")
    record = with_store(ctx, store, lambda opened: find_run(opened, run_id))
    workflow, modules = workflow_of(record)
    overrides = parse_inputs(inputs)

    def start(engine: Engine) -> Awaitable[RunHandle]:
        return engine.submit_resume(record.run_id, workflow, force=force, inputs=overrides)

    plugins = with_progress(modules, as_json or no_progress)
    sys.exit(
        asyncio.run(run_on_engine(workflow, start, config, plugins, cli_cache_url(config), store, as_json))
    )


__all__ = ["resume_command", "run_dict", "runs_command"]
