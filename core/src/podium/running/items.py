"""The items of mapped stages in a run: when each is decided, run, skipped, and gathered.

:class:`ItemTracker` adds to the stage tracker the state machine of items: a mapped stage
*opens* when its own dependencies allow (reading its items, or taking those of the stage
it is mapped over), its items go through the run's ready heap under the stage's priority
and the workflow's concurrency cap like any stage, and the last item to be decided
gathers the stage. :func:`start_items` and :func:`item_ended` run items in tasks of their own.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import UTC, datetime
from heapq import heappush
from typing import TYPE_CHECKING, Any

from podium.foundation.errors import MapError
from podium.running.context import Context
from podium.running.execution import bare_failure, run_stage, run_stored_stage, succeeded
from podium.running.mapping import Fan, collect_items, gathered_result, item_label
from podium.running.tracking import (
    FAILED,
    MAPPING,
    PENDING,
    READY,
    SKIPPED,
    SUCCEEDED,
    StageTracker,
    reason_from,
)
from podium.values.model import ZERO_USAGE, StageResult, StageStatus

if TYPE_CHECKING:
    import asyncio

    from podium.definition.workflow import Stage
    from podium.running.scheduler import RunState

_log = logging.getLogger("podium.run")

_OK = frozenset({StageStatus.SUCCEEDED, StageStatus.CACHED})


def _item_reason(source: StageResult) -> str:
    """Why an item is skipped when the same item of the stage it is mapped over did not succeed."""
    return reason_from(source, f" on item {item_label(source.item_key)}")


class ItemTracker(StageTracker):
    """Stage states plus the items of mapped stages (only plans with maps use any of this)."""

    def _next_items(self, i: int) -> Fan | None:
        """Mapped stage ``i`` came out of the ready heap: open it the first time; its fan,
        if it has items ready to start (the run starts them, :func:`start_items`)."""
        if self._state[i] == READY:
            self._open(i)
        if self._state[i] != MAPPING:
            return None
        assert self._fans is not None
        fan = self._fans[i]
        assert fan is not None
        fan.queued = False
        return fan if fan.ready else None

    def _open(self, i: int) -> None:
        """Mapped stage ``i`` may decide its items: read them (a map over a plain stage's
        value) or take those of the stage it is mapped over, then release what waits.

        Items whose source item already settled are queued (or skipped) at once; the
        others follow as their source items settle (:meth:`_source_settled`).
        """
        plan = self.plan
        stage = plan.stages[i]
        fans = self._fans
        assert fans is not None
        fan = fans[i]
        if fan is None:  # mapped over a plain stage: its value holds the items
            collection = plan.stages[plan.mapped_over[i]].name
            try:
                keys, items = collect_items(stage, collection, self.results[collection].value)
            except MapError as error:
                self._fail_map(i, error)
                return
            fan = fans[i] = Fan(keys, items, chained=False)
            fan.ready.extend(range(len(items)))
        self._state[i] = MAPPING
        base = self._visits[i]
        self._visits[i] = base + len(fan.items)
        fan.start(base)
        for j in plan.chained[i]:
            fans[j] = Fan(fan.keys, fan.items, chained=True)
        if fan.sources is not None:
            for k, source in enumerate(fan.sources):
                if source is None:
                    continue
                if source.status in _OK:
                    fan.ready.append(k)
                else:
                    self._skip_item(i, k, _item_reason(source), fan)
        fan.opened = True
        for j in plan.chained[i]:  # the stages mapped over this one: their items are known now
            self._waiting[j] -= 1
            if self._waiting[j] == 0 and self._state[j] == PENDING:
                reason = (self._need_reason(j) or self._no_branch_reason(j)) if plan.needs_any[j] else None
                if reason is None:
                    self._make_ready(j)
                else:
                    self._skip_and_propagate(j, reason)
        if fan.unsettled == 0:
            self._gather(i)

    def _fail_map(self, i: int, error: MapError) -> None:
        """Mapped stage ``i`` has no items to run: it fails, as one visit, when its value is known."""
        stage = self.plan.stages[i]
        visit = self._visits[i] = self._visits[i] + 1
        now = datetime.now(UTC)
        result = StageResult(
            stage.name, StageStatus.FAILED, error=error, started_at=now, finished_at=now, visit=visit
        )
        _log.warning("stage %r failed: %s", stage.name, error, extra=self.log_extra(stage.name))
        self._record(i, result)
        self._announce(stage, result)
        self._failed(stage)
        self._propagate_decided(i, result)

    def _record_item(self, fan: Fan, k: int, result: StageResult) -> None:
        fan.results[k] = result
        fan.unsettled -= 1
        self.history.append(result)

    def _item_settled(self, i: int, k: int, result: StageResult, fan: Fan) -> None:
        """Item ``k`` of ``i`` was decided: the stages mapped over ``i`` learn it; the last
        one gathers ``i``."""
        for j in self.plan.chained[i]:
            self._source_settled(j, k, result)
        if fan.unsettled == 0 and fan.opened and self._state[i] == MAPPING:
            self._gather(i)

    def _source_settled(self, j: int, k: int, source: StageResult) -> None:
        assert self._fans is not None
        fan = self._fans[j]
        if fan is None or self._state[j] not in (PENDING, READY, MAPPING):
            return  # ``j`` was decided as a whole (skipped): its items never come
        assert fan.sources is not None
        fan.sources[k] = source
        if not fan.opened:
            return
        if source.status in _OK:
            self._item_ready(j, k, fan)
        else:
            self._skip_item(j, k, _item_reason(source), fan)

    def _item_ready(self, j: int, k: int, fan: Fan) -> None:
        """Item ``k`` of ``j`` may start: queue it behind the stage's priority."""
        fan.ready.append(k)
        if not fan.queued:
            fan.queued = True
            heappush(self._ready, self._rank[j])

    def _skip_item(self, i: int, k: int, reason: str, fan: Fan) -> None:
        stage = self.plan.stages[i]
        result = StageResult(
            stage.name, StageStatus.SKIPPED, reason=reason, visit=fan.base + k + 1, item_key=fan.key(k)
        )
        self._record_item(fan, k, result)
        self._announce(stage, result)
        self._item_settled(i, k, result, fan)

    def _skip_ready_items(self, i: int, reason: str) -> None:
        assert self._fans is not None
        fan = self._fans[i]
        assert fan is not None
        fan.queued = False
        while fan.ready and self._state[i] == MAPPING:
            self._skip_item(i, fan.ready.popleft(), reason, fan)

    def _skip_undecided_items(self, reason: str) -> None:
        """When a run ends: skip every item not decided yet (none, unless the run was cut short)."""
        if self._fans is None:
            return
        for i, fan in enumerate(self._fans):
            if fan is not None and self._state[i] == MAPPING:
                fan.ready.clear()
                for k, result in enumerate(fan.results):
                    if result is None and self._state[i] == MAPPING:
                        self._skip_item(i, k, reason, fan)

    def _gather(self, i: int) -> None:
        """Every item of mapped stage ``i`` is decided: settle it with their gathered result."""
        assert self._fans is not None
        fan = self._fans[i]
        assert fan is not None
        stage = self.plan.stages[i]
        result = gathered_result(stage, fan, self._visits[i])
        self.results[stage.name] = result
        status = result.status
        self._state[i] = (
            SUCCEEDED if status in _OK else (SKIPPED if status is StageStatus.SKIPPED else FAILED)
        )
        self._announce(stage, result)
        if self._releases[i]:
            self._propagate(i, result)

    def item_cache_key(self, stage: Stage, item: int) -> Any:
        """The key of item ``item`` of ``stage`` when its items came from a mapping (the key is
        part of what such an item is, so of its cache key); ``None`` for a list's items."""
        fan = self._fans[self.plan.index[stage.name]] if self._fans is not None else None
        return None if fan is None or fan.keys is None else fan.keys[item]


# --------------------------------------------------------------------------- item tasks


def item_arguments(run: RunState, stage: Stage, fan: Fan, k: int) -> dict[str, Any]:
    """The keyword arguments of item ``k``: what every item shares, plus the item itself (by
    the collection's name) and the same item's value of the stage it is mapped over."""
    shared = fan.arguments
    if shared is None:
        shared = fan.arguments = run.arguments(stage)
        plan = run.plan
        i = plan.index[stage.name]
        source = plan.stages[plan.mapped_over[i]].name
        root = plan.stages[plan.collection(i)].name
        takes_upstream = stage.var_keyword is not None
        if root in stage.parameters or (takes_upstream and root == source):
            fan.item_parameter = root
        if source != root and (source in stage.parameters or takes_upstream):
            fan.source_parameter = source
    kwargs = shared.copy()
    if fan.item_parameter is not None:
        kwargs[fan.item_parameter] = fan.items[k]
    if fan.source_parameter is not None:
        kwargs[fan.source_parameter] = _source_value(fan, k)
    return kwargs


def _source_value(fan: Fan, k: int) -> Any:
    source = fan.sources[k] if fan.sources is not None else None
    return source.value if source is not None else None


def start_items(run: RunState, i: int, fan: Fan) -> None:
    """Start the ready items of mapped stage ``i`` while the cap and the budget allow (they
    share the stage's priority, so none of the stages still waiting comes before them);
    the stage goes back into the ready heap for the rest."""
    ready = fan.ready
    running = run._running
    limit = run._limit
    budgeted = run.workflow.budget is not None
    while ready and len(running) < limit:
        if budgeted and run.check_budget() is not None:
            break
        start_item(run, i, ready.popleft(), fan)
    if ready:
        fan.queued = True
        heappush(run._ready, run._rank[i])


def start_item(run: RunState, i: int, k: int, fan: Fan) -> None:
    """Start item ``k`` of mapped stage ``i`` in a task of its own, along the stage's path."""
    if fan.stage is None:
        fan.stage, fan.path = run.plan.stages[i], run.paths[i]
    stage, path = fan.stage, fan.path
    assert path is not None
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()
    ctx: Context | None = None
    body = None
    if path.bare:
        kwargs = item_arguments(run, stage, fan, k)
        if stage.context_parameter is not None:
            ctx = kwargs[stage.context_parameter] = Context(run, stage, fan.base + k + 1, fan.key(k), k)
        try:
            body = stage.fn(**kwargs)
        except Exception:  # calling it failed outright: let run_stage report that
            body = None
    bare = body is not None
    if body is None:
        ctx = Context(run, stage, fan.base + k + 1, fan.key(k), k)
        body = (run_stored_stage if path.stored else run_stage)(run, stage, ctx, path, started_at, t0)
    task = run._loop.create_task(body, name=stage.name)
    run._running[task] = task
    task.add_done_callback(functools.partial(item_ended, run, i, k, fan, ctx, started_at, t0, bare))


def item_ended(
    run: RunState,
    i: int,
    k: int,
    fan: Fan,
    ctx: Context | None,
    started_at: datetime,
    t0: float,
    bare: bool,
    task: asyncio.Task[Any],
) -> None:
    """Describe an item's task when it ends, settle the item, and let the run go on."""
    if run._running.pop(task, None) is None:
        return
    stage = fan.stage
    assert stage is not None
    visit = fan.base + k + 1
    key = k if fan.keys is None else fan.keys[k]
    if task.cancelled():
        launch = (ctx, started_at, t0, bare, visit)
        result = run._interrupted(
            stage, StageStatus.CANCELLED, launch, reason=run._halt_reason or "cancelled"
        )
        result.item_key = key
        run.events.emit("podium_stage_ended", run=run, stage=stage, result=result)
    elif bare:
        error = task.exception()
        if error is None:  # the common case, inlined
            usage, saved = (ZERO_USAGE, ZERO_USAGE) if ctx is None else (ctx.usage, ctx.saved)
            result = succeeded(stage.name, task.result(), 1, started_at, t0, usage, saved, visit, False, key)
        else:
            ctx = ctx or Context(run, stage, visit, key, k)
            result = bare_failure(run, stage, visit, ctx, started_at, t0, error)
    else:
        exc = task.exception()
        if exc is not None:  # BaseException escaping the body, e.g. KeyboardInterrupt
            result = run._interrupted(
                stage, StageStatus.FAILED, (ctx, started_at, t0, bare, visit), error=exc
            )
            result.item_key = key
        else:
            result = task.result()
    fan.results[k] = result  # recorded as ItemTracker._record_item does, inlined: once per item
    fan.unsettled -= 1
    run.history.append(result)
    if result.status is StageStatus.FAILED and not stage.partial:
        run._failed(stage)
    if fan.unsettled == 0 or run.plan.chained[i]:
        run._item_settled(i, k, result, fan)
    if run._ready or not run._running:
        run._pump()
