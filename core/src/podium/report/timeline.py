"""The Gantt timeline of a run as inline SVG: one bar per visit, in the order things happened.

Bars carry their facts as attributes (``data-status``, ``data-stage``, ``data-visit``,
``data-critical``) and a hover text (``data-tip``, and an SVG ``<title>`` for readers
without script). A visit that never ran (skipped) gets a short hatched bar where it was
decided; a running one grows to the time the report was read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from podium.definition.graph import EdgeKind
from podium.report.critical import critical_path, predecessors
from podium.report.markup import Markup, tag
from podium.report.run_report import ReportVisit, RunReport

LABEL_W = 170
CHART_W = 720
ROW_H = 24
BAR_H = 14
TOP = 26
SKIPPED_W = 6


def nice_step(span: float, ticks: int = 6) -> float:
    """A 1-2-5 step that divides ``span`` into about ``ticks`` parts."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return 10.0 * magnitude


def seconds(value: float) -> str:
    """A duration for people: ``850 ms``, ``2.40 s``, ``3 m 05 s``."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    minutes, rest = divmod(value, 60)
    return f"{minutes:.0f} m {rest:02.0f} s"


def _offset(report: RunReport, at: datetime | None) -> float | None:
    return (at - report.started_at).total_seconds() if at is not None else None


def visit_tip(report: RunReport, visit: ReportVisit) -> str:
    """The hover text of a visit: times, attempts, tokens, cost, route, error."""
    lines = [f"{visit.label} — {visit.status}"]
    start = _offset(report, visit.started_at)
    if start is not None:
        lines.append(f"started +{seconds(start)}, took {seconds(visit.duration_s)}")
    if visit.reason:
        lines.append(visit.reason)
    if visit.attempts > 1:
        lines.append(f"{visit.attempts} attempts ({visit.attempts - 1} retried)")
    usage = visit.usage
    if usage.total_tokens or usage.cost_usd:
        lines.append(
            f"{usage.total_tokens:,} tokens (in {usage.input_tokens:,} / out {usage.output_tokens:,}), "
            f"${usage.cost_usd:.4f}"
        )
    if visit.saved.total_tokens or visit.saved.cost_usd:
        lines.append(f"saved {visit.saved.total_tokens:,} tokens, ${visit.saved.cost_usd:.4f}")
    if visit.cache and visit.cache != "miss":
        lines.append(f"cache: {visit.cache}")
    if visit.route:
        lines.append(f"route → {', '.join(visit.route)}")
    if visit.error:
        lines.append(("fallback after: " if visit.fallback else "error: ") + visit.error)
    if visit.value is not None:
        lines.append(f"value: {visit.value}")
    return "\n".join(lines)


def _rows(report: RunReport, now: float) -> list[tuple[int, float, float]]:
    """(visit index, start, end) in seconds from the run's start, in the order of the rows."""
    rows = []
    decided = 0.0  # visits settle in history order: a skip is decided after the visit before it
    for i, visit in enumerate(report.visits):
        start = _offset(report, visit.started_at)
        end = _offset(report, visit.finished_at)
        if start is None:
            rows.append((i, decided, decided))
            continue
        if end is None:
            end = max(now, start)
        decided = max(decided, end)
        rows.append((i, start, end))
    rows.sort(key=lambda row: (row[1], row[0]))
    return rows


def render_timeline(report: RunReport, now: datetime | None = None) -> Markup:
    """The timeline SVG; ``now`` (default: the run's end, or its latest timestamp) ends running bars."""
    latest = [v.finished_at or v.started_at for v in report.visits if v.started_at]
    if now is None and report.running:  # a snapshot: running bars reach the time it was taken
        now = report.started_at + timedelta(seconds=report.duration_s)
    horizon = now or report.finished_at or max((t for t in latest if t), default=report.started_at)
    now_s = max(_offset(report, horizon) or 0.0, 0.0)
    rows = _rows(report, now_s)
    span = max([now_s, report.duration_s, *(end for _, _, end in rows)]) or 1.0
    slo = report.slo_target_s
    show_slo = span >= slo * 0.5
    if show_slo:
        span = max(span, slo * 1.05)
    scale = CHART_W / span
    critical = set(critical_path(report.visits, report.graph))
    height = TOP + ROW_H * len(rows) + 8
    width = LABEL_W + CHART_W + 30

    parts: list[Markup] = [_axis(span, scale, height)]
    y_of: dict[int, float] = {}
    for row, (i, start, end) in enumerate(rows):
        y = TOP + row * ROW_H
        y_of[i] = y
        parts.append(_bar(report, i, start, end, y, scale, i in critical))
    parts.append(_loop_links(report, rows, y_of, scale))
    if show_slo:
        x = LABEL_W + slo * scale
        parts.append(
            tag(
                "g",
                {"class": "slo"},
                tag("line", {"x1": x, "x2": x, "y1": TOP - 6, "y2": height - 4}),
                tag("text", {"x": x + 3, "y": TOP - 10}, f"SLO {seconds(slo)}"),
            )
        )
    return tag(
        "svg",
        {
            "class": "timeline",
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": width,
            "height": height,
            "role": "img",
            "aria-label": f"timeline of run {report.run_id}",
        },
        _defs(),
        parts,
    )


def _defs() -> Markup:
    return tag(
        "defs",
        None,
        tag(
            "pattern",
            {
                "id": "hatch",
                "width": 4,
                "height": 4,
                "patternUnits": "userSpaceOnUse",
                "patternTransform": "rotate(45)",
            },
            tag("rect", {"width": 4, "height": 4, "fill": "#e0e0e0"}),
            tag("line", {"x1": 0, "y1": 0, "x2": 0, "y2": 4, "stroke": "#9e9e9e", "stroke-width": 2}),
        ),
        tag(
            "marker",
            {
                "id": "arrow",
                "viewBox": "0 0 8 8",
                "refX": 7,
                "refY": 4,
                "markerWidth": 7,
                "markerHeight": 7,
                "markerUnits": "userSpaceOnUse",
                "orient": "auto",
            },
            tag("path", {"d": "M0,0 L8,4 L0,8 z", "fill": "#6d4c41"}),
        ),
    )


def _axis(span: float, scale: float, height: float) -> Markup:
    step = nice_step(span)
    ticks = []
    t = 0.0
    while t <= span + 1e-9:
        x = LABEL_W + t * scale
        ticks.append(tag("line", {"x1": x, "x2": x, "y1": TOP - 4, "y2": height - 4}))
        ticks.append(tag("text", {"x": x, "y": TOP - 10, "text-anchor": "middle"}, _tick_label(t, step)))
        t = round(t + step, 9)
    return tag("g", {"class": "axis"}, ticks)


def _tick_label(t: float, step: float) -> str:
    if step >= 1:
        return f"{t:.0f} s"
    if step >= 0.01:
        return f"{t:.2f}".rstrip("0").rstrip(".") + " s"
    decimals = max(0, -math.floor(math.log10(step * 1000)))  # 0.5 ms steps need one decimal
    return f"{t * 1000:.{decimals}f} ms"


def _bar(
    report: RunReport, i: int, start: float, end: float, y: float, scale: float, critical: bool
) -> Markup:
    visit = report.visits[i]
    ran = visit.started_at is not None
    x = LABEL_W + start * scale
    w = max((end - start) * scale, 4.0) if ran else SKIPPED_W
    tip = visit_tip(report, visit)
    classes = ["visit", f"status-{visit.status}"]
    if critical:
        classes.append("critical")
    if visit.loop:
        classes.append("loop")
    label = ("↺ " if visit.loop else "") + visit.label
    children: list[Markup] = [
        tag("title", None, tip),
        tag("text", {"class": "label", "x": LABEL_W - 8, "y": y + BAR_H - 3, "text-anchor": "end"}, label),
        tag(
            "rect",
            {
                "class": "bar",
                "x": x,
                "y": y,
                "width": w,
                "height": BAR_H,
                "rx": 3,
                "data-status": visit.status,
                "data-stage": visit.name,
                "data-visit": visit.visit,
                "data-critical": "true" if critical else "false",
            },
        ),
    ]
    if visit.status == "cached":
        children.append(tag("text", {"class": "glyph", "x": x + w + 3, "y": y + BAR_H - 3}, "⚡"))
    children += _retry_marks(report, visit, x, w, y, scale)
    return tag("g", {"class": " ".join(classes), "data-tip": tip, "tabindex": 0}, children)


def _retry_marks(
    report: RunReport, visit: ReportVisit, x: float, w: float, y: float, scale: float
) -> list[Markup]:
    """A tick where each failed attempt ended when the report knows it, else a dot per retry after the bar."""
    if visit.retries:
        return [
            tag(
                "line",
                {
                    "class": "retry-mark",
                    "x1": LABEL_W + r.at_s * scale,
                    "x2": LABEL_W + r.at_s * scale,
                    "y1": y - 2,
                    "y2": y + BAR_H + 2,
                },
                tag("title", None, f"attempt {r.attempt} failed: {r.error}"),
            )
            for r in visit.retries
        ]
    shift = 12 if visit.status == "cached" else 0
    return [
        tag("circle", {"class": "retry-mark", "cx": x + w + shift + 5 + 8 * n, "cy": y + BAR_H / 2, "r": 3})
        for n in range(max(visit.attempts - 1, 0))
    ]


def _loop_links(
    report: RunReport, rows: Sequence[tuple[int, float, float]], y_of: dict[int, float], scale: float
) -> Markup:
    """A dotted arrow from the visit whose route looped back to the visit it brought about."""
    ends = {i: end for i, _, end in rows}
    starts = {i: start for i, start, _ in rows}
    links = predecessors(report.visits, report.graph)
    loops = None
    if report.graph is not None:
        loops = {(e.source, e.target) for e in report.graph.edges if e.kind is EdgeKind.LOOP}
    arrows = []
    for i, preds in links.items():
        visit = report.visits[i]
        if not visit.loop:
            continue
        for p in preds:
            router = report.visits[p]
            if router.route is None or visit.name not in router.route:
                continue
            if loops is not None and (router.name, visit.name) not in loops:
                continue  # a forward route in a later round, not the loop itself
            x1, y1 = LABEL_W + ends[p] * scale, y_of[p] + BAR_H / 2
            x2, y2 = LABEL_W + starts[i] * scale, y_of[i] + BAR_H / 2
            arrows.append(
                tag(
                    "path",
                    {
                        "class": "loop-link",
                        "d": f"M{x1:.1f},{y1:.1f} C{x1 + 14:.1f},{y1:.1f} {x2 - 14:.1f},{y2:.1f} "
                        f"{x2:.1f},{y2:.1f}",
                        "marker-end": "url(#arrow)",
                    },
                )
            )
    return tag("g", {"class": "loop-links"}, arrows)
