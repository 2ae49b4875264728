"""``podium run`` and ``podium validate``: run a workflow, or check it without running it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

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
from podium.definition.config import Config
from podium.definition.loader import load_target
from podium.definition.workflow import Workflow
from podium.engine.engine import Engine
from podium.report.live import ReportRecorder
from podium.report.page import render_report
from podium.values.model import RunResult, StageStatus
from podium.values.providers import AgentSpec


@click.command()
@click.argument("target")
@input_option
@click.option("--strategy", help="Override the workflow's strategy.")
@click.option("--cache-url", help="Cache URL (memory://, sqlite:///path, redis://host:port/db).")
@click.option("--no-cache", is_flag=True, help="Run without any cache.")
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
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # pipes and CI logs: one line per stage, not 80 columns
    plugins: list[object] = list(loaded.plugins)
    if not (as_json or no_progress):
        plugins.append(ProgressDisplay(Console(stderr=True)))
    recorder = ReportRecorder() if report_file is not None else None
    if recorder is not None:
        plugins.append(recorder)

    def report(result: RunResult) -> None:
        if recorder is not None and report_file is not None:
            write_file(report_file, render_report(recorder.report(result.run_id)))
        if as_json:
            click.echo(json.dumps(result_dict(result), indent=2))
            return
        out.print(summary_table(result))
        for failed in result.failed():
            out.print(f"[red]{failed.name}[/red]: {failed.error!r}")

    # The command line caches in a SQLite file by default, so two runs share results;
    # a run on an agent profile keeps its own, so offline answers never stand in for real ones.
    chosen: str | Literal[False] = False if no_cache else cli_cache_url(config)
    if profile_file and chosen and "cache_url" not in config.sources:
        chosen = profile_cache_url(profile_file)
    sys.exit(asyncio.run(_run(workflow, values, config, plugins, chosen, report, profile)))


async def _run(
    workflow: Workflow,
    inputs: dict[str, Any],
    config: Config,
    plugins: list[object],
    cache_url: str | Literal[False],
    report: Callable[[RunResult], None],
    profile: list[AgentSpec],
) -> int:
    """Run on a fresh engine, report the result; the exit code (130/143 when interrupted)."""
    with Interruptions() as interruptions:
        async with Engine(config=config, plugins=plugins, cache_url=cache_url) as engine:
            register_profile(engine, profile)
            handle = await engine.submit(workflow, inputs)
            interruptions.watch(handle)
            result = await handle
        report(result)
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
