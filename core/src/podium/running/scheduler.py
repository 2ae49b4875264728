"""The one scheduling loop every strategy shares: event-driven, with skips, routes and loops.

A stage starts the moment its last dependency settles (not level by level), as long as
the strategy's concurrency allows; among ready stages the strategy's priority decides.
Each stage's task settles its own result as its body ends (no done-callback), so
launching a dependent costs no extra trip through the event loop. How arguments are
filled lives in :mod:`podium.running.arguments`, how a run's end is told in
:mod:`podium.running.ending`.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import secrets
import sys
import time
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from heapq import heappop
from typing import TYPE_CHECKING, Any

from podium.foundation.errors import CacheKeyError, PluginError
from podium.running.arguments import argument_specs, stage_arguments
from podium.running.context import Context
from podium.running.ending import run_outcome
from podium.running.events import Events, HookFacts
from podium.running.execution import bare_failure, run_stage, run_stored_stage, succeeded
from podium.running.items import ItemTracker, item_arguments, start_item, start_items
from podium.running.mapping import Fan
from podium.running.stage_path import stage_paths
from podium.running.strategy import Strategy
from podium.running.tracking import MAPPING, PENDING, READY, RUNNING, SUCCEEDED
from podium.values.alerts import Alert, AlertRouter
from podium.values.keys import stage_key
from podium.values.model import ZERO_USAGE, RunResult, RunStatus, StageResult, StageStatus, Usage

if TYPE_CHECKING:
    from podium.definition.config import Config
    from podium.definition.plan import Plan
    from podium.definition.workflow import Stage, Workflow
    from podium.engine.engine import Engine
    from podium.running.agents import AgentRegistry
    from podium.running.estimates import DurationEstimator
    from podium.running.recorder import RunRecorder
    from podium.running.result_cache import ResultCache
    from podium.values.executors import Executor
    from podium.values.pricing import Pricing

_log = logging.getLogger("podium.run")

#: What a stage's task was started with: its context (if any), start (wall and
#: ``perf_counter``), whether its body is the task's (bare), and its visit number.
_Launch = tuple["Context | None", datetime, float, bool, int]

_FAILED = StageStatus.FAILED
_SUCCEEDED = StageStatus.SUCCEEDED


class RunState(ItemTracker):
    """One run of a workflow while it runs: what plugins see through the lifecycle hooks.

    Public attributes: ``id``, ``workflow``, ``inputs``, ``strategy``, ``plan``,
    ``started_at``, ``queue_wait_s`` (seconds it waited for a slot of the engine's
    scheduler), ``results`` (latest result per stage so far), ``history`` (every
    result in the order they settled, one per visit), ``usage``, ``saved``, ``result``
    (the :class:`RunResult`, once the run has ended), and the collaborators it was handed:
    ``hook`` (the plugin manager's hook caller), ``config``, ``result_cache``,
    ``pricing``, ``agents``, ``alerts``, ``executors``, ``router`` (the strategy's
    router, or ``None``), ``recorder`` (its link to the run store, or ``None``), and
    ``engine`` (the engine that started it, for plugins that keep state per engine).
    """

    _loop: asyncio.AbstractEventLoop

    def __init__(
        self,
        workflow: Workflow,
        plan: Plan,
        strategy: Strategy,
        inputs: Mapping[str, Any],
        *,
        hook: Any,
        facts: HookFacts,
        config: Config,
        result_cache: ResultCache,
        pricing: Pricing,
        agents: AgentRegistry,
        alerts: AlertRouter,
        estimator: DurationEstimator,
        executors: Mapping[str, Executor],
        engine: Engine,
        run_id: str | None = None,
        recorder: RunRecorder | None = None,
    ) -> None:
        n = len(plan.stages)
        limit = strategy.concurrency(workflow)
        # No cap: more than can ever run (the items of mapped stages count too).
        self._limit = limit if limit is not None else (sys.maxsize if plan.has_maps else n + 1)
        # Priorities only matter when more stages (or items of mapped stages) can be ready
        # than may run, and estimates only for a strategy that has priorities of its own.
        priority = None
        binds = self._limit < n or (limit is not None and plan.has_maps)
        #: Whether this run's strategy orders stages by expected durations (then the run
        #: also teaches the estimator its durations; other runs skip that bookkeeping).
        self.uses_estimates = binds and type(strategy).priorities is not Strategy.priorities
        if self.uses_estimates:
            priority = strategy.priorities(plan, estimator.estimates(workflow, plan))
        super().__init__(plan, priority)
        self.id = run_id or secrets.token_hex(8)
        self.workflow = workflow
        self.strategy = strategy
        self.inputs = dict(inputs)
        self.hook = hook
        self.config = config
        self.result_cache = result_cache
        self.pricing = pricing
        self.agents = agents
        self.alerts = alerts
        self.executors = executors
        self.engine = engine
        self._estimator = estimator
        self.usage: Usage = ZERO_USAGE
        self.saved: Usage = ZERO_USAGE
        self.started_at = datetime.now(UTC)
        self.events = Events(hook, facts.active)
        self._builtin_cache_key = not facts.hooked_cache_key
        self.router = strategy.router(self)
        self.recorder = recorder
        #: Results an earlier run computed, settled before this one started (:meth:`seed`).
        self.seeded: list[StageResult] = []
        #: How each stage runs, by index (decided in podium.running.stage_path).
        self.paths = stage_paths(
            plan,
            hooked=facts.hooked_execution,
            observed=facts.observes_stage_tasks,
            cached=result_cache.enabled,
            routes=None if self.router is None else self.router.routes,
            inline_cache=result_cache.inline,
            workflow_executor=workflow.executor,
            engine_executor=config.settings.executor,
            stored=recorder is not None,
        )
        self._argument_specs = argument_specs(plan)
        self._t0 = time.perf_counter()
        # Running tasks by stage index (an item of a mapped stage: by its task).
        self._running: dict[int | asyncio.Task[Any], asyncio.Task[Any]] = {}
        # Tasks of visits made stale by a loop back: cancelled, awaited before the run ends.
        self._superseded: dict[asyncio.Task[Any], str] = {}
        # The bodies of stage tasks created but not started yet, by stage index.
        self._unstarted: dict[int, Coroutine[Any, Any, Any]] = {}
        self._halt_reason: str | None = None
        self._budget_breach: str | None = None
        self._status: RunStatus | None = None
        self._done: asyncio.Future[None] | None = None
        #: The final result, set when the run ends (also when it was cancelled).
        self.result: RunResult | None = None
        #: Seconds the run waited in the engine's queue for a slot (``max_concurrent``).
        self.queue_wait_s = 0.0

    def __repr__(self) -> str:
        return f"<RunState {self.id} of {self.workflow.name!r}>"

    # ------------------------------------------------------------------ public helpers

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._t0

    def visits(self, stage: str) -> int:
        """How many visits ``stage`` has had so far: each time it was run, skipped or cancelled."""
        return self._visits[self.plan.index[stage]]

    def item_count(self, stage: str) -> int | None:
        """How many items mapped stage ``stage`` has in this run, once they are known (its
        own dependencies settled); ``None`` before, and for a stage that is not mapped."""
        fan = self._fans[self.plan.index[stage]] if self._fans is not None else None
        return len(fan.items) if fan is not None and fan.opened else None

    def rounds(self, stage: str) -> int:
        """How many rounds ``stage`` has been part of: 1 plus the routes that looped back to it."""
        return 1 + self._loop_backs[self.plan.index[stage]]

    @property
    def started(self) -> bool:
        """Whether the run's stages began (a queued run has not)."""
        return self._done is not None

    def cancel(self, reason: str = "cancelled by the caller") -> None:
        """Stop the run: running stages are cancelled, nothing new starts.

        The run then ends normally with status ``cancelled``; every stage that finished
        keeps its result. Cancelling a run that has ended does nothing.
        """
        if self.result is not None or self._status is not None:
            return
        self._status = RunStatus.CANCELLED
        self._halt(reason)
        if self._done is not None:
            self._pump()

    def seed(self, results: list[StageResult]) -> None:
        """Settle stages with results an earlier run computed, before this run starts.

        ``results`` come in dependency order, each a stage's latest visit (its ``visit``
        number carries over). Each releases its dependents (or, by its route, skips
        them) as if it had just run; their ``saved`` counts as this run's, and
        ``podium_stage_ended`` announces them once the run starts. This is what
        resuming a run uses.
        """
        for result in results:
            i = self.plan.index[result.name]
            self._visits[i] = result.visit
            self._settle(i, result)
            self.add_saved(result.saved)
        # A stage its seeded dependencies made ready may be seeded itself: it must not start.
        state, by_rank = self._state, self._by_rank
        self._ready[:] = [rank for rank in self._ready if state[by_rank[rank]] == READY]
        heapq.heapify(self._ready)
        self.seeded.extend(results)

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
            _log.warning("budget exceeded: %s", reason, extra=self.log_extra())
            self.events.emit(
                "podium_budget_exceeded", run=self, budget=budget, usage=self.usage, reason=reason
            )
            self.alerts.raise_alert(
                Alert(
                    name="budget_exceeded",
                    message=f"workflow {self.workflow.name!r} run {self.id}: budget exceeded ({reason})",
                    workflow=self.workflow.name,
                    run_id=self.id,
                )
            )
        return reason

    def cache_key(self, stage: Stage, kwargs: Mapping[str, Any], item_key: Any = None) -> str:
        """The cache key of ``stage`` called with ``kwargs`` (the built-in one, or a plugin's);
        ``item_key`` is that of an item from a mapping (see ``podium_cache_key``).

        Raises :class:`CacheKeyError` when the inputs cannot be keyed, :class:`PluginError`
        when no plugin computed a key.
        """
        policy = stage.cache
        assert policy is not None
        try:
            if self._builtin_cache_key:  # the usual case: no hook call per stage
                return stage_key(self.workflow.name, stage.name, stage.version, policy, kwargs, item_key)
            key: str | None = self.hook.podium_cache_key(
                stage=stage, kwargs=kwargs, policy=policy, run=self, item_key=item_key
            )
        except CacheKeyError:
            raise
        except Exception as error:
            raise CacheKeyError(f"stage {stage.name!r}: computing its cache key failed: {error!r}") from error
        if key is None:
            raise PluginError(f"no plugin computed the cache key of stage {stage.name!r}")
        return key

    def arguments(self, stage: Stage, ctx: Context | None = None) -> dict[str, Any]:
        """The keyword arguments of a stage body: upstream values and workflow inputs by name.

        A ``**parameter`` receives the values of the dependencies no named parameter takes;
        for an item of a mapped stage (``ctx`` says which), the item is among the arguments.
        """
        if ctx is not None and ctx._item >= 0:
            assert self._fans is not None
            fan = self._fans[self.plan.index[stage.name]]
            assert fan is not None
            return item_arguments(self, stage, fan, ctx._item)
        i = self.plan.index[stage.name]
        return stage_arguments(self._argument_specs[i], stage.name, self.results, self.inputs)

    def log_extra(self, stage: str | None = None) -> dict[str, Any]:
        """The ``extra`` of a log record about this run (and one of its stages)."""
        return {"run_id": self.id, "workflow": self.workflow.name, "stage": stage}

    # ------------------------------------------------------------------ the loop

    async def execute(self) -> RunResult:
        """Run to completion and return the result (also after a timeout or :meth:`cancel`).

        When the task awaiting this is cancelled from outside, the running stages are
        cancelled and awaited (no task is left behind), the result is recorded in
        :attr:`result` and announced by ``podium_workflow_ended``, and the
        cancellation propagates.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._done = loop.create_future()
        self.events.emit("podium_workflow_started", run=self)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("run started", extra=self.log_extra())
        for seeded in self.seeded:
            stage = self.plan.stages[self.plan.index[seeded.name]]
            self.events.emit("podium_stage_ended", run=self, stage=stage, result=seeded)
        for i in self.plan.order:
            if self._waiting[i] == 0 and self._state[i] == PENDING:
                self._make_ready(i)
        self._pump()
        timeout = self.workflow.timeout
        cancelled = False
        try:
            if timeout is None:
                await self._done
            else:
                async with asyncio.timeout(timeout):
                    await self._done
        except TimeoutError:
            cancelled = await self._stop(f"workflow timed out after {timeout}s", RunStatus.TIMED_OUT)
        except asyncio.CancelledError:
            await self._stop("the run was cancelled", RunStatus.CANCELLED)
            cancelled = True
        result = self._finish()
        if cancelled:
            raise asyncio.CancelledError
        return result

    def finish_unstarted(self, reason: str) -> RunResult:
        """End a run whose task was cancelled before it could start: status cancelled, every
        stage skipped with ``reason``, announced like any other run."""
        if self.result is not None:
            return self.result
        self._status = RunStatus.CANCELLED
        self._halt_reason = self._halt_reason or reason  # the caller's reason, when it gave one
        self.events.emit("podium_workflow_started", run=self)
        return self._finish()

    def _pump(self) -> None:
        """Start ready stages while the cap allows; resolve the run when nothing is left."""
        ready = self._ready
        running = self._running
        if self._halt_reason is not None:
            while ready:
                self._skip_and_propagate(self._pop_ready(), self._halt_reason)
        budgeted = self.workflow.budget is not None
        limit = self._limit
        by_rank = self._by_rank
        launch = self._launch
        if ready and len(running) < limit:
            # The stages started in one turn of the loop share their start time: none of
            # their bodies runs before the turn ends, and a fan-out reads the clock once.
            started_at, t0 = datetime.now(UTC), time.perf_counter()
            while ready and len(running) < limit:
                if budgeted and self.check_budget() is not None:
                    reason = f"budget exceeded: {self._budget_breach}"
                    while ready:
                        self._skip_and_propagate(self._pop_ready(), reason)
                    break
                launch(by_rank[heappop(ready)], started_at, t0)
        if not running and not ready and not self._superseded:
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)

    def _launch(self, i: int, started_at: datetime, t0: float) -> None:
        if self._fans is not None and self.plan.mapped_over[i] >= 0:
            fan = self._next_items(i)
            if fan is not None:
                start_items(self, i, fan)
            return
        stage = self.plan.stages[i]
        self._state[i] = RUNNING
        visit = self._visits[i] = self._visits[i] + 1
        path = self.paths[i]
        if path.inline_hits and self._serve_from_cache(i, stage, visit):
            return
        ctx: Context | None = None
        body: Coroutine[Any, Any, Any] | None = None
        if path.bare:
            kwargs = stage_arguments(self._argument_specs[i], stage.name, self.results, self.inputs)
            if stage.context_parameter is not None:
                ctx = kwargs[stage.context_parameter] = Context(self, stage, visit)
            try:
                body = stage.fn(**kwargs)
            except Exception:  # calling it failed outright: let run_stage report that
                body = None
        bare = body is not None
        if body is None:
            ctx = Context(self, stage, visit)
            body = (run_stored_stage if path.stored else run_stage)(self, stage, ctx, path, started_at, t0)
        self._unstarted[i] = body
        self._running[i] = self._loop.create_task(
            self._drive(i, stage, body, ctx, started_at, t0, bare, visit), name=f"podium:{stage.name}"
        )

    async def _drive(
        self,
        i: int,
        stage: Stage,
        body: Coroutine[Any, Any, Any],
        ctx: Context | None,
        started_at: datetime,
        t0: float,
        bare: bool,
        visit: int,
    ) -> None:
        """A stage's task: its body (or :func:`run_stage`), then its settling, in the task.

        Settling at the end of the task, instead of in a done-callback, saves a trip
        through the event loop per stage. What the stage was launched with comes as
        arguments (the coroutine's frame holds them): a tuple of them is made only when
        the stage did not simply succeed.
        """
        del self._unstarted[i]
        try:
            outcome = await body
        except asyncio.CancelledError:
            self._ended(asyncio.current_task(), i, (ctx, started_at, t0, bare, visit), cancelled=True)
            raise
        except BaseException as error:  # KeyboardInterrupt and the like are recorded, then go on
            self._ended(asyncio.current_task(), i, (ctx, started_at, t0, bare, visit), error=error)
            if not isinstance(error, Exception):
                raise
            return
        if bare and not self._superseded:
            # The hot path, inlined: a bare body's success settles plainly, and the loop
            # needs pumping only when stages wait or nothing runs any more.
            name = stage.name
            usage, saved = (ZERO_USAGE, ZERO_USAGE) if ctx is None else (ctx.usage, ctx.saved)
            # Positional, as in podium.running.execution.succeeded: attrs' keywords cost more.
            result = StageResult(
                name, _SUCCEEDED, outcome, None, None, 1, started_at, datetime.now(UTC),
                time.perf_counter() - t0, usage, saved, None, visit, False, None,
            )  # fmt: skip
            del self._running[i]
            self.results[name] = result
            self.history.append(result)
            state = self._state
            state[i] = SUCCEEDED
            releases = self._releases[i]
            if releases:
                j = releases[0]
                waiting = self._waiting
                if len(releases) == 1 and state[j] == PENDING and waiting[j] > 1:
                    waiting[j] -= 1  # a join still waiting for others: nothing else to decide
                else:
                    self._propagate(i, result)
            if self._ready or not self._running:
                self._pump()
            return
        self._ended(asyncio.current_task(), i, (ctx, started_at, t0, bare, visit), outcome=outcome)

    def _ended(
        self,
        task: asyncio.Task[Any] | None,
        i: int,
        launch: _Launch,
        *,
        outcome: Any = None,
        error: BaseException | None = None,
        cancelled: bool = False,
    ) -> None:
        """Record how a stage's task ended (for a bare body, anything but a plain success)."""
        stage = self.plan.stages[i]
        superseded = self._superseded.pop(task, None) if self._superseded and task is not None else None
        if superseded is None:
            if self._running.get(i) is not task:
                return  # already recorded
            del self._running[i]
        ctx, started_at, t0, bare, visit = launch
        if cancelled:
            reason = superseded if superseded is not None else self._halt_reason or "cancelled"
            result = self._interrupted(stage, StageStatus.CANCELLED, launch, reason=reason)
            self.events.emit("podium_stage_ended", run=self, stage=stage, result=result)
        elif error is not None:
            if bare and isinstance(error, Exception):
                result = bare_failure(self, stage, visit, ctx, started_at, t0, error)
            else:  # a BaseException escaping a stage body, e.g. KeyboardInterrupt
                result = self._interrupted(stage, StageStatus.FAILED, launch, error=error)
        elif bare:
            name = stage.name
            usage, saved = (ctx.usage, ctx.saved) if ctx is not None else (ZERO_USAGE, ZERO_USAGE)
            result = succeeded(name, outcome, 1, started_at, t0, usage, saved, visit)
        else:
            result = outcome
        if superseded is not None:
            self.history.append(result)  # a stale visit: kept in the history, not as the latest
        else:
            self._settle(i, result)
            if result.status is _FAILED and self.workflow.fail_fast and self._halt_reason is None:
                self._halt(f"fail_fast: stage {stage.name!r} failed")
        self._pump()

    def _serve_from_cache(self, i: int, stage: Stage, visit: int) -> bool:
        """Settle stage ``i`` from an in-process cache at once, with no task; False on a miss.

        A miss (or a key that cannot be computed) goes the usual way, where it is counted,
        shared with identical calls in flight, or reported.
        """
        t0 = time.perf_counter()
        try:
            key = self.cache_key(stage, self.arguments(stage))
        except (CacheKeyError, PluginError):
            return False
        stored = self.result_cache.peek(key)
        if stored is None:
            return False
        value, saved = stored
        now = datetime.now(UTC)
        # Positional, as in podium.running.execution.succeeded: this is a hot path.
        result = StageResult(
            stage.name, StageStatus.CACHED, value, None, None, 0, now, now, time.perf_counter() - t0,
            ZERO_USAGE, saved, None, visit, False,
        )  # fmt: skip
        if saved:
            self.add_saved(saved)
        events = self.events
        if events.active:
            events.emit("podium_cache_hit", run=self, stage=stage, kind="stage", key=key, saved=saved)
            events.emit("podium_stage_ended", run=self, stage=stage, result=result)
        self._settle(i, result)
        return True

    @staticmethod
    def _interrupted(
        stage: Stage,
        status: StageStatus,
        launch: _Launch,
        *,
        reason: str | None = None,
        error: BaseException | None = None,
    ) -> StageResult:
        """The result of a visit that did not end by itself: its real start, duration and usage."""
        ctx, started_at, t0, _, visit = launch
        return StageResult(
            stage.name,
            status,
            error=error,
            reason=reason,
            attempts=ctx.attempt if ctx is not None else 1,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            duration_s=time.perf_counter() - t0,
            usage=ctx.usage if ctx is not None else ZERO_USAGE,
            saved=ctx.saved if ctx is not None else ZERO_USAGE,
            visit=visit,
        )

    def _emit_skipped(self, stage: Stage, result: StageResult) -> None:
        self.events.emit("podium_stage_ended", run=self, stage=stage, result=result)

    _announce = _emit_skipped

    def _item_ready(self, j: int, k: int, fan: Fan) -> None:
        # Nothing waits and a slot is free: start it now (what the ready heap would do next).
        if (
            not self._ready
            and len(self._running) < self._limit
            and self._halt_reason is None
            and (self.workflow.budget is None or self.check_budget() is None)
        ):
            start_item(self, j, k, fan)
            return
        super()._item_ready(j, k, fan)

    def _failed(self, stage: Stage) -> None:
        if self.workflow.fail_fast and self._halt_reason is None:
            self._halt(f"fail_fast: stage {stage.name!r} failed")

    def _supersede(self, i: int, reason: str) -> None:
        task = self._running.pop(i)
        self._superseded[task] = reason
        self._cancel(i, task)

    def _halt(self, reason: str) -> None:
        """Start nothing more and cancel what runs (fail_fast, timeout, cancellation)."""
        self._halt_reason = reason
        for key, task in list(self._running.items()):
            if isinstance(key, int):
                self._cancel(key, task)
            else:  # an item of a mapped stage: its own callback records it
                task.cancel()

    def _cancel(self, i: int, task: asyncio.Task[Any]) -> None:
        # A task cancelled before its first step never runs its driver (the coroutine is
        # thrown into before it starts): such a visit is closed and recorded here.
        body = self._unstarted.pop(i, None)
        if body is not None:
            task.add_done_callback(functools.partial(self._cancelled_before_start, i, self._visits[i], body))
        task.cancel()

    def _cancelled_before_start(
        self, i: int, visit: int, body: Coroutine[Any, Any, Any], task: asyncio.Task[Any]
    ) -> None:
        body.close()
        now = datetime.now(UTC), time.perf_counter()
        self._ended(task, i, (None, *now, False, visit), cancelled=True)

    async def _stop(self, reason: str, status: RunStatus) -> bool:
        """Halt and wait for every stage task to end; returns whether we were cancelled meanwhile."""
        if self._status is None:
            self._status = status
        if self._halt_reason is None:
            self._halt(reason)
        interrupted = False
        while True:
            tasks = [t for t in (*self._running.values(), *self._superseded) if not t.done()]
            if not tasks:
                return interrupted
            try:
                await asyncio.wait(tasks)
            except asyncio.CancelledError:
                # Cancelled again while cleaning up: still wait, leaving stage tasks behind is worse.
                interrupted = True
                for task in tasks:
                    task.cancel()

    def _finish(self) -> RunResult:
        finished_at = datetime.now(UTC)
        reason = self._halt_reason or (
            f"budget exceeded: {self._budget_breach}" if self._budget_breach else "not reached"
        )
        state = self._state
        if PENDING in state or READY in state or MAPPING in state:
            self._skip_undecided_items(reason)
            for i in self.plan.order:
                if state[i] in (PENDING, READY):
                    self._skip_and_propagate(i, reason)
        ordered, status, ended_because = run_outcome(
            self.plan,
            self.results,
            self._status,
            budget=self.workflow.budget,
            first_breach=self._budget_breach,
            halt_reason=self._halt_reason,
            usage=self.usage,
            elapsed_s=self.elapsed_s,
        )
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
            reason=ended_because,
        )
        self.result = result
        if self.uses_estimates:
            self._estimator.learn(self.workflow, self.history)
        self.events.emit("podium_workflow_ended", run=self, result=result)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("run finished: %s", status, extra=self.log_extra())
        return result
