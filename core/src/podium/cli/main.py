"""The ``podium`` command line: run, validate, graph, plugins, config.

Exit codes: 0 success, 1 the workflow failed, 2 a usage, definition or configuration
error (a message, no traceback).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, Literal, TypeVar

import click
from rich.console import Console

from podium.cli.cache import cache as cache_group
from podium.cli.cache import cli_cache_url
from podium.cli.console import ProgressDisplay, result_dict, summary_table
from podium.cli.graph import to_dot, to_mermaid
from podium.cli.logs import configure_logging
from podium.contract.plugins import configured_plugin_manager
from podium.definition.config import Config
from podium.definition.loader import load_target
from podium.definition.workflow import Workflow
from podium.engine.engine import Engine
from podium.foundation.errors import PodiumError
from podium.values.model import RunResult

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _errors_exit_2(fn: F) -> F:
    """Turn Podium's own errors into a message on stderr and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PodiumError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def _parse_inputs(pairs: Sequence[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--input")
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[key] = raw
    return inputs


def _load_config(ctx: click.Context, **overrides: Any) -> Config:
    return Config.load(file=ctx.obj.get("config_file"), overrides=overrides)


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


#: ``-i NAME=VALUE``, shared by the commands that take workflow inputs.
input_option = click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A workflow input (VALUE parsed as JSON when it parses). Repeatable.",
)


@main.command()
@click.argument("target")
@input_option
@click.option("--strategy", help="Override the workflow's strategy.")
@click.option("--cache-url", help="Cache URL (memory://, sqlite:///path, redis://host:port/db).")
@click.option("--no-cache", is_flag=True, help="Run without any cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress).")
@click.option("--no-progress", is_flag=True, help="Do not show live progress.")
@click.pass_context
@_errors_exit_2
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
    config = _load_config(ctx, strategy=strategy, cache_url=cache_url)
    configure_logging(ctx.obj["log_level"] or config.settings.log_level, json_lines=ctx.obj["log_json"])
    loaded = load_target(target)
    workflow = loaded.workflow
    if strategy:
        workflow.strategy = strategy
    values = _parse_inputs(inputs)
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


@main.command()
@click.argument("target")
@input_option
@click.pass_context
@_errors_exit_2
def validate(ctx: click.Context, target: str, inputs: Sequence[str]) -> None:
    """Check a workflow definition (and its strategy) without running it."""
    config = _load_config(ctx)
    loaded = load_target(target)
    workflow = loaded.workflow

    async def check() -> None:
        async with Engine(config=config, cache_url=False, plugins=loaded.plugins) as engine:
            engine.prepare(workflow, _parse_inputs(inputs) if inputs else None)

    asyncio.run(check())
    click.echo(f"ok: workflow {workflow.name!r} with {len(workflow.stages)} stages is valid")


@main.command()
@click.argument("target")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@_errors_exit_2
def graph(target: str, fmt: str) -> None:
    """Print the workflow's dependency graph (Mermaid or Graphviz DOT)."""
    workflow = load_target(target).workflow
    click.echo(to_mermaid(workflow) if fmt == "mermaid" else to_dot(workflow), nl=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list blocked plugins and hooks nobody implements."
)
@click.option("--hook", "hook_name", help="Only plugins implementing this hook.")
@click.pass_context
@_errors_exit_2
def plugins(ctx: click.Context, as_json: bool, show_all: bool, hook_name: str | None) -> None:
    """List the plugins: name, distribution, version, status, hooks implemented."""
    import warnings

    settings = _load_config(ctx).settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failures are listed below, not warned about
        pm = configured_plugin_manager(settings, enforce_required=False)
    if hook_name and not hasattr(pm.hook, hook_name):
        raise PodiumError(f"no hook named {hook_name!r}")
    rows: list[dict[str, Any]] = []
    for info in pm.infos.values():
        if info.status == "blocked" and not show_all:
            continue
        hooks = pm.plugin_hooks(info.name)
        if hook_name and hook_name not in hooks:
            continue
        rows.append(
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "status": info.status,
                "error": info.error,
                "hooks": hooks,
            }
        )
    unimplemented = sorted(
        name
        for name in dir(pm.hook)
        if name.startswith("podium_") and not getattr(pm.hook, name).get_hookimpls()
    )
    if as_json:
        payload: dict[str, Any] = {"plugins": rows}
        if show_all:
            payload["unimplemented_hooks"] = unimplemented
        click.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    from rich.table import Table

    table = Table("name", "distribution", "version", "status", "hooks")
    for row in rows:
        status = row["status"] + (f": {row['error']}" if row["error"] else "")
        table.add_row(
            row["name"],
            row["distribution"] or "",
            row["version"] or "",
            status,
            ", ".join(h.removeprefix("podium_") for h in row["hooks"]),
        )
    console.print(table)
    if show_all and unimplemented:
        console.print("hooks nobody implements: " + ", ".join(unimplemented))


@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_errors_exit_2
def config_command(ctx: click.Context, as_json: bool) -> None:
    """Show the effective configuration (secrets masked) and where each value came from."""
    config = _load_config(ctx)
    engine = Engine(config=config, cache_url=False)
    engine.register_plugins()  # plugin sections must be known to be shown
    rows = config.describe()
    if as_json:
        click.echo(
            json.dumps([{"key": k, "value": v, "source": s} for k, v, s in rows], indent=2, default=str)
        )
        return
    from rich.table import Table

    table = Table("key", "value", "source")
    for key, value, source in rows:
        table.add_row(key, json.dumps(value, default=str), source)
    Console().print(table)


main.add_command(cache_group)
