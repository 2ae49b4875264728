"""The ``podium`` command line; each command group lives in its own module here.

Exit codes: 0 success, 1 the workflow failed (or a check found gaps), 2 a usage,
definition or configuration error (a message, no traceback).
"""

from __future__ import annotations

import click

from podium.cli.agents import agents
from podium.cli.cache import cache
from podium.cli.check import check_command
from podium.cli.graph import graph
from podium.cli.info import config_command, plugins
from podium.cli.monitoring import alerts_command, cost_command, stats_command
from podium.cli.report import report_command, ui_command
from podium.cli.run import run, validate
from podium.cli.runs import resume_command, runs_command
from podium.cli.store import store_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podium")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Configuration file (TOML).")
@click.option("--log-level", default=None, help="Logging level of the podium loggers (default WARNING).")
@click.option("--log-json", is_flag=True, help="Log records as JSON lines on stderr.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, log_level: str | None, log_json: bool) -> None:
    """Podium: run LLM-agent workflows fast, cheap and safely."""
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["log_level"] = log_level
    ctx.obj["log_json"] = log_json


for command in (run, validate, graph, plugins, config_command, cache, agents):
    main.add_command(command)

# The run store and what it feeds: past runs, resuming them, KPIs, alerts, costs, the checklist.
for command in (
    runs_command,
    resume_command,
    stats_command,
    alerts_command,
    cost_command,
    check_command,
    store_group,
    report_command,
    ui_command,
):
    main.add_command(command)
