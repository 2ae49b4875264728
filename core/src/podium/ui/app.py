"""The dashboard as an ASGI application (Starlette): read-only, self-contained pages.

Every route answers GET (and HEAD) only. Pages carry a Content-Security-Policy that
allows their own scripts by hash and requests to this server alone; nothing comes from
the internet. A source that fails gives a page saying so (status 503), never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from podium.report.page import report_body
from podium.ui import pages
from podium.ui.source import RunFilters, RunSource, parse_filters

_log = logging.getLogger("podium.ui")

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(source: RunSource, handler: Handler) -> Handler:
    """A failing source gives a 503 page that says so; every response gets the headers."""

    async def guarded(request: Request) -> Response:
        try:
            response = await handler(request)
        except Exception as error:
            _log.exception("the dashboard could not read %s", source.name)
            message = f"could not read {source.name}: {type(error).__name__}: {error}"
            response = _error(request, "Source unavailable", message, source.name, 503)
        response.headers.update(_HEADERS)
        return response

    return guarded


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status)


def _error(request: Request, title: str, message: str, source: str, status: int) -> Response:
    """What went wrong: JSON under ``/api/`` (what its clients parse), else a page."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return _page(pages.message_page(title, message, source), status)


FilteredHandler = Callable[[Request, RunFilters], Awaitable[Response]]


def _filtered(source: RunSource, handler: FilteredHandler) -> Handler:
    """Hands ``handler`` the query's filters; a bad filter is a 400 page that says which."""

    async def filtered(request: Request) -> Response:
        try:
            filters = parse_filters(dict(request.query_params))
        except ValueError as error:
            return _error(request, "Bad filter", str(error), source.name, 400)
        return await handler(request, filters)

    return filtered


def create_app(
    source: RunSource, *, opened: Callable[[], AbstractAsyncContextManager[None]] | None = None
) -> Starlette:
    """The dashboard over ``source``: ``/`` runs, ``/runs/{id}``, ``/kpis``, ``/alerts``,
    ``/agents``, and JSON at ``/api/runs`` and ``/api/runs/{id}``. ``opened`` (e.g. a
    store's) is entered when the server starts and left when it stops."""

    async def runs(request: Request, filters: RunFilters) -> Response:
        return _page(
            pages.runs_page(await source.runs(filters), filters, await source.workflows(), source.name)
        )

    async def run(request: Request) -> Response:
        report = await source.report(request.path_params["run_id"])
        if report is None:
            return _unknown_run(request)
        return _page(pages.run_page(report, source.name))

    async def fragment(request: Request) -> Response:
        report = await source.report(request.path_params["run_id"])
        if report is None:
            return _unknown_run(request)
        response = _page(report_body(report))
        response.headers["X-Podium-Run-Status"] = report.status
        return response

    async def kpis(request: Request, filters: RunFilters) -> Response:
        reports = await source.runs(filters)
        return _page(pages.kpis_page(reports, filters, await source.workflows(), source.name))

    async def alerts(request: Request) -> Response:
        return _page(pages.alerts_page(await source.alerts(100), source.name))

    async def agents(request: Request) -> Response:
        return _page(pages.agents_page(await source.agents(), source.name))

    async def api_runs(request: Request, filters: RunFilters) -> Response:
        reports = await source.runs(filters)
        return JSONResponse({"runs": [_summary(r.to_json()) for r in reports]})

    async def api_run(request: Request) -> Response:
        report = await source.report(request.path_params["run_id"])
        if report is None:
            return JSONResponse({"error": f"no run {request.path_params['run_id']!r}"}, status_code=404)
        return JSONResponse(report.to_json())

    def _unknown_run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        return _page(
            pages.message_page("Unknown run", f"no run {run_id!r} in {source.name}", source.name), 404
        )

    routes: list[tuple[str, Handler]] = [
        ("/", _filtered(source, runs)),
        ("/runs/{run_id}", run),
        ("/runs/{run_id}/fragment", fragment),
        ("/kpis", _filtered(source, kpis)),
        ("/alerts", alerts),
        ("/agents", agents),
        ("/api/runs", _filtered(source, api_runs)),
        ("/api/runs/{run_id}", api_run),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if opened is None:
            yield
            return
        async with opened():
            yield

    return Starlette(
        routes=[Route(path, _guarded(source, handler), methods=["GET"]) for path, handler in routes],
        lifespan=lifespan,
    )


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """A run without its visits and graph, for lists."""
    return {key: value for key, value in data.items() if key not in ("history", "graph")}
