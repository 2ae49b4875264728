"""A run's KPIs against its targets: duration against the SLO, stage success, budgets,
cache, critical path, savings — the figures at the top of a report."""

from __future__ import annotations

import attrs

from podium.report.critical import critical_path
from podium.report.run_report import RUNNING, RunReport
from podium.report.timeline import seconds


@attrs.frozen
class Kpi:
    """One figure of the run against its target (``ok`` is ``None`` without a target)."""

    key: str
    name: str
    value: str
    target: str = ""
    ok: bool | None = None


def run_kpis(report: RunReport) -> list[Kpi]:
    """The run's KPIs: duration against the SLO, stage success, budgets, cache, critical path."""
    slo = report.slo_target_s
    ran = [v for v in report.visits if v.status not in ("skipped", RUNNING)]
    good = [v for v in ran if v.status in ("succeeded", "cached")]
    cached = [v for v in ran if v.status == "cached"]
    kpis = [
        Kpi(
            "duration",
            "duration",
            seconds(report.duration_s) if not report.running else "running",
            f"SLO < {seconds(slo)}" + (f" ({report.strategy})" if report.strategy else ""),
            None if report.running else report.duration_s < slo,
        ),
        Kpi(
            "success",
            "stage visits succeeded",
            f"{len(good)} / {len(ran)}",
            "",
            None if not ran or report.running else len(good) == len(ran),
        ),
    ]
    budget = report.budget
    kpis.append(_budget_kpi("tokens", report.usage.total_tokens, budget.tokens if budget else None, "{:,}"))
    kpis.append(_budget_kpi("cost", report.usage.cost_usd, budget.cost_usd if budget else None, "${:.4f}"))
    kpis.append(
        Kpi(
            "cache",
            "served from cache",
            f"{len(cached) / len(ran):.0%}" if ran else "-",
            f"{len(cached)} of {len(ran)} visits",
        )
    )
    path = critical_path(report.visits, report.graph)
    length = sum(report.visits[i].duration_s for i in path)
    kpis.append(
        Kpi(
            "critical",
            "critical path",
            seconds(length),
            " → ".join(report.visits[i].label for i in path) or "-",
        )
    )
    saved = report.saved
    kpis.append(Kpi("saved", "saved", f"{saved.total_tokens:,} tok", f"${saved.cost_usd:.4f}"))
    return kpis


def _budget_kpi(key: str, spent: float, limit: float | None, fmt: str) -> Kpi:
    target = f"budget {fmt.format(limit)}" if limit else f"no {key.rstrip('s')} budget"
    return Kpi(key, key, fmt.format(spent), target, spent <= limit if limit else None)
