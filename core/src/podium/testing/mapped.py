"""Mapped stages of generated workflows: the reference interpretation of their items and
gathers (docs/strategies.md), and the checks of a run's items. Used by
:mod:`podium.strategy_checks`; needs no hypothesis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium import GatherError, MapError, RunResult, StageStatus
from podium.testing.generated import item_label, value_of

if TYPE_CHECKING:
    from podium.strategy_checks import Expected
    from podium.testing.generated import Recorder, StageSpec, WorkflowSpec


@dataclass(frozen=True)
class ExpectedItem:
    """What one item of a mapped stage must come to."""

    status: StageStatus
    value: Any = None
    reason: str | None = None


def _position(key: Any) -> int:
    """The position of an item from its key (``3`` or ``"k3"``)."""
    return key if isinstance(key, int) else int(str(key)[1:])


def expect_mapped(out: Expected, spec: WorkflowSpec, stage: StageSpec, reasons: set[str]) -> None:
    """Interpret mapped ``stage``: skipped or failed as a whole, or item by item, then gathered.

    ``reasons`` are the skips its needs other than a mapped source already explain.
    """
    by_name = spec.by_name()
    name, source = stage.name, by_name[stage.map or ""]
    chained = source.map is not None
    if chained and not out.fanned.get(source.name):
        # The stage it follows was decided as a whole: so is this one.
        if out.status[source.name] is StageStatus.SKIPPED:
            reasons |= out.reasons[source.name]
        else:
            reasons.add(f"dependency {source.name!r} failed")
    out.route[name] = None
    out.visits[name] = 1
    out.fanned[name] = False
    if reasons:
        out.status[name], out.reasons[name] = StageStatus.SKIPPED, reasons
        return
    if not chained and (source.items or 0) < 0:
        out.status[name] = StageStatus.FAILED  # a MapError: the value has no items
        return
    root = source
    while root.map is not None:
        root = by_name[root.map]
    keys = out.keys[source.name] if chained else list(_keys(source))
    sources: list[Any] = out.items[source.name] if chained else list(_values(out.value[source.name]))
    roots = list(_values(out.value[root.name]))
    shared = {k: out.value[k] for k in stage.needs if k != source.name}
    items: list[ExpectedItem] = []
    for t, key in enumerate(keys):
        if root.name in shared:  # a per-item step receives its item by the collection's name
            shared[root.name] = roots[t]
        if chained:
            upstream = sources[t]
            if upstream.status is not StageStatus.SUCCEEDED:
                reason = (
                    upstream.reason
                    if upstream.status is StageStatus.SKIPPED
                    else f"dependency {source.name!r} failed on item [{key!r}]"
                )
                items.append(ExpectedItem(StageStatus.SKIPPED, reason=reason))
                continue
            item = upstream.value
        else:
            item = sources[t]
        if t in stage.fails_items:
            items.append(ExpectedItem(StageStatus.FAILED))
        else:
            value = value_of(name, {**shared, source.name: item})
            items.append(ExpectedItem(StageStatus.SUCCEEDED, f"{value}#{t}"))
    out.items[name], out.keys[name], out.fanned[name], out.visits[name] = items, keys, True, len(items)
    _expect_gather(out, stage, keys, items, keyed=root.keyed)


def _keys(source: StageSpec) -> list[Any]:
    count = source.items or 0
    return [f"k{t}" for t in range(count)] if source.keyed else list(range(count))


def _values(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else list(value)


def _expect_gather(
    out: Expected, stage: StageSpec, keys: list[Any], items: list[ExpectedItem], *, keyed: bool
) -> None:
    name = stage.name
    failures = [item for item in items if item.status is not StageStatus.SUCCEEDED]
    if not failures or stage.partial:
        ok = [
            (key, item.value)
            for key, item in zip(keys, items, strict=True)
            if item.status is StageStatus.SUCCEEDED
        ]
        out.status[name] = StageStatus.SUCCEEDED
        out.value[name] = dict(ok) if keyed else [value for _, value in ok]
    elif any(item.status is StageStatus.FAILED for item in failures):
        out.status[name] = StageStatus.FAILED
    else:
        out.status[name] = StageStatus.SKIPPED
        out.reasons[name] = {failures[0].reason or ""}


# --------------------------------------------------------------------------- checking a run


def check_items(result: RunResult, recorder: Recorder, want: Expected, stage: StageSpec) -> None:
    """The items of mapped ``stage`` in ``result`` are what ``want`` says, each started once at most."""
    name = stage.name
    got = result[name]
    if got.status is StageStatus.FAILED:
        assert isinstance(got.error, GatherError if want.fanned[name] else MapError), (name, got.error)
    if not want.fanned[name]:
        assert result.visits(name) == [got], (name, result.visits(name))
        assert not [label for label in recorder.starts if label.startswith(f"{name}[")], name
        return
    visits = sorted(result.visits(name), key=lambda v: _position(v.item_key))
    assert [v.item_key for v in visits] == want.keys[name], (name, [v.item_key for v in visits])
    assert [v.item_key for v in got.items or ()] == want.keys[name]
    for visit, item in zip(visits, want.items[name], strict=True):
        label = item_label(name, visit.item_key)
        assert visit.status is item.status, (label, visit.status, item.status, visit.reason)
        ran = item.status is not StageStatus.SKIPPED
        assert recorder.starts.get(label, 0) == (1 if ran else 0), (label, recorder.starts.get(label))
        if item.status is StageStatus.SUCCEEDED:
            assert visit.value == item.value, (label, visit.value, item.value)
        elif item.status is StageStatus.SKIPPED:
            assert visit.reason == item.reason, (label, visit.reason, item.reason)


def announced(
    result: RunResult, name: str, kinds: list[str], per_status: dict[StageStatus, list[str]]
) -> None:
    """What observers saw of mapped stage ``name``: each item's events, then the gathered stage."""
    got = result[name]
    if got.items is None:  # decided as a whole: no item started
        assert kinds == [got.status.value], (name, kinds)
        return
    assert kinds[-1] == got.status.value, (name, kinds)
    expected = Counter(kind for item in got.items for kind in per_status[item.status])
    assert Counter(kinds[:-1]) == expected, (name, kinds)
