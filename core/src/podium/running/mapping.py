"""Mapped stages in a run: the items of each (a :class:`Fan`) and the result they gather into.

A stage declared ``map="files"`` runs once per item of the value of ``files``; each item
is a visit of its own. A stage mapped over a mapped stage runs per item of it, item ``k``
as soon as that stage's item ``k`` succeeded (a per-item pipeline, no barrier). When all
of a stage's items are decided, they gather into one result (:func:`gathered_result`),
which is what the stage's dependents receive.
"""

from __future__ import annotations

import reprlib
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.foundation.errors import GatherError, MapError
from podium.values.gathered import Gathered, GatheredDict, failure_text
from podium.values.model import ZERO_USAGE, StageResult, StageStatus, Usage

if TYPE_CHECKING:
    from podium.definition.workflow import Stage
    from podium.running.stage_path import StagePath

_OK = frozenset({StageStatus.SUCCEEDED, StageStatus.CACHED})
#: How many failed items an error message names before it says "and N more".
_NAMED = 3


class Fan:
    """The items of one mapped stage in one run, and where each of them stands."""

    __slots__ = (
        "arguments",
        "base",
        "item_parameter",
        "items",
        "keys",
        "opened",
        "path",
        "queued",
        "ready",
        "results",
        "source_parameter",
        "sources",
        "stage",
        "started_at",
        "t0",
        "unsettled",
    )

    def __init__(self, keys: list[Any] | None, items: list[Any], *, chained: bool) -> None:
        n = len(items)
        #: The items' keys when they came from a mapping; ``None``: the key is the index.
        self.keys = keys
        #: The items themselves (for a chain of maps: the items of the first one).
        self.items = items
        #: Per item, the result of the same item of the stage this one is mapped over
        #: (``None`` until it settles); ``None`` for a map over a plain stage's value.
        self.sources: list[StageResult | None] | None = [None] * n if chained else None
        self.results: list[StageResult | None] = [None] * n
        #: Items that may start, in item order; the stage is in the run's ready heap
        #: (``queued``) while there are any.
        self.ready: deque[int] = deque()
        self.queued = False
        #: Whether the stage's own dependencies let its items be decided.
        self.opened = False
        self.unsettled = n
        #: Visits of the stage before these items (item ``k`` is visit ``base + k + 1``).
        self.base = 0
        self.started_at: datetime | None = None
        self.t0 = 0.0
        #: The arguments every item shares (computed when the first item starts).
        self.arguments: dict[str, Any] | None = None
        #: The parameters that receive the item, and the item of the stage mapped over.
        self.item_parameter: str | None = None
        self.source_parameter: str | None = None
        #: The stage and how it runs, once its first item starts (kept here: read per item).
        self.stage: Stage | None = None
        self.path: StagePath | None = None

    def __repr__(self) -> str:
        return f"<Fan {len(self.items)} item(s), {self.unsettled} undecided>"

    def key(self, k: int) -> Any:
        """The key of item ``k``: its key in the mapping the items came from, else ``k``."""
        return k if self.keys is None else self.keys[k]

    def start(self, base: int) -> None:
        """The stage's items are about to be decided; ``base`` visits came before them."""
        self.base = base
        self.started_at = datetime.now(UTC)
        self.t0 = time.perf_counter()


def collect_items(stage: Stage, source: str, value: Any) -> tuple[list[Any] | None, list[Any]]:
    """The keys (``None`` for a list) and items of ``value``, the value of ``source`` that
    ``stage`` is mapped over; raises :class:`MapError` naming both when it has no items."""

    def refuse(why: str) -> MapError:
        return MapError(
            f"stage {stage.name!r} is mapped over {source!r}, whose value {reprlib.repr(value)} "
            f"({type(value).__name__}) {why}"
        )

    if isinstance(value, Mapping):
        if None in value:
            raise refuse("has an item keyed None: give every item another key")
        return list(value), list(value.values())
    if isinstance(value, str | bytes | bytearray):
        raise refuse("is one text, not a list or mapping of items: return [text] for one item")
    if isinstance(value, set | frozenset):
        raise refuse("has no order, so its items could not be gathered in order: return sorted(...)")
    try:
        iterator = iter(value)
    except TypeError:
        raise refuse("is not a list or mapping of items") from None
    try:
        return None, list(iterator)
    except Exception as error:
        raise refuse(f"failed to give its items: {error!r}") from error


def item_label(key: Any) -> str:
    """How an item is named to people: ``[3]``, ``['a.py']``."""
    return f"[{key!r}]"


def gathered_result(stage: Stage, fan: Fan, visit: int) -> StageResult:
    """The result the items of ``stage`` gather into, by its policy.

    Every item succeeded: succeeded, with their values. Otherwise a ``partial`` stage
    succeeds with the values of the items that did (the others in ``failures``); any
    other fails with a :class:`GatherError` listing them when one of them failed, else is
    cancelled (or skipped) with the reason of the first one cancelled (or skipped).
    """
    results: list[StageResult] = fan.results  # type: ignore[assignment]  # all decided by now
    keyed = fan.keys is not None
    values: list[Any] = []
    failures: dict[Any, StageResult] = {}
    usage = saved = ZERO_USAGE
    for k, result in enumerate(results):
        if result.status in _OK:
            values.append((fan.key(k), result.value) if keyed else result.value)
        else:
            failures[fan.key(k)] = result
        if result.usage is not ZERO_USAGE:
            usage = usage + result.usage
        if result.saved is not ZERO_USAGE:
            saved = saved + result.saved
    status, value, error, reason = StageStatus.SUCCEEDED, None, None, None
    if not failures or stage.partial:
        value = GatheredDict(values, failures) if keyed else Gathered(values, failures)
    elif any(r.status is StageStatus.FAILED for r in failures.values()):
        status, error = StageStatus.FAILED, _gather_error(stage, len(results), failures)
    else:
        cancelled = [r for r in failures.values() if r.status is StageStatus.CANCELLED]
        status = StageStatus.CANCELLED if cancelled else StageStatus.SKIPPED
        reason = (cancelled or list(failures.values()))[0].reason
    return _result(stage, fan, status, value, error, reason, visit, usage, saved, tuple(results))


def _gather_error(stage: Stage, total: int, failures: dict[Any, StageResult]) -> GatherError:
    named = [f"{item_label(key)} {failure_text(r)}" for key, r in list(failures.items())[:_NAMED]]
    more = f"; and {len(failures) - _NAMED} more" if len(failures) > _NAMED else ""
    return GatherError(
        f"{len(failures)} of {total} items of stage {stage.name!r} did not succeed: "
        f"{'; '.join(named)}{more} (partial=True would pass on the items that did)",
        failures,
    )


def _result(
    stage: Stage,
    fan: Fan,
    status: StageStatus,
    value: Any,
    error: BaseException | None,
    reason: str | None,
    visit: int,
    usage: Usage,
    saved: Usage,
    items: tuple[StageResult, ...],
) -> StageResult:
    return StageResult(
        stage.name,
        status,
        value=value,
        error=error,
        reason=reason,
        started_at=fan.started_at,
        finished_at=datetime.now(UTC),
        duration_s=time.perf_counter() - fan.t0,
        usage=usage,
        saved=saved,
        visit=visit,
        items=items,
    )
