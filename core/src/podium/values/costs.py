"""Cost per component and its monthly projection, with what Podium's savings were worth.

The seed's cost table from real data: agent calls (by model, priced as they were
recorded), documentation requests (at the configured price per request), and
infrastructure (a configured monthly figure), each per run and projected to ``N``
workflows a month, next to what the same runs would have cost without the tokens
caching saved and the requests batching and caching avoided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import attrs

from podium.values.records import RUNNING, AgentCallRecord, RunRecord


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.define
class CostSettings:
    """The ``[cost]`` section: prices Podium cannot measure, and the default projection.

    - ``doc_request_usd``: what one documentation request (a Context7 lookup) costs.
    - ``infrastructure_monthly_usd``: what running Podium costs a month (hosts, Redis...).
    - ``monthly_workflows``: the runs a month ``podium cost`` projects to.
    """

    doc_request_usd: float = attrs.field(default=0.0, validator=_non_negative)
    infrastructure_monthly_usd: float = attrs.field(default=0.0, validator=_non_negative)
    monthly_workflows: int = 1000


def _row(component: str, per_run: float, per_run_without: float, monthly: int, how: str) -> dict[str, Any]:
    saved = per_run_without - per_run
    return {
        "component": component,
        "per_run_usd": per_run,
        "monthly_usd": per_run * monthly,
        "without_podium_monthly_usd": per_run_without * monthly,
        "saved_monthly_usd": saved * monthly,
        "saving": saved / per_run_without if per_run_without else None,
        "how": how,
    }


def cost_report(
    runs: Sequence[RunRecord],
    calls: Sequence[AgentCallRecord],
    settings: CostSettings,
    monthly: int | None = None,
) -> dict[str, Any]:
    """Cost per component over ``runs``, projected to ``monthly`` runs (default: the setting's)."""
    monthly = settings.monthly_workflows if monthly is None else monthly
    ended = [r for r in runs if r.status != RUNNING]
    n = len(ended)
    ids = {r.run_id for r in ended}
    by_model: dict[str, float] = defaultdict(float)
    for call in calls:
        if call.run_id in ids:
            by_model[call.model] += call.usage.cost_usd
    spent = sum(r.usage.cost_usd for r in ended)
    saved = sum(r.saved.cost_usd for r in ended)
    made = sum(r.docs.requests_made for r in ended)
    avoided = sum(r.docs.requests_avoided for r in ended)
    rows = []
    if n:
        for model, cost in sorted(by_model.items(), key=lambda item: -item[1]):
            rows.append(_row(f"agent calls ({model})", cost / n, cost / n, monthly, "as priced"))
        other = spent - sum(by_model.values())
        if other > 1e-12:
            rows.append(_row("other recorded usage", other / n, other / n, monthly, "ctx.record_usage"))
        rows.append(
            _row(
                "agent calls, total",
                spent / n,
                (spent + saved) / n,
                monthly,
                f"caching saved {sum(r.saved.total_tokens for r in ended):,} tokens",
            )
        )
        price = settings.doc_request_usd
        rows.append(
            _row(
                "documentation requests",
                made * price / n,
                (made + avoided) * price / n,
                monthly,
                f"batching and caching avoided {avoided:,} of {made + avoided:,} requests"
                + ("" if price else " (no price configured: cost.doc_request_usd)"),
            )
        )
    infrastructure = settings.infrastructure_monthly_usd
    rows.append(
        {
            "component": "infrastructure",
            "per_run_usd": infrastructure / monthly if monthly else None,
            "monthly_usd": infrastructure,
            "without_podium_monthly_usd": infrastructure,
            "saved_monthly_usd": 0.0,
            "saving": 0.0 if infrastructure else None,
            "how": "configured monthly figure"
            + ("" if infrastructure else " (none configured: cost.infrastructure_monthly_usd)"),
        }
    )
    totals = [row for row in rows if row["component"] in ("agent calls, total", "documentation requests")]
    totals.append(rows[-1])
    with_podium = sum(row["monthly_usd"] for row in totals)
    without = sum(row["without_podium_monthly_usd"] for row in totals)
    return {
        "runs": n,
        "monthly_workflows": monthly,
        "components": rows,
        "total": {
            "monthly_usd": with_podium,
            "without_podium_monthly_usd": without,
            "saved_monthly_usd": without - with_podium,
            "saving": (without - with_podium) / without if without else None,
        },
        "measured": {
            "cost_usd": spent,
            "saved_cost_usd": saved,
            "saved_tokens": sum(r.saved.total_tokens for r in ended),
            "doc_requests_made": made,
            "doc_requests_avoided": avoided,
            "doc_tokens_cut": sum(r.docs.tokens_cut for r in ended),
        },
    }


__all__ = ["CostSettings", "cost_report"]
