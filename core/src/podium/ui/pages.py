"""The dashboard's pages as HTML: runs (with filters), a run, KPIs over time, alerts, agents.

Pages are built with :mod:`podium.report.markup`, so every value is escaped; the only
scripts are the report's tooltip and, on a running run's page, :data:`LIVE_JS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from podium.report.markup import Markup, join, tag
from podium.report.page import badge, data_table, page, report_body
from podium.report.run_report import DEFAULT_SLO_S, RunReport
from podium.report.timeline import seconds
from podium.ui.charts import CHART_CSS, chart, daily_kpis
from podium.ui.source import STATUSES, AgentState, RunFilters
from podium.values.alerts import Alert

#: Keeps a running run's page current: fetches the report fragment every second and swaps it in,
#: until the run has ended. The fragment is the server's escaped HTML; the script adds nothing to it.
LIVE_JS = Markup(
    """
(function () {
  var box = document.getElementById("live");
  if (!box || box.getAttribute("data-running") !== "true") { return; }
  var url = box.getAttribute("data-fragment");
  function poll() {
    fetch(url, {cache: "no-store"}).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      var status = response.headers.get("X-Podium-Run-Status");
      return response.text().then(function (html) {
        box.innerHTML = html;
        box.setAttribute("data-updates", String(Number(box.getAttribute("data-updates") || "0") + 1));
        if (status === "running") { setTimeout(poll, 1000); return; }
        box.setAttribute("data-running", "false");
        var note = document.getElementById("live-note");
        if (note) { note.remove(); }
      });
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
"""
)

NAV = (("Runs", "/"), ("KPIs", "/kpis"), ("Alerts", "/alerts"), ("Agents", "/agents"))


def _header(source: str) -> Markup:
    return tag(
        "header",
        {"class": "top"},
        tag("a", {"href": "/"}, "Podium"),
        tag("nav", None, [tag("a", {"href": href}, name) for name, href in NAV]),
        tag("span", {"class": "meta"}, f"reading {source}"),
    )


def dashboard_page(title: str, body: Markup, source: str, *, live: bool = False) -> str:
    scripts = (str(LIVE_JS),) if live else ()
    return page(title, body, scripts=scripts, connect_self=live, header=_header(source), css=CHART_CSS)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def run_link(run_id: str) -> str:
    return "/runs/" + quote(run_id, safe="")


def _filters_form(filters: RunFilters, workflows: Sequence[str]) -> Markup:
    def select(name: str, choices: Sequence[str], chosen: str | None) -> Markup:
        options = [tag("option", {"value": ""}, "any")]
        options += [tag("option", {"value": c, "selected": c == chosen}, c) for c in choices]
        return tag("label", None, name, tag("select", {"name": name, "id": f"filter-{name}"}, options))

    query = filters.query()
    return tag(
        "form",
        {"class": "filters", "method": "get", "action": "/", "id": "filters"},
        select(
            "workflow",
            sorted({*workflows, *([filters.workflow] if filters.workflow else [])}),
            filters.workflow,
        ),
        select("status", STATUSES, filters.status),
        tag(
            "label",
            None,
            "since",
            tag(
                "input",
                {"type": "date", "name": "since", "id": "filter-since", "value": query.get("since", "")},
            ),
        ),
        tag(
            "label",
            None,
            "until",
            tag(
                "input",
                {"type": "date", "name": "until", "id": "filter-until", "value": query.get("until", "")},
            ),
        ),
        tag("button", {"type": "submit"}, "Filter"),
        tag("a", {"href": "/"}, "clear"),
    )


def runs_page(
    reports: Sequence[RunReport], filters: RunFilters, workflows: Sequence[str], source: str
) -> str:
    rows = [
        tag(
            "tr",
            {"class": "run", "data-run": r.run_id, "data-workflow": r.workflow, "data-status": r.status},
            tag("td", None, tag("a", {"href": run_link(r.run_id)}, r.run_id)),
            tag("td", None, r.workflow),
            tag("td", None, badge(r.status)),
            tag("td", None, _when(r.started_at)),
            tag("td", None, r.reason),
            tag("td", {"class": "num"}, "running" if r.running else seconds(r.duration_s)),
            tag("td", {"class": "num"}, f"{r.usage.total_tokens:,}"),
            tag("td", {"class": "num"}, f"${r.usage.cost_usd:.4f}"),
        )
        for r in reports
    ]
    names = ("run", "workflow", "status", "started (UTC)", "reason", "duration", "tokens", "cost")
    table = data_table("runs", names, rows, "No runs match these filters.", numeric_from=5)
    body = join(
        [
            tag("h1", None, "Runs"),
            tag("section", {"class": "card"}, _filters_form(filters, workflows)),
            tag("section", {"class": "card"}, table),
        ]
    )
    return dashboard_page("Podium · runs", body, source)


def run_page(report: RunReport, source: str) -> str:
    live = tag(
        "div",
        {
            "id": "live",
            "data-running": "true" if report.running else "false",
            "data-fragment": run_link(report.run_id) + "/fragment",
        },
        report_body(report),
    )
    note = (
        tag("p", {"class": "live", "id": "live-note"}, "Live: this page follows the run until it ends.")
        if report.running
        else None
    )
    return dashboard_page(
        f"Podium · {report.workflow} · {report.run_id}", join([note, live]), source, live=report.running
    )


def kpis_page(
    reports: Sequence[RunReport], filters: RunFilters, workflows: Sequence[str], source: str
) -> str:
    days = daily_kpis(reports)
    slo = max((r.slo_target_s for r in reports), default=DEFAULT_SLO_S)

    def pct(v: float) -> str:
        return f"{v:.0%}"

    charts = [
        chart(
            "success", "success rate", [(d.day, d.success_rate) for d in days], pct, target=0.95, ceiling=1.0
        ),
        chart(
            "p95",
            "p95 duration (s)",
            [(d.day, d.p95_duration_s) for d in days],
            lambda v: f"{v:.1f}",
            target=slo,
        ),
        chart(
            "tokens",
            "tokens per day",
            [(d.day, float(d.tokens)) for d in days],
            lambda v: f"{v:,.0f}",
            bars=True,
        ),
        chart(
            "cost",
            "cost per day ($)",
            [(d.day, d.cost_usd) for d in days],
            lambda v: f"{v:.4f}",  # as costs are shown everywhere else
            bars=True,
            tick_fmt=lambda v: f"{v:.2f}",
        ),
        chart("cache", "cache hit rate", [(d.day, d.cache_hit_rate) for d in days], pct, ceiling=1.0),
    ]
    form = _filters_form(filters, workflows)
    form = Markup(form.replace('action="/"', 'action="/kpis"', 1))
    body = join(
        [
            tag("h1", None, "KPIs over time"),
            tag("section", {"class": "card"}, form),
            tag(
                "p",
                {"class": "meta"},
                f"{len(reports)} runs over {len(days)} day(s); "
                "dashed lines are the targets (success 95 %, p95 under the SLO).",
            ),
            tag("section", {"class": "charts"}, [tag("div", {"class": "card"}, c) for c in charts]),
        ]
    )
    return dashboard_page("Podium · KPIs", body, source)


def alerts_page(alerts: Sequence[Alert], source: str) -> str:
    rows = [
        tag(
            "tr",
            {"class": "alert", "data-alert": a.name, "data-severity": a.severity},
            tag("td", None, _when(a.raised_at)),
            tag("td", None, a.severity),
            tag("td", None, a.name),
            tag("td", None, a.workflow),
            tag("td", None, tag("a", {"href": run_link(a.run_id)}, a.run_id) if a.run_id else None),
            tag("td", None, a.message),
        )
        for a in alerts
    ]
    names = ("raised (UTC)", "severity", "alert", "workflow", "run", "message")
    table = data_table("alerts", names, rows, "No alerts.")
    return dashboard_page(
        "Podium · alerts",
        join([tag("h1", None, "Recent alerts"), tag("section", {"class": "card"}, table)]),
        source,
    )


def agents_page(agents: Sequence[AgentState] | None, source: str) -> str:
    if agents is None:
        content = tag("p", {"class": "empty", "id": "agents"}, f"{source} does not report agents.")
    else:
        rows = [
            tag(
                "tr",
                {"class": "agent", "data-agent": a.name, "data-breaker": a.breaker},
                tag("td", None, a.name),
                tag("td", None, a.provider),
                tag("td", None, a.model),
                tag("td", None, badge(a.breaker) if a.breaker else "-"),
                tag("td", None, a.breaker_detail),
                tag("td", None, a.pool or "-"),
            )
            for a in agents
        ]
        names = ("agent", "provider", "model", "breaker", "", "pool")
        content = data_table("agents", names, rows, "No agents are registered.")
    return dashboard_page(
        "Podium · agents",
        join([tag("h1", None, "Agents"), tag("section", {"class": "card"}, content)]),
        source,
    )


def message_page(title: str, message: str, source: str) -> str:
    """A page saying what went wrong (a bad filter, an unknown run, a store that failed)."""
    body = join(
        [
            tag("h1", None, title),
            tag("p", {"class": "error-message", "id": "message"}, message),
            tag("p", None, tag("a", {"href": "/"}, "back to the runs")),
        ]
    )
    return dashboard_page(f"Podium · {title}", body, source)
