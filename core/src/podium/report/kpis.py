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


def run_kpis(record: RunReport) -> list[Kpi]:
    """The run's KPIs: duration against the SLO, stage success, budgets, cache, critical path."""
    slo = record.slo_target_s
    ran = [v for v in record.visits if v.status not in ("skipped", RUNNING)]
    good = [v for v in ran if v.status in ("succeeded", "cached")]
    cached = [v for v in ran if v.status == "cached"]
    kpis = [
        Kpi(
            "duration",
            "duration",
            seconds(record.duration_s) if not record.running else "running",
            f"SLO < {seconds(slo)}" + (f" ({record.strategy})" if record.strategy else ""),
            None if record.running else record.duration_s < slo,
        ),
        Kpi(
            "success",
            "stage visits succeeded",
            f"{len(good)} / {len(ran)}",
            "",
            None if not ran or record.running else len(good) == len(ran),
        ),
    ]
    budget = record.budget
    kpis.append(_budget_kpi("tokens", record.usage.total_tokens, budget.tokens if budget else None, "{:,}"))
    kpis.append(_budget_kpi("cost", record.usage.cost_usd, budget.cost_usd if budget else None, "${:.4f}"))
    kpis.append(
        Kpi(
            "cache",
            "served from cache",
            f"{len(cached) / len(ran):.0%}" if ran else "-",
            f"{len(cached)} of {len(ran)} visits",
        )
    )
    path = critical_path(record.visits, record.graph)
    length = sum(record.visits[i].duration_s for i in path)
    kpis.append(
        Kpi(
            "critical",
            "critical path",
            seconds(length),
            " → ".join(record.visits[i].label for i in path) or "-",
        )
    )
    saved = record.saved
    kpis.append(Kpi("saved", "saved", f"{saved.total_tokens:,} tok", f"${saved.cost_usd:.4f}"))
    return kpis


def _budget_kpi(key: str, spent: float, limit: float | None, fmt: str) -> Kpi:
    target = f"budget {fmt.format(limit)}" if limit else f"no {key} budget"
    return Kpi(key, key, fmt.format(spent), target, spent <= limit if limit else None)
