"""The one scheduling loop every strategy shares: event-driven, with skips, routes and loops.

A stage starts the moment its last dependency settles (not level by level), as long as
the strategy's concurrency allows; among ready stages the strategy's priority decides.
Completion is handled in task done-callbacks, so launching a dependent costs no extra
trip through the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.definition import has_default
from podium.execution import run_stage
from podium.model import (
    ZERO_USAGE,
    RunResult,
    RunStatus,
    StageResult,
    StageStatus,
    Usage,
)

if TYPE_CHECKING:
    from podium.definition import Plan, Stage, Workflow
    from podium.docs import DocBundle
    from podium.engine import Engine
    from podium.strategy import Strategy

_log = logging.getLogger("podium.run")

# Stage states inside a run.
_PENDING, _READY, _RUNNING, _SUCCEEDED, _FAILED, _SKIPPED = range(6)
_SETTLED = (_SUCCEEDED, _FAILED, _SKIPPED)

#: The lifecycle hooks the kernel fires, only when some plugin implements them.
EVENTS = (
    "podium_workflow_started",
    "podium_workflow_finished",
    "podium_stage_started",
    "podium_stage_finished",
    "podium_stage_failed",
    "podium_stage_skipped",
    "podium_stage_cancelled",
    "podium_stage_retried",
    "podium_route_taken",
    "podium_cache_hit",
    "podium_cache_miss",
    "podium_agent_call_started",
    "podium_agent_call_finished",
    "podium_doc_fetch_finished",
    "podium_budget_exceeded",
)


class Events:
    """The lifecycle hooks that have implementations, looked up once per run.

    ``events.emit("podium_stage_started", ...)`` costs one attribute check when nobody listens.
    """

    __slots__ = ("_hook", "active")

    def __init__(self, hook: Any) -> None:
        self._hook = hook
        self.active = frozenset(name for name in EVENTS if getattr(hook, name).get_hookimpls())

    def emit(self, name: str, **kwargs: Any) -> None:
        if name in self.active:
            try:
                getattr(self._hook, name)(**kwargs)
            except Exception:
                # An observer's bug must never cost a stage its result.
                _log.exception("a plugin's %s implementation raised; ignored", name)


class Run:
    """One run of a workflow: its live state, read by plugins through lifecycle hooks.

    Public attributes: ``id``, ``workflow``, ``inputs``, ``engine``, ``strategy``,
    ``started_at``, ``results`` (latest result per stage so far), ``usage``, ``saved``.
    """

    def __init__(
        self,
        engine: Engine,
        workflow: Workflow,
        plan: Plan,
        strategy: Strategy,
        inputs: Mapping[str, Any],
        run_id: str | None = None,
    ) -> None:
        self.id = run_id or uuid.uuid4().hex[:16]
        self.engine = engine
        self.workflow = workflow
        self.plan = plan
        self.strategy = strategy
        self.inputs = dict(inputs)
        self.results: dict[str, StageResult] = {}
        self.history: list[StageResult] = []
        self.usage: Usage = ZERO_USAGE
        self.saved: Usage = ZERO_USAGE
        self.started_at = datetime.now(UTC)
        self.events = Events(engine.hook)
        self.routes = strategy.honours_routes
        self._t0 = time.perf_counter()
        n = len(plan.stages)
        self._state = [_PENDING] * n
        self._waiting = [len(plan.needs[i]) + len(plan.needs_any[i]) for i in range(n)]
        self._visits = [0] * n
        limit = strategy.concurrency(workflow)
        self._limit = limit if limit is not None else n + 1
        self._priority = strategy.priorities(plan, engine.estimates(workflow, plan))
        self._ready: list[tuple[Any, int]] = []
        self._running: dict[int, asyncio.Task[StageResult]] = {}
        self._halt_reason: str | None = None
        self._budget_breach: str | None = None
        self._status: RunStatus | None = None
        self._done: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<Run {self.id} of {self.workflow.name!r}>"

    # ------------------------------------------------------------------ public helpers

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._t0

    def visits(self, stage: str) -> int:
        """How many times ``stage`` has started in this run."""
        return self._visits[self.plan.index[stage]]

    def add_usage(self, usage: Usage) -> None:
        self.usage = self.usage + usage
        self.check_budget()

    def add_saved(self, saved: Usage) -> None:
        self.saved = self.saved + saved

    def check_budget(self) -> str | None:
        """Check the budget now; on the first breach stop starting stages and alert."""
        budget = self.workflow.budget
        if budget is None or self._budget_breach is not None:
            return self._budget_breach
        reason = budget.breach(self.usage, self.usage.cost_usd, self.elapsed_s)
        if reason is not None:
            self._budget_breach = reason
            _log.warning("budget exceeded: %s", reason, extra=self._extra())
            self.events.emit(
                "podium_budget_exceeded", run=self, budget=budget, usage=self.usage, reason=reason
            )
            self.engine.raise_alert(
                "budget_exceeded",
                f"workflow {self.workflow.name!r} run {self.id}: budget exceeded ({reason})",
                run=self,
            )
        return reason

    def emit_doc_fetch(self, stage: Stage | None, bundle: DocBundle) -> None:
        self.events.emit("podium_doc_fetch_finished", run=self, stage=stage, bundle=bundle)

    def arguments(self, stage: Stage) -> dict[str, Any]:
        """The keyword arguments of a stage body: upstream values and workflow inputs by name."""
        kwargs: dict[str, Any] = {}
        results = self.results
        inputs = self.inputs
        dependencies = stage.dependencies
        for name, default in stage.parameters.items():
            if name in dependencies:
                result = results.get(name)
                if result is not None and result.ok:
                    kwargs[name] = result.value
                else:  # a needs_any branch that did not run
                    kwargs[name] = default if has_default(default) else None
            elif name in inputs:
                kwargs[name] = inputs[name]
            elif has_default(default):
                kwargs[name] = default
        return kwargs

    def _extra(self, stage: str | None = None) -> dict[str, Any]:
        return {"run_id": self.id, "workflow": self.workflow.name, "stage": stage}

    # ------------------------------------------------------------------ the loop

    async def execute(self) -> RunResult:
        """Run to completion and return the result; on cancellation clean up and re-raise."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self.events.emit("podium_workflow_started", run=self)
        _log.debug("run started", extra=self._extra())
        for i in self.plan.order:
            if self._waiting[i] == 0:
                self._make_ready(i)
        self._pump()
        timeout = self.workflow.timeout
        try:
            if timeout is None:
                await self._done
            else:
                async with asyncio.timeout(timeout):
                    await self._done
        except TimeoutError:
            await self._stop(f"workflow timed out after {timeout}s", RunStatus.TIMED_OUT)
        except asyncio.CancelledError:
            await self._stop("the run was cancelled", RunStatus.CANCELLED)
            self._finish()
            raise
        return self._finish()

    def _make_ready(self, i: int) -> None:
        self._state[i] = _READY
        key = self._priority[i] if self._priority is not None else i
        heapq.heappush(self._ready, (key, i))

    def _pump(self) -> None:
        ready = self._ready
        while ready and len(self._running) < self._limit:
            if self._halt_reason is not None or self.check_budget() is not None:
                reason = self._halt_reason or f"budget exceeded: {self._budget_breach}"
                while ready:
                    _, i = heapq.heappop(ready)
                    self._skip(i, reason)
                break
            _, i = heapq.heappop(ready)
            self._launch(i)
        if not self._running and (not ready or self._halt_reason is not None):
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)

    def _launch(self, i: int) -> None:
        stage = self.plan.stages[i]
        self._state[i] = _RUNNING
        self._visits[i] += 1
        task = asyncio.get_running_loop().create_task(
            run_stage(self, stage, self._visits[i]), name=f"podium:{self.workflow.name}:{stage.name}"
        )
        self._running[i] = task
        task.add_done_callback(functools.partial(self._on_done, i))

    def _on_done(self, i: int, task: asyncio.Task[StageResult]) -> None:
        if self._running.pop(i, None) is None:
            return
        stage = self.plan.stages[i]
        if task.cancelled():
            result = StageResult(
                stage.name,
                StageStatus.CANCELLED,
                reason=self._halt_reason or "cancelled",
                visits=self._visits[i],
            )
            self.events.emit("podium_stage_cancelled", run=self, stage=stage, result=result)
        else:
            exc = task.exception()
            if exc is not None:  # BaseException escaping a stage body, e.g. KeyboardInterrupt
                result = StageResult(stage.name, StageStatus.FAILED, error=exc, visits=self._visits[i])
            else:
                result = task.result()
        self._settle(i, result)
        if result.status is StageStatus.FAILED and self.workflow.fail_fast and self._halt_reason is None:
            self._halt(f"fail_fast: stage {stage.name!r} failed")
        self._pump()

    def _settle(self, i: int, result: StageResult) -> None:
        """Record a stage's outcome and release (or skip) its dependents."""
        stage = self.plan.stages[i]
        self.results[stage.name] = result
        self.history.append(result)
        ok = result.ok
        self._state[i] = (
            _SUCCEEDED if ok else (_FAILED if result.status is not StageStatus.SKIPPED else _SKIPPED)
        )
        route = result.route
        if ok and route is not None:
            loop_targets = [t for t in route if self.plan.index[t] not in self.plan.dependents[i]]
            if loop_targets:
                self._loop_back(loop_targets)
                return
        for j in self.plan.dependents[i]:
            if self._state[j] != _PENDING:
                continue
            self._waiting[j] -= 1
            if i in self.plan.needs[j]:
                if not ok:
                    self._skip(j, self._reason_from(stage.name, result))
                    continue
                if route is not None and self.plan.stages[j].name not in route:
                    self._skip(j, f"not chosen by the route of {stage.name!r} (chose {', '.join(route)})")
                    continue
            if self._waiting[j] == 0:
                self._release(j)

    def _release(self, j: int) -> None:
        """All dependencies of ``j`` settled: make it ready, or skip it when no branch ran."""
        plan = self.plan
        any_deps = plan.needs_any[j]
        if any_deps and not any(self._ran_for(k, j) for k in any_deps):
            names = ", ".join(repr(plan.stages[k].name) for k in any_deps)
            self._skip(j, f"none of its needs_any ran ({names})")
        else:
            self._make_ready(j)

    def _ran_for(self, k: int, j: int) -> bool:
        if self._state[k] != _SUCCEEDED:
            return False
        route = self.results[self.plan.stages[k].name].route
        return route is None or self.plan.stages[j].name in route

    def _reason_from(self, name: str, result: StageResult) -> str:
        if result.status is StageStatus.SKIPPED and result.reason:
            return result.reason
        if result.status is StageStatus.CANCELLED:
            return f"dependency {name!r} was cancelled"
        return f"dependency {name!r} failed"

    def _skip(self, i: int, reason: str) -> None:
        stage = self.plan.stages[i]
        result = StageResult(stage.name, StageStatus.SKIPPED, reason=reason, visits=self._visits[i])
        self.events.emit("podium_stage_skipped", run=self, stage=stage, result=result)
        self._settle(i, result)

    def _loop_back(self, targets: list[str]) -> None:
        """A route named earlier stages: reset them and everything after them, then re-run."""
        plan = self.plan
        region: list[int] = []
        seen: set[int] = set()
        for name in targets:
            t = plan.index[name]
            for s in [t, *plan.descendants(t)]:
                if s not in seen:
                    seen.add(s)
                    region.append(s)
        for s in region:
            if self._state[s] in _SETTLED or self._state[s] == _READY:
                self._state[s] = _PENDING
        self._ready = [(key, s) for key, s in self._ready if s not in seen]
        heapq.heapify(self._ready)
        for s in sorted(region, key=plan.order.index):
            if self._state[s] != _PENDING:
                continue
            deps = plan.needs[s] + plan.needs_any[s]
            self._waiting[s] = sum(1 for k in deps if self._state[k] not in _SETTLED)
            if self._waiting[s] == 0:
                if any(self._state[k] != _SUCCEEDED for k in plan.needs[s]):
                    continue
                self._release(s)

    def _halt(self, reason: str) -> None:
        """Start nothing more and cancel what runs (fail_fast, timeout, cancellation)."""
        self._halt_reason = reason
        for task in list(self._running.values()):
            task.cancel()

    async def _stop(self, reason: str, status: RunStatus) -> None:
        self._status = status
        if self._halt_reason is None:
            self._halt(reason)
        tasks = list(self._running.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _finish(self) -> RunResult:
        finished_at = datetime.now(UTC)
        reason = self._halt_reason or (
            f"budget exceeded: {self._budget_breach}" if self._budget_breach else "not reached"
        )
        for i in range(len(self.plan.stages)):
            if self._state[i] in (_PENDING, _READY):
                self._skip(i, reason)
        status = self._status
        if status is None:
            if self._budget_breach is not None:
                status = RunStatus.BUDGET_EXCEEDED
            elif any(r.status in (StageStatus.FAILED, StageStatus.CANCELLED) for r in self.results.values()):
                status = RunStatus.FAILED
            else:
                status = RunStatus.SUCCEEDED
        ordered = {s.name: self.results[s.name] for s in self.plan.stages if s.name in self.results}
        result = RunResult(
            run_id=self.id,
            workflow=self.workflow.name,
            status=status,
            stages=ordered,
            started_at=self.started_at,
            finished_at=finished_at,
            duration_s=self.elapsed_s,
            usage=self.usage,
            saved=self.saved,
            history=self.history,
        )
        self.engine.learn(self.workflow, self.history)
        self.events.emit("podium_workflow_finished", run=self, result=result)
        _log.debug("run finished: %s", status, extra=self._extra())
        return result
