"""``podium report`` and ``podium ui``: a stored run as one HTML page, and the dashboard."""

from __future__ import annotations

import ipaddress
import socket

import click

from podium.cli.base import EXIT_USAGE, check_writable, errors_exit_2, load_config, write_file
from podium.cli.store import cli_store_url, open_store, store_option, with_store
from podium.contract.run_store import RunStore
from podium.engine.resume import find_run
from podium.foundation.errors import PodiumError
from podium.foundation.redaction import redact_url
from podium.report.page import render_report
from podium.report.stored import stored_report
from podium.values.records import RunFilter

#: What ``podium ui`` says when the ``ui`` extra is not installed.
UI_EXTRA = "the dashboard needs its extra: pip install 'podium[ui]'"


@click.command("report")
@click.argument("run_id", required=False)
@click.option(
    "--html",
    "html_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the report to this file.",
)
@store_option
@click.pass_context
@errors_exit_2
def report_command(ctx: click.Context, run_id: str | None, html_file: str, store_url: str | None) -> None:
    """Write the report of run RUN_ID (a unique prefix will do; default: the latest run) as
    one self-contained HTML page."""
    check_writable(html_file)  # before reading the store
    slo = load_config(ctx).settings.slo

    async def action(store: RunStore) -> str:
        if run_id:
            run = await find_run(store, run_id)
        else:
            latest = await store.runs(RunFilter(limit=1))
            if not latest:
                raise PodiumError(f"no runs recorded in {redact_url(store.url)} yet")
            run = latest[0]
        return render_report(await stored_report(store, run, slo))

    write_file(html_file, with_store(ctx, store_url, action))
    click.echo(f"wrote {html_file}", err=True)


def _check_port(host: str, port: int) -> None:
    """Exit 2 now, with a message, when the dashboard could not listen on ``host:port``."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        click.echo(f"error: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        raise SystemExit(EXIT_USAGE) from None


async def _opens(store: RunStore) -> None:
    """Nothing: ``with_store`` has opened the store, which is the check."""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port to listen on."
)
@store_option
@click.pass_context
@errors_exit_2
def ui_command(ctx: click.Context, host: str, port: int, store_url: str | None) -> None:
    """Serve the local dashboard over the run store (read-only) until interrupted."""
    try:
        from podium.ui.app import create_app
        from podium.ui.server import serve
        from podium.ui.store_source import StoreSource
    except ImportError:
        click.echo(f"error: {UI_EXTRA}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    config = load_config(ctx)
    url = cli_store_url(config, store_url)
    if url is None:
        raise PodiumError("no run store to show: the configuration says store = false")
    _check_port(host, port)
    with_store(ctx, url, _opens)  # a store that cannot be opened exits 2 now, not inside the server
    source = StoreSource(open_store(config, url), config.settings.slo, config.settings.agents)
    if not _loopback(host):
        click.echo(
            f"warning: the dashboard has no login; anyone who can reach {host}:{port} sees every run",
            err=True,
        )
    click.echo(f"Podium dashboard on http://{host}:{port} reading {source.name} (Ctrl-C to stop)", err=True)
    serve(create_app(source, opened=source.opened), host, port)
