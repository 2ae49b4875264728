"""The run report: one self-contained HTML page (no scripts, styles or fonts from elsewhere).

:func:`render_report` is a pure function of a :class:`RunReport`: the same report gives
the same page. The page works offline and as an e-mail attachment (hover texts fall back
to SVG titles where scripts do not run).
"""

from __future__ import annotations

from datetime import datetime

from podium.report.graph_svg import render_graph
from podium.report.kpis import run_kpis
from podium.report.markup import Markup, join, tag
from podium.report.run_report import ReportVisit, RunReport
from podium.report.style import PAGE_CSS, STATUS_COLOURS, TOOLTIP_JS, content_security_policy
from podium.report.timeline import render_timeline, seconds
from podium.values.model import Usage


def render_report(report: RunReport, *, now: datetime | None = None) -> str:
    """The whole page of ``report`` as HTML text."""
    title = f"{report.workflow} · run {report.run_id} · {report.status}"
    return page(title, report_body(report, now=now))


def page(
    title: str,
    body: Markup,
    *,
    scripts: tuple[str, ...] = (),
    connect_self: bool = False,
    header: Markup | None = None,
    css: Markup | None = None,
) -> str:
    """An HTML document around ``body`` with the report's style, tooltip and policy."""
    all_scripts = (str(TOOLTIP_JS), *scripts)
    return "<!DOCTYPE html>\n" + tag(
        "html",
        {"lang": "en"},
        tag(
            "head",
            None,
            tag("meta", {"charset": "utf-8"}),
            tag(
                "meta",
                {
                    "http-equiv": "Content-Security-Policy",
                    "content": content_security_policy(*all_scripts, connect_self=connect_self),
                },
            ),
            tag("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
            tag("title", None, title),
            tag("style", None, PAGE_CSS, css),
        ),
        tag(
            "body",
            None,
            header,
            tag("main", None, body),
            tag("div", {"id": "tip", "role": "tooltip"}),
            [tag("script", None, Markup(script)) for script in all_scripts],
        ),
    )


def badge(status: str) -> Markup:
    return tag("span", {"class": f"badge status-{status}", "data-status": status}, status)


def report_body(report: RunReport, *, now: datetime | None = None) -> Markup:
    """The report's content (without the document around it), for pages that embed it."""
    return join(
        [
            _heading(report),
            _kpis(report),
            tag("h2", None, "Timeline"),
            tag("section", {"class": "card", "id": "timeline"}, _legend(), render_timeline(report, now)),
            _graph_section(report),
            tag("h2", None, "Usage and cost per stage"),
            tag("section", {"class": "card", "id": "stages"}, _stage_table(report)),
            tag("h2", None, "Values"),
            tag("section", {"class": "card", "id": "values"}, _values(report)),
            tag("h2", None, "Usage and cost per model"),
            tag("section", {"class": "card", "id": "models"}, _model_table(report)),
            tag("h2", None, "Savings"),
            tag("section", {"class": "card", "id": "savings"}, _savings(report)),
            tag("h2", None, "Errors"),
            tag("section", {"class": "card", "id": "errors"}, _errors(report)),
        ]
    )


def _heading(report: RunReport) -> Markup:
    facts = [
        f"run {report.run_id}",
        f"strategy {report.strategy}" if report.strategy else None,
        f"started {report.started_at.strftime('%Y-%m-%d %H:%M:%S %Z').strip()}",
        f"took {seconds(report.duration_s)}" if not report.running else "running",
    ]
    return join(
        [
            tag("h1", None, report.workflow, " ", badge(report.status)),
            tag("div", {"class": "meta"}, " · ".join(f for f in facts if f)),
            tag("div", {"class": "meta reason"}, report.reason) if report.reason else None,
        ]
    )


def _kpis(report: RunReport) -> Markup:
    cards = []
    for kpi in run_kpis(report):
        state = "" if kpi.ok is None else ("ok" if kpi.ok else "breach")
        cards.append(
            tag(
                "div",
                {
                    "class": f"kpi {state}".strip(),
                    "data-kpi": kpi.key,
                    "data-ok": None if kpi.ok is None else str(kpi.ok).lower(),
                },
                tag("div", {"class": "name"}, kpi.name),
                tag("div", {"class": "value"}, kpi.value),
                tag("div", {"class": "target"}, kpi.target),
            )
        )
    return tag("section", {"class": "kpis", "id": "kpis"}, cards)


def _legend() -> Markup:
    items = [
        tag("span", None, tag("i", {"style": f"background:{STATUS_COLOURS[s]}"}), s)
        for s in ("succeeded", "cached", "failed", "skipped", "cancelled", "running")
    ]
    items.append(tag("span", None, tag("i", {"class": "critical"}), "critical path"))
    items.append(tag("span", None, "● retry  ⚡ cache hit  ↺ loop visit"))
    return tag("div", {"class": "legend"}, items)


def _graph_section(report: RunReport) -> Markup | None:
    if report.graph is None:
        return None
    return join(
        [
            tag("h2", None, "Workflow graph and route taken"),
            tag("section", {"class": "card", "id": "graph"}, render_graph(report.graph, report)),
        ]
    )


def _num(value: float | int, fmt: str = ",") -> Markup:
    return tag("td", {"class": "num"}, format(value, fmt) if value else "")


def _usage_cells(usage: Usage) -> list[Markup]:
    return [
        _num(usage.input_tokens),
        _num(usage.output_tokens),
        _num(usage.cache_read_tokens),
        _num(usage.total_tokens),
        tag("td", {"class": "num"}, f"${usage.cost_usd:.4f}" if usage.cost_usd else ""),
    ]


_USAGE_HEAD = ("input", "output", "cache read", "tokens", "cost")


def table_head(*names: str, numeric_from: int | None = None) -> Markup:
    """A table's header row; the columns from ``numeric_from`` on are right-aligned figures."""
    return tag(
        "thead",
        None,
        tag(
            "tr",
            None,
            [
                tag("th", {"class": "num"} if numeric_from is not None and n >= numeric_from else None, name)
                for n, name in enumerate(names)
            ],
        ),
    )


def data_table(
    table_id: str, names: tuple[str, ...], rows: list[Markup], empty: str, numeric_from: int | None = None
) -> Markup:
    """A table of ``rows`` under ``names``, or the ``empty`` sentence when there are none."""
    if not rows:
        return tag("p", {"class": "empty", "id": table_id}, empty)
    return tag(
        "table", {"id": table_id}, table_head(*names, numeric_from=numeric_from), tag("tbody", None, rows)
    )


def _stage_table(report: RunReport) -> Markup:
    by_stage: dict[str, list[ReportVisit]] = {name: [] for name in report.stage_names()}
    for visit in report.visits:
        by_stage.setdefault(visit.name, []).append(visit)
    rows = []
    for name, visits in by_stage.items():
        if not visits:
            rows.append(
                tag("tr", {"data-stage": name}, tag("td", None, name), tag("td", None, badge("pending")))
            )
            continue
        usage = sum((v.usage for v in visits), Usage())
        saved = sum((v.saved for v in visits), Usage())
        rows.append(
            tag(
                "tr",
                {"data-stage": name},
                tag("td", None, name),
                tag("td", None, badge(visits[-1].status)),
                _num(len(visits)),
                tag("td", {"class": "num"}, seconds(sum(v.duration_s for v in visits))),
                _num(sum(v.attempts for v in visits)),
                _usage_cells(usage),
                _num(saved.total_tokens),
            )
        )
    total = report.usage
    rows.append(
        tag(
            "tr",
            {"class": "total"},
            tag("td", None, "total"),
            tag("td", None, badge(report.status)),
            _num(len(report.visits)),
            tag("td", {"class": "num"}, seconds(report.duration_s)),
            tag("td", None),
            _usage_cells(total),
            _num(report.saved.total_tokens),
        )
    )
    head = table_head(
        "stage", "status", "visits", "duration", "attempts", *_USAGE_HEAD, "saved tok", numeric_from=2
    )
    return tag("table", None, head, tag("tbody", None, rows))


def _values(report: RunReport) -> Markup:
    """Each stage's latest value, as text."""
    latest = {v.name: v for v in report.visits if v.value is not None}
    rows = [
        tag(
            "tr",
            {"data-stage": name},
            tag("td", None, v.label),
            tag("td", None, tag("code", {"class": "value"}, v.value)),
        )
        for name, v in latest.items()
    ]
    return data_table("value-table", ("stage", "latest value"), rows, "No values were kept for this run.")


def _model_table(report: RunReport) -> Markup:
    if not report.models:
        return tag("p", {"class": "empty"}, "No agent calls were recorded for this run.")
    rows = [
        tag(
            "tr",
            {"data-model": m.model},
            tag("td", None, m.model),
            tag("td", None, m.provider),
            _num(m.calls),
            _usage_cells(m.usage),
        )
        for m in sorted(report.models, key=lambda m: -m.usage.cost_usd)
    ]
    head = table_head("model", "provider", "calls", *_USAGE_HEAD, numeric_from=2)
    return tag("table", None, head, tag("tbody", None, rows))


def _savings(report: RunReport) -> Markup:
    saved = report.saved
    if not (saved.total_tokens or saved.cost_usd or saved.requests):
        return tag("p", {"class": "empty"}, "Nothing was served from a cache in this run.")
    spent = report.usage.cost_usd
    share = saved.cost_usd / (spent + saved.cost_usd) if spent + saved.cost_usd else 0.0
    rows = [
        tag(
            "tr",
            {"data-stage": v.name},
            tag("td", None, v.label),
            tag("td", None, badge(v.status)),
            _num(v.saved.total_tokens),
            _num(v.saved.requests),
            tag("td", {"class": "num"}, f"${v.saved.cost_usd:.4f}"),
        )
        for v in report.visits
        if v.saved
    ]
    return join(
        [
            tag(
                "p",
                None,
                f"Saved {saved.total_tokens:,} tokens, {saved.requests:,} requests and ${saved.cost_usd:.4f} "
                f"({share:.0%} of what the run would have cost).",
            ),
            tag(
                "table",
                None,
                table_head("visit", "status", "tokens", "requests", "cost", numeric_from=2),
                tag("tbody", None, rows),
            ),
        ]
    )


def _errors(report: RunReport) -> Markup:
    failures = [v for v in report.visits if v.error]
    if not failures and not (report.reason and report.status != "succeeded"):
        return tag("p", {"class": "empty"}, "No errors.")
    items = []
    if report.reason and report.status not in ("succeeded", "running"):
        items.append(
            tag("div", {"class": "run-reason"}, tag("strong", None, f"run {report.status}: "), report.reason)
        )
    for visit in failures:
        heading = f"{visit.label} — {'fallback used after' if visit.fallback else visit.status}"
        if visit.attempts > 1:
            heading += f" ({visit.attempts} attempts)"
        items.append(
            tag(
                "div",
                {"class": "error", "data-stage": visit.name, "data-visit": visit.visit},
                tag("strong", None, heading),
                tag("pre", {"class": "error-message"}, visit.error),
            )
        )
    return join(items)
