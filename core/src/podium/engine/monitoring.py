"""An engine's monitoring: the run store, live KPIs, alert rules, stored alerts.

:class:`Monitor` is an ordinary plugin object each engine registers on its plugin
manager (and removes when it stops): it observes agent calls, cache lookups, doc
fetches and run ends, keeps the runs this engine ended lately (:class:`LiveWindow`, for
``engine.kpis()`` and the window rules when there is no store), opens the run store and
keeps its heartbeat, and evaluates the alert rules when a run ends. It is also an alert
sink: every alert sent is kept in the store, and so is every change of an agent's
circuit breaker (for dashboards in other processes).

Nothing here is on a stage's path: without a store, stages run as they always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import time
from array import array
from collections import deque
from collections.abc import Awaitable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from podium.contract.run_store import RunStore
from podium.definition.fingerprint import fingerprint_of
from podium.definition.plan import Plan
from podium.definition.workflow import Stage, Workflow
from podium.foundation.errors import PodiumError
from podium.foundation.markers import hookimpl
from podium.foundation.redaction import redact_url
from podium.running.agents import AgentCall
from podium.running.recorder import RunFacts, RunRecorder, StoreHealth
from podium.running.scheduler import RunState
from podium.running.strategy import Strategy
from podium.values.alert_rules import run_alerts, window_alerts
from podium.values.alerts import Alert
from podium.values.docs import DocBundle
from podium.values.kpis import CallSample, StageSample, compute_kpis
from podium.values.model import RunResult, RunStatus, Usage
from podium.values.records import BreakerChange, RunFilter, RunRecord

if TYPE_CHECKING:
    from podium.engine.engine import Engine

_log = logging.getLogger("podium.store")

#: The live window keeps at most this many runs, and visits of stages over all of them.
LIVE_RUNS = 10_000
LIVE_SAMPLES = 200_000


#: A run's figures as the live window keeps them, until a record is asked for (making a
#: record per run would cost more than the bookkeeping of a short run's stages).
_RUN_FIELDS = (
    "run_id", "workflow", "status", "started_at", "strategy", "finished_at", "duration_s", "usage", "saved",
    "reason", "budget_tokens", "budget_cost_usd", "docs", "cache",
)  # fmt: skip
_NO_FACTS = RunFacts(keep_calls=False)


class LiveWindow:
    """The runs an engine ended lately, with their stage and agent-call samples, bounded.

    Only what KPIs need is kept: a run's record (made when first asked for), one sample
    per stage visit and agent call; never the values. A run's stage visits are kept as
    columns (names, statuses, durations), not as an object per visit: a full window holds
    200,000 visits, and objects that many would make every full pass of the garbage
    collector, in every run of the process, visit each of them.
    """

    def __init__(self, runs: int = LIVE_RUNS, samples: int = LIVE_SAMPLES) -> None:
        self._entries: deque[list[Any]] = deque()
        self._max_runs = runs
        self._max_samples = samples
        self._samples = 0

    def add(self, run: RunState, result: RunResult, facts: RunFacts) -> None:
        workflow = run.workflow.name
        # The statuses themselves (str enums): reading ``.value`` of each costs more than the column.
        history = result.history
        stages = (
            tuple([r.name for r in history]),
            tuple([r.status for r in history]),
            array("d", [r.duration_s for r in history]),
        )
        calls: list[CallSample] = [(workflow, agent, failed) for agent, failed in facts.failed_calls]
        budget = run.workflow.budget
        started = run.started_at.timestamp()
        figures = (
            run.id, workflow, result.status.value, started, run.strategy.name, result.finished_at.timestamp(),
            result.duration_s, result.usage, result.saved, result.reason,
            budget.tokens if budget is not None else None, budget.cost_usd if budget is not None else None,
            facts.docs, facts.cache,
        )  # fmt: skip
        # [the run's record or its figures, workflow, started_at, stage samples, call samples]
        self._entries.append([figures, workflow, started, stages, calls])
        self._samples += len(history) + len(calls)
        while len(self._entries) > self._max_runs or (
            self._samples > self._max_samples and len(self._entries) > 1
        ):
            old = self._entries.popleft()
            self._samples -= len(old[3][0]) + len(old[4])

    def select(
        self, since: float | None = None, workflow: str | None = None
    ) -> list[tuple[RunRecord, Iterable[StageSample], list[CallSample]]]:
        """The runs ended since ``since`` (of ``workflow``), each with an iterable of its
        stage samples (made as it is read) and its agent-call samples."""
        chosen: list[tuple[RunRecord, Iterable[StageSample], list[CallSample]]] = []
        for entry in self._entries:
            if (since is not None and entry[2] < since) or (workflow is not None and entry[1] != workflow):
                continue
            if isinstance(entry[0], tuple):
                fields = dict(zip(_RUN_FIELDS, entry[0], strict=True))
                fields["cache"] = {kind: (h, m) for kind, (h, m) in (fields["cache"] or {}).items()}
                entry[0] = RunRecord(**fields)
            names, statuses, durations = entry[3]
            stages = zip(itertools.repeat(entry[1]), names, statuses, durations)
            chosen.append((entry[0], stages, entry[4]))
        return chosen


class Monitor:
    """One engine's monitoring (see the module docstring)."""

    def __init__(self, engine: Engine, store_url: str | None) -> None:
        self.engine = engine
        settings = engine.config.settings
        self.rules = settings.alerts
        self.targets = settings.slo
        self.store_settings = settings.run_store
        self.store_url = store_url
        #: The run store, once opened (``None``: runs are not recorded).
        self.store: RunStore | None = None
        self.health = StoreHealth(redact_url(store_url) if store_url else "")
        self.live = LiveWindow()
        self._facts: dict[RunState, RunFacts] = {}
        # Per stored run that ended: the task writing its end and evaluating the alert rules.
        self._after: dict[RunState, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Monitor store={self.health.url or None}>"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register on the engine (events and alert sink); open the store, if any."""
        engine = self.engine
        engine.pm.register(self, name=f"podium.monitor.{id(engine):x}")
        engine.alerts.sinks.append(self)
        if self.store_url is None:
            return
        store = engine.hook.podium_run_store(url=self.store_url, config=engine.config)
        if store is None:
            raise PodiumError(
                f"no installed plugin provides the run store for {redact_url(self.store_url)!r} "
                "(built in: sqlite:///path)"
            )
        try:
            interrupted = await store.open()
        except Exception as error:
            self.health.fail("opening it", error)
            return
        if interrupted:
            _log.warning(
                "run store %s: %d run(s) found interrupted (their process died): %s",
                store.url,
                len(interrupted),
                ", ".join(interrupted),
            )
        self.store = store
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="podium-heartbeat")

    async def drain(self) -> None:
        """Wait for the work that follows runs (their final records, alert rules)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the heartbeat, close the store, leave the engine's plugin manager."""
        await self.drain()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self.store is not None:
            try:
                await self.store.close()
            except Exception as error:
                self.health.fail("closing it", error)
        if self.engine.pm.is_registered(self):
            self.engine.pm.unregister(self)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.store_settings.heartbeat)
            running = [run.id for run in self._facts if run.recorder is not None]
            store = self.store
            if running and store is not None and not self.health.broken:
                try:
                    await store.heartbeat(running)
                except Exception as error:
                    self.health.fail("marking runs as still running", error)

    # ------------------------------------------------------------------ runs

    def recorder(
        self,
        workflow: Workflow,
        plan: Plan,
        strategy: Strategy,
        *,
        resumed_from: str | None = None,
    ) -> RunRecorder | None:
        """The store link of a run about to be created, or ``None`` without a (working) store."""
        if self.store is None or self.health.broken:
            return None
        fingerprint, fingerprint_hash = fingerprint_of(workflow, plan, strategy.name)
        return RunRecorder(
            self.store,
            self.health,
            RunFacts(keep_calls=True),
            serializer=self.store_settings.serializer,
            commit_timeout=self.store_settings.commit_timeout,
            definition=fingerprint,
            definition_hash=fingerprint_hash,
            target=workflow.source,
            resumed_from=resumed_from,
        )

    def run_created(self, run: RunState) -> Awaitable[None] | None:
        """Follow a new run; with a store, an awaitable recording that it starts."""
        recorder = run.recorder
        if recorder is None:
            return None  # its facts are made by the first event that has something to count
        self._facts[run] = recorder.facts
        return recorder.start(run)

    def _facts_of(self, run: RunState) -> RunFacts | None:
        if run.engine is not self.engine:
            return None
        facts = self._facts.get(run)
        if facts is None:
            facts = self._facts[run] = RunFacts(keep_calls=False)
        return facts

    @hookimpl
    def podium_agent_call_ended(self, run: RunState, stage: Stage | None, call: AgentCall) -> None:
        facts = self._facts_of(run)
        if facts is not None:
            facts.agent_called(run, stage, call, self.store_settings.capture_content)

    @hookimpl
    def podium_cache_hit(self, run: RunState, kind: str, saved: Usage) -> None:
        facts = self._facts_of(run)
        if facts is not None:
            facts.cache_lookup(kind, hit=True)

    @hookimpl
    def podium_cache_miss(self, run: RunState, kind: str) -> None:
        facts = self._facts_of(run)
        if facts is not None:
            facts.cache_lookup(kind, hit=False)

    @hookimpl
    def podium_doc_fetch_ended(self, run: RunState, bundle: DocBundle) -> None:
        facts = self._facts_of(run)
        if facts is not None:
            facts.docs_fetched(bundle)

    @hookimpl
    def podium_workflow_ended(self, run: RunState, result: RunResult) -> None:
        if run.engine is not self.engine:
            return
        facts = self._facts.pop(run, _NO_FACTS)
        self.live.add(run, result, facts)
        if run.recorder is None:  # no store: the rules need nothing but this process's runs
            for alert in self._alerts_of(run, result, facts):
                self.engine.alerts.raise_alert(alert)
            return
        self._after[run] = self._track(self._after_stored_run(run, result, facts))

    def finished(self, run: RunState) -> Awaitable[None] | None:
        """What to await until a stored run's end is recorded (``engine.run`` returns after
        that), or ``None``."""
        task = self._after.pop(run, None)
        return None if task is None else asyncio.shield(task)

    def _run_alerts(self, run: RunState, result: RunResult) -> list[Alert]:
        budget = run.workflow.budget
        limit = self.rules.workflow_duration
        if (
            budget is None
            and (limit is None or result.duration_s <= limit)
            and self.rules.token_budget is True
        ):
            return []  # the common case, decided without building anything
        return run_alerts(
            self.rules,
            result.workflow,
            result.run_id,
            result.duration_s,
            result.usage.total_tokens,
            budget.tokens if budget is not None else None,
            tokens_already_alerted=result.status is RunStatus.BUDGET_EXCEEDED,
        )

    def _alerts_of(self, run: RunState, result: RunResult, facts: RunFacts) -> list[Alert]:
        alerts = self._run_alerts(run, result)
        if self._window_may_alert(result, facts):
            entries = self.live.select(time.time() - self.rules.window, result.workflow)
            runs = [entry[0] for entry in entries]
            calls = list(itertools.chain.from_iterable(entry[2] for entry in entries))
            alerts += window_alerts(result.workflow, runs, calls, self.rules)
        return alerts

    @staticmethod
    def _window_may_alert(result: RunResult, facts: RunFacts) -> bool:
        # The window's rates can only get worse through a run that failed or a call that did.
        return not result.ok or any(failed for _, failed in facts.failed_calls)

    async def _after_stored_run(self, run: RunState, result: RunResult, facts: RunFacts) -> None:
        """Record the run's end, then evaluate the alert rules over the store's window."""
        assert run.recorder is not None
        try:
            await run.recorder.finish(run, result)
            alerts = self._run_alerts(run, result)
            if self._window_may_alert(result, facts):
                alerts += await self._window_alerts(result.workflow)
            for alert in alerts:
                await self._raise(alert)
        except Exception:
            _log.exception("recording the end of run %s or evaluating its alert rules failed", run.id)
        finally:
            self._after.pop(run, None)

    async def _window_alerts(self, workflow: str) -> list[Alert]:
        since = time.time() - self.rules.window
        store = self.store
        if store is not None and not self.health.broken:
            where = RunFilter(since=since, workflow=workflow)
            try:
                runs = await store.runs(where)
                calls = await store.call_samples(where)
            except Exception as error:
                self.health.fail("reading the alert window", error)
            else:
                return window_alerts(workflow, runs, calls, self.rules)
        entries = self.live.select(since, workflow)
        runs = [entry[0] for entry in entries]
        calls = list(itertools.chain.from_iterable(entry[2] for entry in entries))
        return window_alerts(workflow, runs, calls, self.rules)

    async def _raise(self, alert: Alert) -> None:
        """Raise ``alert`` unless it was raised within the cooldown, here or (through the
        store) by another process."""
        store = self.store
        if store is not None and not self.health.broken:
            where = RunFilter(since=time.time() - self.rules.cooldown, workflow=alert.workflow, limit=100)
            try:
                if any(recent.key == alert.key for recent in await store.alerts(where)):
                    return
            except Exception as error:
                self.health.fail("reading recent alerts", error)
        self.engine.alerts.raise_alert(alert)

    # ------------------------------------------------------------------ the alert sink

    def send(self, alert: Alert) -> Awaitable[None] | None:
        """Keep every alert sent in the store (a sink beside the log and webhooks)."""
        store = self.store
        if store is None or self.health.broken:
            return None
        return self._keep("keeping an alert", store.record_alert(alert))

    async def _keep(self, what: str, write: Awaitable[None]) -> None:
        try:
            await write
        except Exception as error:
            self.health.fail(what, error)

    # ------------------------------------------------------------------ breakers

    @hookimpl
    def podium_breaker_changed(
        self, run: RunState | None, agent: str, state: str, previous: str, reason: str
    ) -> None:
        store = self.store
        if store is None or self.health.broken or (run is not None and run.engine is not self.engine):
            return
        managed = self.engine.agents.managed(agent) if agent in self.engine.agents else None
        change = BreakerChange(
            agent=agent,
            state=state,
            previous=previous,
            reason=reason,
            changed_at=time.time(),
            provider=managed.provider if managed else "",
            model=managed.model if managed else "",
            run_id=run.id if run is not None else None,
            workflow=run.workflow.name if run is not None else None,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        self._track(self._keep("keeping a breaker change", store.record_breaker_change(change)))

    def _track(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` beside the runs; :meth:`drain` waits for it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ live KPIs

    def kpis(self, since: float | None = None, workflow: str | None = None) -> dict[str, Any]:
        """KPIs over the runs this engine ended (within the live window's bounds)."""
        entries = self.live.select(since, workflow)
        return compute_kpis(
            [record for record, _, _ in entries],
            itertools.chain.from_iterable(stages for _, stages, _ in entries),
            itertools.chain.from_iterable(calls for _, _, calls in entries),
            self.targets,
        )


__all__ = ["LIVE_RUNS", "LIVE_SAMPLES", "LiveWindow", "Monitor"]
