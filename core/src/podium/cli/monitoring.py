"""``podium stats``, ``podium alerts`` and ``podium cost``: what the run store says about runs."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from podium.cli.base import errors_exit_2, load_config
from podium.cli.store import parse_since, store_option, with_store
from podium.contract.run_store import RunStore
from podium.values.alerts import Alert
from podium.values.costs import cost_report
from podium.values.kpis import compute_kpis
from podium.values.records import RunFilter

since_option = click.option(
    "--since", default="24h", show_default=True, help="Runs started within this long."
)
workflow_option = click.option("--workflow", help="Only runs of this workflow.")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


@click.command("stats")
@since_option
@workflow_option
@store_option
@json_option
@click.pass_context
@errors_exit_2
def stats_command(
    ctx: click.Context, since: str, workflow: str | None, store_url: str | None, as_json: bool
) -> None:
    """KPIs of the recorded runs: success rate, durations, SLOs, tokens, cost, cache, agents."""
    where = RunFilter(since=parse_since(since), workflow=workflow)
    targets = load_config(ctx).settings.slo

    async def action(store: RunStore) -> dict[str, Any]:
        runs = await store.runs(where)
        return compute_kpis(runs, await store.stage_samples(where), await store.call_samples(where), targets)

    kpis = with_store(ctx, store_url, action)
    if as_json:
        click.echo(json.dumps({"since": since, "workflow": workflow, **kpis}, indent=2, default=str))
        return
    out = _console()
    if not kpis["runs"]:
        out.print(f"no runs recorded in the last {since}")
        return
    duration = kpis["duration_s"]
    statuses = ", ".join(f"{status} {n}" for status, n in kpis["by_status"].items())
    out.print(f"[bold]{kpis['runs']} runs[/bold] in the last {since} ({statuses})")
    out.print(
        f"success rate {_pct(kpis['success_rate'])}; duration avg {_s(duration['avg'])}, "
        f"p50 {_s(duration['p50'])}, p95 {_s(duration['p95'])}"
    )
    average = kpis["slo"]["average"]
    mark = "-" if average["met"] is None else "✓" if average["met"] else "✗"
    out.print(f"average run {_s(average['actual_s'])} against the {_s(average['target_s'])} target {mark}")
    table = Table(
        "workflow", "runs", "success", "avg", "p50", "p95", "SLO target", "met", "tokens/run", "cost/run"
    )
    for name, figures in kpis["workflows"].items():
        slo = figures["slo"]
        table.add_row(
            name,
            str(figures["runs"]),
            _pct(figures["success_rate"]),
            _s(figures["duration_s"]["avg"]),
            _s(figures["duration_s"]["p50"]),
            _s(figures["duration_s"]["p95"]),
            _s(slo["target_s"]),
            "-" if slo["met"] is None else "✓" if slo["met"] else "✗",
            f"{figures['tokens']['per_run'] or 0:,.0f}",
            f"${figures['cost_usd']['per_run'] or 0:.4f}",
        )
    out.print(table)
    stages = Table("workflow", "stage", "visits", "failed", "avg", "p50", "p95")
    for name, per_stage in kpis["stages"].items():
        for stage, figures in per_stage.items():
            d = figures["duration_s"]
            stages.add_row(
                name,
                stage,
                str(figures["visits"]),
                str(figures["failed"]),
                _s(d["avg"]),
                _s(d["p50"]),
                _s(d["p95"]),
            )
    out.print(stages)
    slowest = kpis["slowest_stage"]
    if slowest:
        out.print(
            f"slowest stage: {slowest['workflow']}/{slowest['stage']} ({_s(slowest['avg_s'])} on average)"
        )
    agents, cache, saved, budget = kpis["agents"], kpis["cache"], kpis["saved"], kpis["budget"]
    out.print(f"agent calls {agents['calls']:,}, failure rate {_pct(agents['failure_rate'])}")
    for agent, figures in agents["by_agent"].items():
        out.print(
            f"  {agent}: {figures['calls']:,} calls, {figures['failures']:,} failed "
            f"({_pct(figures['failure_rate'])})"
        )
    out.print(
        f"tokens {kpis['tokens']['total']:,} ({kpis['tokens']['per_run'] or 0:,.0f} per run), "
        f"cost ${kpis['cost_usd']['total']:.4f} (${kpis['cost_usd']['per_run'] or 0:.4f} per run)"
    )
    if budget["runs_with_budget"]:
        out.print(
            f"budgets: {budget['over_budget']} of {budget['runs_with_budget']} budgeted runs over, "
            f"{_pct(budget['avg_share_spent'])} spent on average"
        )
    out.print(
        f"cache hit rate {_pct(cache['hit_rate'])} ({cache['hits']:,} hits, {cache['misses']:,} misses); "
        f"saved {saved['tokens']:,} tokens, ${saved['cost_usd']:.4f}, {saved['doc_requests']:,} doc requests"
    )


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "name": alert.name,
        "severity": alert.severity,
        "message": alert.message,
        "workflow": alert.workflow,
        "subject": alert.subject,
        "run_id": alert.run_id,
        "value": alert.value,
        "threshold": alert.threshold,
        "raised_at": alert.raised_at.astimezone().isoformat(),
    }


@click.command("alerts")
@click.option("--since", default="7d", show_default=True, help="Alerts raised within this long.")
@workflow_option
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@store_option
@json_option
@click.pass_context
@errors_exit_2
def alerts_command(
    ctx: click.Context, since: str, workflow: str | None, limit: int, store_url: str | None, as_json: bool
) -> None:
    """The alerts raised lately, newest first."""
    where = RunFilter(since=parse_since(since), workflow=workflow, limit=limit)

    async def action(store: RunStore) -> list[Alert]:
        return await store.alerts(where)

    found = with_store(ctx, store_url, action)
    if as_json:
        click.echo(json.dumps([alert_dict(a) for a in found], indent=2))
        return
    if not found:
        click.echo(f"no alerts raised in the last {since}")
        return
    table = Table("raised", "alert", "severity", "workflow", "message")
    for alert in found:
        table.add_row(
            alert.raised_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            alert.name,
            alert.severity,
            alert.workflow or "",
            alert.message,
        )
    _console().print(table)


@click.command("cost")
@click.option(
    "--monthly",
    type=click.IntRange(min=1),
    help="Project to this many runs a month (default: cost.monthly_workflows).",
)
@click.option("--since", default="30d", show_default=True, help="Measure the runs started within this long.")
@workflow_option
@store_option
@json_option
@click.pass_context
@errors_exit_2
def cost_command(
    ctx: click.Context,
    monthly: int | None,
    since: str,
    workflow: str | None,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Cost per component from the recorded runs, projected to N runs a month, with Podium's savings."""
    where = RunFilter(since=parse_since(since), workflow=workflow)
    settings = load_config(ctx).settings.cost

    async def action(store: RunStore) -> dict[str, Any]:
        return cost_report(await store.runs(where), await store.agent_calls(where), settings, monthly)

    report = with_store(ctx, store_url, action)
    if as_json:
        click.echo(json.dumps({"since": since, "workflow": workflow, **report}, indent=2))
        return
    out = _console()
    n = report["monthly_workflows"]
    out.print(
        f"measured over {report['runs']} run(s) started in the last {since}; projected to {n:,} a month"
    )
    table = Table("component", "per run", f"{n:,}/month", "without Podium", "saved", "how")
    for row in report["components"]:
        table.add_row(
            row["component"],
            "-" if row["per_run_usd"] is None else f"${row['per_run_usd']:.4f}",
            f"${row['monthly_usd']:,.2f}",
            f"${row['without_podium_monthly_usd']:,.2f}",
            _pct(row["saving"]),
            row["how"],
        )
    total = report["total"]
    table.add_section()
    table.add_row(
        "total",
        "",
        f"${total['monthly_usd']:,.2f}",
        f"${total['without_podium_monthly_usd']:,.2f}",
        _pct(total["saving"]),
        f"${total['saved_monthly_usd']:,.2f} a month saved",
        style="bold",
    )
    out.print(table)


__all__ = ["alert_dict", "alerts_command", "cost_command", "stats_command"]
