"""``podium agents``: the declared agents with their provider, model, limits, breaker and pool."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from podium.cli.base import errors_exit_2, load_config
from podium.engine.engine import Engine


async def describe_agents(engine: Engine) -> list[dict[str, Any]]:
    """Every agent of ``engine`` as ``podium agents --json`` prints it."""
    engine.register_plugins()
    engine.setup_agents()
    try:
        return [await engine.agents.managed(name).describe() for name in sorted(engine.agents)]
    finally:
        if engine.limiter is not None:
            await engine.limiter.backend.close()


def _limits(row: dict[str, Any]) -> str:
    own = ", ".join(f"{k} {v}" for k, v in row["limits"].items())
    shared = [name for name in row["meters"] if name.startswith("key:")]
    if shared:
        own += (", " if own else "") + "shared: " + ", ".join(shared)
    return own or "-"


@click.command("agents")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@errors_exit_2
def agents(ctx: click.Context, as_json: bool) -> None:
    """List the declared agents: provider, model, limits, breaker state and pool use."""
    engine = Engine(config=load_config(ctx), cache_url=False)
    rows = asyncio.run(describe_agents(engine))
    if as_json:
        click.echo(json.dumps({"agents": rows}, indent=2, default=str))
        return
    if not rows:
        click.echo("no agents declared (add [agents.<name>] tables, or register them in code)")
        return
    table = Table("name", "provider", "model", "limits", "pool", "breaker", "retry", "fallback", "cache")
    for row in rows:
        pool = row["pool"]
        breaker = row["breaker"]
        table.add_row(
            row["name"],
            row["provider"],
            row["model"],
            _limits(row),
            "-" if pool is None else f"{pool['in_use']}/{pool['size']} ({pool['waiting']} waiting)",
            breaker["state"] or "-",
            str(row["retry"] or "-"),
            row["fallback"] or "-",
            str(row["cache"]),
        )
    Console(width=160).print(table)


__all__ = ["agents", "describe_agents"]
