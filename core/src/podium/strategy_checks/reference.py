"""The reference: what a drawn workflow must produce, by the documented semantics
(docs/concepts.md, docs/strategies.md), interpreted without scheduling anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podium import StageStatus
from podium.strategy_checks import maps as _maps
from podium.strategy_checks.drawing import WorkflowSpec


@dataclass
class Expected:
    """What a run of a spec must produce, per stage (and per item of a mapped stage)."""

    status: dict[str, StageStatus] = field(default_factory=dict)
    value: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, set[str]] = field(default_factory=dict)
    route: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    #: Per stage, its visits: 1, or a mapped stage's items.
    visits: dict[str, int] = field(default_factory=dict)
    #: Per mapped stage: whether it decided its items (else it was decided as a whole),
    #: their keys, and what each item comes to.
    fanned: dict[str, bool] = field(default_factory=dict)
    keys: dict[str, list[Any]] = field(default_factory=dict)
    items: dict[str, list[_maps.ExpectedItem]] = field(default_factory=dict)


def value_of(name: str, args: dict[str, Any]) -> str:
    """The value a generated stage returns: its name applied to its arguments."""
    return f"{name}(" + ",".join(f"{k}={args[k]}" for k in sorted(args)) + ")"


def expected(spec: WorkflowSpec, *, routes: bool) -> Expected:
    """Interpret ``spec`` by the documented semantics, without scheduling anything."""
    out = Expected()
    by_name = spec.by_name()
    for stage in spec.stages:
        reasons: set[str] = set()
        # A stage mapped over a mapped stage follows that stage's items, not its gather.
        follows = stage.map if stage.map is not None and by_name[stage.map].map is not None else None
        for k in stage.needs:
            if k == follows:
                continue
            if out.status[k] is StageStatus.SKIPPED:
                reasons |= out.reasons[k]
            elif out.status[k] is StageStatus.FAILED:
                reasons.add(f"dependency {k!r} failed")
            elif out.route[k] is not None and stage.name not in (out.route[k] or ()):
                chosen = ", ".join(out.route[k] or ()) or "nothing"
                reasons.add(f"not chosen by the route of {k!r} (chose {chosen})")
        if stage.map is not None:
            _maps.expect_mapped(out, spec, stage, reasons)
            continue
        out.visits[stage.name] = 1
        ran_any = [
            k
            for k in stage.needs_any
            if out.status[k] is StageStatus.SUCCEEDED and _picked(out.route[k], stage.name)
        ]
        out.route[stage.name] = None
        if reasons:
            out.status[stage.name] = StageStatus.SKIPPED
            out.reasons[stage.name] = reasons
            continue
        if stage.needs_any and not ran_any:
            names = ", ".join(repr(k) for k in stage.needs_any)
            out.status[stage.name] = StageStatus.SKIPPED
            out.reasons[stage.name] = {f"none of its needs_any ran ({names})"}
            continue
        if stage.fails:
            out.status[stage.name] = StageStatus.FAILED
            continue
        args = {k: out.value[k] for k in stage.needs}
        args.update({k: out.value[k] if k in ran_any else None for k in stage.needs_any})
        out.status[stage.name] = StageStatus.SUCCEEDED
        out.value[stage.name] = value_of(stage.name, args)
        if stage.items is not None:
            out.value[stage.name] = _maps.collection_value(stage, out.value[stage.name])
        if routes and by_name[stage.name].route is not None:
            out.route[stage.name] = by_name[stage.name].route
    return out


def _picked(route: tuple[str, ...] | None, name: str) -> bool:
    """Whether a stage's route (``None``: no route, everyone) lets ``name`` run."""
    return route is None or name in route
