"""``podium plugins`` and ``podium config``: what is installed, and the effective configuration."""

from __future__ import annotations

import json
import warnings
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from podium.cli.base import errors_exit_2, load_config
from podium.contract.plugins import configured_plugin_manager
from podium.engine.engine import Engine
from podium.foundation.errors import PodiumError


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list blocked plugins and hooks nobody implements."
)
@click.option("--hook", "hook_name", help="Only plugins implementing this hook.")
@click.pass_context
@errors_exit_2
def plugins(ctx: click.Context, as_json: bool, show_all: bool, hook_name: str | None) -> None:
    """List the plugins: name, distribution, version, status, hooks implemented."""
    settings = load_config(ctx).settings
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


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@errors_exit_2
def config_command(ctx: click.Context, as_json: bool) -> None:
    """Show the effective configuration (secrets masked) and where each value came from."""
    config = load_config(ctx)
    engine = Engine(config=config, cache_url=False)
    engine.register_plugins()  # plugin sections must be known to be shown
    rows = config.describe()
    if as_json:
        click.echo(
            json.dumps([{"key": k, "value": v, "source": s} for k, v, s in rows], indent=2, default=str)
        )
        return
    table = Table("key", "value", "source")
    for key, value, source in rows:
        table.add_row(key, json.dumps(value, default=str), source)
    Console().print(table)
