"""``podium run`` and ``podium validate``: run a workflow, or check it without running it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import click
from rich.console import Console

from podium.cli.agent_profiles import load_profile, profile_cache_url, profile_path, register_profile
from podium.cli.base import (
    EXIT_FAILED,
    EXIT_OK,
    check_writable,
    errors_exit_2,
    input_option,
    load_config,
    parse_inputs,
    write_file,
)
from podium.cli.cache import cli_cache_url
from podium.cli.console import ProgressDisplay, result_dict, summary_table
from podium.cli.interrupts import Interruptions
from podium.cli.logs import configure_logging
from podium.cli.store import cli_store_url, store_option
from podium.definition.config import Config
from podium.definition.loader import load_target
from podium.definition.workflow import Workflow
from podium.engine.engine import Engine
from podium.foundation.redaction import redact_url
from podium.report.live import ReportRecorder
from podium.report.page import render_report
from podium.running.handle import RunHandle
from podium.values.model import RunResult, StageStatus


@click.command()
@click.argument("target")
@input_option
@click.option("--strategy", help="Override the workflow's strategy.")
@click.option("--cache-url", help="Cache URL (memory://, sqlite:///path, redis://host:port/db).")
@click.option("--no-cache", is_flag=True, help="Run without any cache.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress).")
@click.option("--no-progress", is_flag=True, help="Do not show live progress.")
@click.option(
    "--agents",
    "agent_profile",
    metavar="PROFILE",
    help="Run on the agents of a profile: NAME for agents.NAME.toml beside TARGET, or a TOML path.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False),
    help="Also write the run's report to this file (one self-contained HTML page).",
)
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
    agent_profile: str | None,
    report_file: str | None,
) -> None:
    """Run the workflow TARGET (file.py[:NAME], module:NAME or file.toml).

    NAME is the variable holding the workflow. Ctrl-C (or SIGTERM) cancels the run and
    still shows its result, finished stages included; the exit code is then 130 (143).
    """
    if report_file is not None:
        check_writable(report_file)  # before the run, not after it
    config = load_config(ctx, strategy=strategy, cache_url=cache_url)
    profile_file = profile_path(agent_profile, target) if agent_profile else None
    profile = load_profile(profile_file) if profile_file else []
    configure_logging(config.settings.log_level, json_lines=ctx.obj["log_json"])
    loaded = load_target(target)
    workflow = loaded.workflow
    if strategy:
        workflow.strategy = strategy
    values = parse_inputs(inputs)
    plugins = with_progress(loaded.plugins, as_json or no_progress)
    recorder = ReportRecorder() if report_file is not None else None
    if recorder is not None:
        plugins.append(recorder)
    # The command line caches in a SQLite file by default, so two runs share results;
    # a run on an agent profile keeps its own, so offline answers never stand in for real ones.
    # It records its runs in another (.podium/runs.sqlite3), to be listed and resumed.
    chosen: str | Literal[False] = False if no_cache else cli_cache_url(config)
    if profile_file and chosen and "cache_url" not in config.sources:
        chosen = profile_cache_url(profile_file)

    def start(engine: Engine) -> Awaitable[RunHandle]:
        register_profile(engine, profile)
        return engine.submit(workflow, values)

    store = cli_store_url(config, store_url)
    code = asyncio.run(run_on_engine(workflow, start, config, plugins, chosen, store, as_json))
    if recorder is not None and report_file is not None and recorder.run_ids():
        write_file(report_file, render_report(recorder.report(recorder.run_ids()[-1])))
    sys.exit(code)


def with_progress(plugins: Sequence[object], quiet: bool) -> list[object]:
    """The target's hook modules, and the live progress display unless ``quiet``."""
    chosen = list(plugins)
    if not quiet:
        chosen.append(ProgressDisplay(Console(stderr=True)))
    return chosen


def report(result: RunResult, as_json: bool, recorded: str | None) -> None:
    """Print the run: a table (then where it was recorded, if it was), or JSON."""
    if as_json:
        click.echo(json.dumps(result_dict(result), indent=2))
        return
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # pipes and CI logs: one line per stage, not 80 columns
    out.print(summary_table(result))
    for failed in result.failed():
        out.print(f"[red]{failed.name}[/red]: {failed.error!r}")
    if recorded is not None:
        hint = "" if result.ok else f"; continue it with: podium resume {result.run_id}"
        out.print(f"run {result.run_id} recorded in {redact_url(recorded)}{hint}", highlight=False)


async def run_on_engine(
    workflow: Workflow,
    start: Callable[[Engine], Awaitable[RunHandle]],
    config: Config,
    plugins: list[object],
    cache_url: str | Literal[False],
    store: str | None,
    as_json: bool,
) -> int:
    """Run on a fresh engine, report the result; the exit code (130/143 when interrupted).

    ``start`` submits the run (a new one, or a resumed one) on the engine.
    """
    with Interruptions() as interruptions:
        async with Engine(
            config=config, plugins=plugins, cache_url=cache_url, store=store or False
        ) as engine:
            handle = await start(engine)
            interruptions.watch(handle)
            result = await handle
            monitor = engine.monitor
        # Said only when it is so: a store that failed warned, and the run went on unrecorded.
        recorded = store if monitor.store is not None and not monitor.health.broken else None
        report(result, as_json, recorded)
    if interruptions.exit_code is not None:
        in_threads = [
            r.name
            for r in result.history
            if r.status is StageStatus.CANCELLED and workflow.stages[r.name].executor == "thread"
        ]
        if in_threads:
            click.echo(
                f"podium: waiting for {', '.join(map(repr, in_threads))}, cancelled but still running "
                f"(a thread cannot be interrupted); {interruptions.again} again to exit at once",
                err=True,
            )
        return interruptions.exit_code
    return EXIT_OK if result.ok else EXIT_FAILED


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
