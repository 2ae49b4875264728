"""Stage states inside a run and the dependency bookkeeping between them.

:class:`StageTracker` knows, per stage index, its state, how many dependencies it still
waits for and how often it ran; it decides what a settled stage releases or skips (with
the reason a user reads), and how a route back to an earlier stage resets the graph; a
stage mapped over a mapped stage is released by its items, not by its gather.
:class:`podium.running.items.ItemTracker` adds the items of mapped stages, and
:class:`podium.RunState` the tasks, the event loop and hooks.
"""

from __future__ import annotations

import heapq
import weakref
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from podium.running.mapping import Fan
from podium.values.model import StageResult, StageStatus

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Stage

# Stage states inside a run; a mapped stage is MAPPING while its items are decided.
PENDING, READY, RUNNING, SUCCEEDED, FAILED, SKIPPED, MAPPING = range(7)
SETTLED = (SUCCEEDED, FAILED, SKIPPED)

_OK = frozenset({StageStatus.SUCCEEDED, StageStatus.CACHED})

# Above this many needs, membership tests use a set instead of scanning a tuple (fan-ins).
_SET_THRESHOLD = 8


# Per plan: how many dependencies each stage waits for at the start, and its needs in the
# form membership tests are cheapest in (shared, read-only, by the runs of one definition).
_starts: weakref.WeakKeyDictionary[Plan, tuple[list[int], list[tuple[int, ...] | frozenset[int]]]] = (
    weakref.WeakKeyDictionary()
)


def _start_of(plan: Plan) -> tuple[list[int], list[tuple[int, ...] | frozenset[int]]]:
    found = _starts.get(plan)
    if found is None:
        waiting = [len(plan.needs[i]) + len(plan.needs_any[i]) for i in range(len(plan.stages))]
        needs = [frozenset(n) if len(n) > _SET_THRESHOLD else n for n in plan.needs]
        found = _starts[plan] = (waiting, needs)
    return found


class StageTracker:
    """Per-run stage states and the rules that move stages between them."""

    def __init__(self, plan: Plan, priority: Sequence[Any] | None) -> None:
        self.plan = plan
        self.results: dict[str, StageResult] = {}
        self.history: list[StageResult] = []
        n = len(plan.stages)
        waiting, needs = _start_of(plan)
        self._state = [PENDING] * n
        self._waiting = list(waiting)
        self._visits = [0] * n
        self._loop_backs = [0] * n
        self._needs = needs
        # The ready heap holds ranks (unique ints, cheap to compare): rank -> stage index.
        if priority is None:
            self._rank: list[int] | range = range(n)
            self._by_rank: list[int] | range = range(n)
        else:
            self._by_rank = sorted(range(n), key=lambda i: (priority[i], i))
            rank = [0] * n
            for position, i in enumerate(self._by_rank):
                rank[i] = position
            self._rank = rank
        self._ready: list[int] = []
        # Which dependents a settled stage decides (the stages mapped over a mapped stage
        # follow its items instead), and the items of mapped stages: only plans with maps
        # pay for any of it.
        self._releases = plan.releases
        self._fans: list[Fan | None] | None = None
        self._chained: tuple[tuple[int, ...], ...] | None = None
        if plan.has_maps:
            self._fans = [None] * n
            self._chained = plan.chained

    def priority(self, i: int) -> int:
        """How much the strategy wants stage ``i`` started before the others: higher first
        (``0`` for the stage it wants last), for executors that queue work elsewhere."""
        return len(self._rank) - 1 - self._rank[i]

    # ------------------------------------------------------------------ for subclasses

    def _emit_skipped(self, stage: Stage, result: StageResult) -> None:
        """Announce a skip (the run fires ``podium_stage_ended``)."""

    def _supersede(self, i: int, reason: str) -> None:
        """Stage ``i`` is running a visit that a loop back made stale: stop it."""

    def _announce(self, stage: Stage, result: StageResult) -> None:
        """Announce a result the tracker decided (the run fires ``podium_stage_ended``)."""

    def _failed(self, stage: Stage) -> None:
        """A stage (or an item that fails it) failed outside a stage task (fail_fast stops the run)."""

    def log_extra(self, stage: str | None = None) -> dict[str, Any]:
        """The ``extra`` of a log record about this run's ``stage`` (the run adds its id)."""
        return {"stage": stage}

    def _skip_ready_items(self, i: int, reason: str) -> None:
        """Skip the items of mapped stage ``i`` waiting to start (see :mod:`podium.running.items`)."""

    # ------------------------------------------------------------------ transitions

    def _make_ready(self, i: int) -> None:
        self._state[i] = READY
        heapq.heappush(self._ready, self._rank[i])

    def _pop_ready(self) -> int:
        """The ready stage the strategy wants first (smallest priority, then declaration order)."""
        return self._by_rank[heapq.heappop(self._ready)]

    def _record(self, i: int, result: StageResult) -> None:
        self.results[result.name] = result
        self.history.append(result)
        status = result.status
        self._state[i] = (
            SUCCEEDED if status in _OK else (SKIPPED if status is StageStatus.SKIPPED else FAILED)
        )

    def _settle(self, i: int, result: StageResult) -> None:
        """Record a stage's outcome and release (or skip) its dependents, transitively."""
        self.results[result.name] = result
        self.history.append(result)
        status = result.status
        ok = status in _OK
        self._state[i] = SUCCEEDED if ok else (SKIPPED if status is StageStatus.SKIPPED else FAILED)
        route = result.route
        if route is not None and ok:
            plan = self.plan
            loop_targets = [t for t in route if plan.index[t] not in plan.dependents[i]]
            if loop_targets:
                self._loop_back(i, loop_targets)
                return
        if self._releases[i]:
            self._propagate(i, result)

    def _propagate(self, i: int, result: StageResult) -> None:
        """Let the dependents of settled stage ``i`` know.

        Skips spread through a work queue rather than recursion, so a failure at the
        head of a long chain cannot exhaust the stack.
        """
        plan = self.plan
        state = self._state
        waiting = self._waiting
        needs = self._needs
        needs_any = plan.needs_any
        releases = self._releases
        ready = self._ready
        rank = self._rank
        queue: deque[int] | None = None  # allocated only when a skip spreads
        while True:
            ok = result.status in _OK
            route = result.route
            for j in releases[i]:
                if state[j] != PENDING:
                    continue
                waiting[j] -= 1
                if i in needs[j]:
                    reason = None
                    if not ok:
                        reason = reason_from(result)
                    elif route is not None and plan.stages[j].name not in route:
                        reason = _route_reason(result)
                    if reason is not None:
                        self._skip(j, reason)
                        if queue is None:
                            queue = deque()
                        queue.append(j)
                        continue
                if waiting[j] == 0:
                    # A join: a need that failed (possible here only after a loop back reset
                    # the join) explains the skip before the branches do.
                    reason = (self._need_reason(j) or self._no_branch_reason(j)) if needs_any[j] else None
                    if reason is None:
                        state[j] = READY
                        heapq.heappush(ready, rank[j])
                    else:
                        self._skip(j, reason)
                        if queue is None:
                            queue = deque()
                        queue.append(j)
            if not queue:
                return
            i = queue.popleft()
            result = self.results[plan.stages[i].name]
            if self._chained is not None and self._chained[i]:
                queue.extend(self._skip_chained(i, result))

    def _no_branch_reason(self, j: int) -> str | None:
        """Why ``j`` cannot run because none of its ``needs_any`` branches ran, or ``None``."""
        plan = self.plan
        any_deps = plan.needs_any[j]
        if not any_deps or any(self._ran_for(k, j) for k in any_deps):
            return None
        return f"none of its needs_any ran ({', '.join(repr(plan.stages[k].name) for k in any_deps)})"

    def _ran_for(self, k: int, j: int) -> bool:
        """Whether stage ``k`` succeeded and its route (if any) picked ``j``."""
        if self._state[k] != SUCCEEDED:
            return False
        route = self.results[self.plan.stages[k].name].route
        return route is None or self.plan.stages[j].name in route

    def _skip(self, i: int, reason: str) -> None:
        """Record ``i`` as skipped and announce it; the caller propagates to its dependents."""
        stage = self.plan.stages[i]
        visit = self._visits[i] = self._visits[i] + 1  # a skip is a visit too
        result = StageResult(stage.name, StageStatus.SKIPPED, reason=reason, visit=visit)
        self._record(i, result)
        self._emit_skipped(stage, result)

    def _skip_and_propagate(self, i: int, reason: str) -> None:
        """Skip ready stage ``i`` (a mapped stage's ready items) and what depends on it."""
        if self._state[i] == MAPPING:
            self._skip_ready_items(i, reason)
            return
        self._skip(i, reason)
        self._propagate_decided(i, self.results[self.plan.stages[i].name])

    def _propagate_decided(self, i: int, result: StageResult) -> None:
        """Propagate the outcome of a stage decided as a whole (never ran its items)."""
        if self._chained is not None and self._chained[i]:
            for j in self._skip_chained(i, result):
                self._propagate_decided(j, self.results[self.plan.stages[j].name])
        self._propagate(i, result)

    # ------------------------------------------------------------------ loops

    def _loop_back(self, source: int, targets: list[str]) -> None:
        """A route named earlier stages: reset them and everything after them, then re-run.

        Stages of that region still running a previous visit are superseded (their
        results are stale); the others are decided again from the latest results.
        """
        plan = self.plan
        state = self._state
        region: set[int] = set()
        for name in targets:
            t = plan.index[name]
            self._loop_backs[t] += 1
            region.add(t)
            region.update(plan.descendants(t))
        reason = f"superseded: {plan.stages[source].name!r} looped back to {', '.join(map(repr, targets))}"
        for s in region:
            if state[s] == RUNNING:
                self._supersede(s, reason)
            state[s] = PENDING
        if self._ready:
            self._ready[:] = [r for r in self._ready if self._by_rank[r] not in region]
            heapq.heapify(self._ready)
        ordered = [s for s in plan.order if s in region]
        for s in ordered:
            deps = plan.needs[s] + plan.needs_any[s]
            self._waiting[s] = sum(1 for k in deps if state[k] not in SETTLED)
        for s in ordered:
            if state[s] == PENDING:
                self._evaluate(s)

    def _evaluate(self, s: int) -> None:
        """Decide a stage again after a loop back reset it.

        A need outside the loop may have failed (or routed elsewhere) long ago: that skips
        the stage now, whatever the loop brings. Otherwise the stage waits for the loop's
        stages as usual, or is ready at once when it waits for none.
        """
        reason = self._need_reason(s)
        if reason is None:
            if self._waiting[s] > 0:
                return
            reason = self._no_branch_reason(s)
        if reason is not None:
            self._skip_and_propagate(s, reason)
        else:
            self._make_ready(s)

    def _need_reason(self, j: int) -> str | None:
        """Why ``j`` cannot run because a settled need failed or routed elsewhere, or ``None``."""
        plan = self.plan
        state = self._state
        for k in plan.needs[j]:
            if state[k] not in SETTLED:
                continue
            result = self.results[plan.stages[k].name]
            if result.status not in _OK:
                return reason_from(result)
            if result.route is not None and plan.stages[j].name not in result.route:
                return _route_reason(result)
        return None

    def _skip_chained(self, i: int, result: StageResult) -> list[int]:
        """Mapped stage ``i`` was decided as a whole: the stages mapped over it are skipped."""
        skipped = []
        for j in self.plan.chained[i]:
            if self._state[j] == PENDING:
                self._skip(j, reason_from(result))
                skipped.append(j)
        return skipped


def reason_from(result: StageResult, where: str = "") -> str:
    """The skip reason a dependent of a stage (``where``: one of its items) that did not
    succeed inherits."""
    if result.status is StageStatus.SKIPPED and result.reason:
        return result.reason
    if result.status is StageStatus.CANCELLED:
        return f"dependency {result.name!r} was cancelled{where}"
    return f"dependency {result.name!r} failed{where}"


def _route_reason(result: StageResult) -> str:
    chosen = ", ".join(result.route or ()) or "nothing"
    return f"not chosen by the route of {result.name!r} (chose {chosen})"
