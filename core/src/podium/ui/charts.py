"""KPIs per day over runs, and the small inline-SVG charts the dashboard draws them with."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date

import attrs

from podium.report.markup import Markup, tag
from podium.report.run_report import RunReport
from podium.report.timeline import nice_step
from podium.values.kpis import percentile

W, H = 340, 170
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 26, 30


@attrs.frozen
class DayKpis:
    """What the runs of one day (UTC) add up to; a rate is ``None`` on a day with nothing to rate."""

    day: date
    runs: int
    success_rate: float | None
    p95_duration_s: float | None
    tokens: int
    cost_usd: float
    cache_hit_rate: float | None


def daily_kpis(reports: Iterable[RunReport]) -> list[DayKpis]:
    """KPIs per day, oldest first: success rate and p95 duration of the runs that ended,
    tokens and cost spent, and the share of stage visits served from the cache."""
    by_day: dict[date, list[RunReport]] = {}
    for report in reports:
        by_day.setdefault(report.started_at.date(), []).append(report)
    days = []
    for day in sorted(by_day):
        runs = by_day[day]
        ended = [r for r in runs if not r.running]
        hits, lookups = _cache_counts(runs)
        days.append(
            DayKpis(
                day=day,
                runs=len(runs),
                success_rate=sum(r.status == "succeeded" for r in ended) / len(ended) if ended else None,
                p95_duration_s=percentile([r.duration_s for r in ended], 95),
                tokens=sum(r.usage.total_tokens for r in runs),
                cost_usd=sum(r.usage.cost_usd for r in runs),
                cache_hit_rate=hits / lookups if lookups else None,
            )
        )
    return days


def _cache_counts(runs: Sequence[RunReport]) -> tuple[int, int]:
    """Cache hits and lookups of runs: as the cache counted them where known (stored runs),
    else the visits served from it among those that ran."""
    hits = lookups = 0
    for run in runs:
        if run.cache_counts is not None:
            hits, lookups = hits + run.cache_counts[0], lookups + run.cache_counts[1]
            continue
        ran = [v for v in run.visits if v.status in ("succeeded", "cached", "failed", "cancelled")]
        hits += sum(v.status == "cached" for v in ran)
        lookups += len(ran)
    return hits, lookups


def tick_labels(ticks: Sequence[float], step: float, fmt: Callable[[float], str]) -> list[str]:
    """The axis labels: ``fmt``'s, unless it gives two ticks the same label (a value format
    too coarse for a small axis); then as many decimals as the step needs."""
    labels = [fmt(tick) for tick in ticks]
    if len(set(labels)) == len(labels):
        return labels
    places = max(0, -math.floor(math.log10(step)))
    return [f"{tick:.{places}f}" for tick in ticks]


def chart(
    key: str,
    title: str,
    points: Sequence[tuple[date, float | None]],
    fmt: Callable[[float], str],
    *,
    bars: bool = False,
    target: float | None = None,
    ceiling: float | None = None,
    tick_fmt: Callable[[float], str] | None = None,
) -> Markup:
    """A line (or bar) chart of a value per day; ``target`` draws a dashed threshold line.
    ``fmt`` formats the values (hover), ``tick_fmt`` the axis (default: ``fmt``)."""
    known = [v for _, v in points if v is not None]
    top = max([*known, target or 0.0, 0.0]) if ceiling is None else ceiling
    top = top or 1.0
    step = nice_step(top, 4)
    top = math.ceil(top / step) * step
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n if n else 0)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts: list[Markup] = [tag("text", {"class": "chart-title", "x": LEFT, "y": 16}, title)]
    ticks = [round(i * step, 9) for i in range(round(top / step) + 1)]
    for tick, label in zip(ticks, tick_labels(ticks, step, tick_fmt or fmt), strict=True):
        parts.append(
            tag("line", {"class": "grid", "x1": LEFT, "x2": W - RIGHT, "y1": y(tick), "y2": y(tick)})
        )
        parts.append(
            tag("text", {"class": "tick", "x": LEFT - 4, "y": y(tick) + 4, "text-anchor": "end"}, label)
        )
    every = max(1, math.ceil(n / 6))
    for i, (day, _) in enumerate(points):
        if i % every == 0:
            parts.append(
                tag(
                    "text",
                    {"class": "tick", "x": x(i), "y": H - 10, "text-anchor": "middle"},
                    day.strftime("%m-%d"),
                )
            )
    if target is not None:
        parts.append(
            tag("line", {"class": "target", "x1": LEFT, "x2": W - RIGHT, "y1": y(target), "y2": y(target)})
        )
    marks = []
    for i, (day, value) in enumerate(points):
        if value is None:
            continue
        tip = f"{day.isoformat()}: {fmt(value)}"
        if bars:
            width = min(max(plot_w / max(n, 1) * 0.6, 2), 36)
            marks.append(
                tag(
                    "rect",
                    {
                        "class": "point",
                        "x": x(i) - width / 2,
                        "y": y(value),
                        "width": width,
                        "height": y(0) - y(value),
                        "data-tip": tip,
                    },
                    tag("title", None, tip),
                )
            )
        else:
            marks.append(
                tag(
                    "circle",
                    {"class": "point", "cx": x(i), "cy": y(value), "r": 3.5, "data-tip": tip},
                    tag("title", None, tip),
                )
            )
    if not bars:
        line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points) if v is not None)
        if line:
            parts.append(tag("polyline", {"class": "series", "points": line}))
    if not known:
        parts.append(
            tag("text", {"class": "empty", "x": W / 2, "y": H / 2, "text-anchor": "middle"}, "no data")
        )
    return tag(
        "svg",
        {
            "class": "chart",
            "data-chart": key,
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {W} {H}",
            "width": W,
            "height": H,
            "role": "img",
            "aria-label": title,
        },
        parts,
        marks,
    )


CHART_CSS = Markup(
    """
.chart .chart-title { font-weight: 600; fill: #37474f; }
.chart .grid { stroke: #eceff1; }
.chart .tick { fill: #78909c; font-size: 10px; }
.chart .series { fill: none; stroke: #1565c0; stroke-width: 2; }
.chart circle.point { fill: #1565c0; }
.chart rect.point { fill: #5c6bc0; }
.chart .target { stroke: #ef6c00; stroke-dasharray: 4 3; }
.chart .empty { fill: #90a4ae; font-style: italic; }
"""
)
