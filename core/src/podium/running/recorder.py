"""Recording a run as it goes: its facts (agent calls, cache and doc counters) and, with a
run store, each stage visit committed before its dependents start.

:class:`RunFacts` is what every run collects for KPIs and alert rules, store or not.
:class:`RunRecorder` is one run's link to the run store: the engine makes one per run
when a store is configured, and the stage path then commits every visit of a stage that
ran from inside the stage's task (``run_stored_stage``), so a process killed a moment
later loses nothing that finished. A store that fails is a warning, once per engine, and
the runs go on unrecorded: :class:`StoreHealth` remembers it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.values.model import StageResult, StageStatus
from podium.values.providers import Prompt
from podium.values.records import RUNNING, AgentCallRecord, DocCounters, RunRecord, VisitRecord
from podium.values.serialization import StoredValue, encode

if TYPE_CHECKING:
    from podium.contract.run_store import RunStore
    from podium.definition.workflow import Stage
    from podium.running.agents import AgentCall
    from podium.running.scheduler import RunState
    from podium.values.docs import DocBundle
    from podium.values.model import RunResult

_log = logging.getLogger("podium.store")

#: The reason a visit restored from an earlier run carries (its ``cache`` is ``restored``).
RESTORED = "restored from run {run_id}"


class StoreHealth:
    """Whether an engine's run store still works; the first failure is warned about, once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.broken = False

    def fail(self, what: str, error: BaseException | str) -> None:
        if self.broken:
            return
        self.broken = True
        _log.warning(
            "the run store %s failed (%s: %s); runs go on without being recorded",
            self.url,
            what,
            error if isinstance(error, str) else _error_text(error),
            extra={"run_id": None, "workflow": None, "stage": None},
        )


_NO_DOCS = DocCounters()
_HOST = socket.gethostname()


class RunFacts:
    """What one run did besides its stages' results: agent calls, cache lookups, doc fetches.

    Made for every run, so it allocates nothing until a run has something to count.
    """

    __slots__ = ("cache", "calls", "docs", "failed_calls", "keep_calls")

    def __init__(self, keep_calls: bool) -> None:
        #: Cache hits and misses by kind.
        self.cache: dict[str, list[int]] | None = None
        self.docs = _NO_DOCS
        #: Agent calls (records, kept only for a store) and their (agent, failed) samples.
        self.calls: list[AgentCallRecord] = []
        self.failed_calls: list[tuple[str, bool]] = []
        self.keep_calls = keep_calls

    def cache_lookup(self, kind: str, hit: bool) -> None:
        if self.cache is None:
            self.cache = {}
        counts = self.cache.setdefault(kind, [0, 0])
        counts[0 if hit else 1] += 1

    def cache_counts(self) -> dict[str, tuple[int, int]]:
        return {kind: (h, m) for kind, (h, m) in (self.cache or {}).items()}

    def docs_fetched(self, bundle: DocBundle) -> None:
        self.docs = self.docs + DocCounters(
            bundle.requests_made, bundle.requests_avoided, bundle.tokens, bundle.tokens_cut
        )

    def agent_called(self, run: RunState, stage: Stage | None, call: AgentCall, capture: bool) -> None:
        failed = call.error is not None
        self.failed_calls.append((call.agent, failed))
        if not self.keep_calls:
            return
        prompt = reply = None
        if capture:
            prompt = Prompt.of(call.prompt).text
            reply = call.reply.text if call.reply is not None else None
        self.calls.append(
            AgentCallRecord(
                run_id=run.id,
                agent=call.agent,
                provider=call.provider,
                model=call.model,
                started_at=time.time() - call.duration_s,
                duration_s=call.duration_s,
                usage=call.usage,
                stage=stage.name if stage is not None else None,
                visit=run.visits(stage.name) if stage is not None else None,
                error_type=type(call.error).__qualname__ if call.error is not None else None,
                cached=call.cached,
                prompt=prompt,
                reply=reply,
                workflow=run.workflow.name,
            )
        )

    def take_calls(self, stage: str, visit: int) -> list[AgentCallRecord]:
        """The calls made by one visit, removed (they are committed with it)."""
        taken = [c for c in self.calls if c.stage == stage and c.visit == visit]
        if taken:
            self.calls = [c for c in self.calls if not (c.stage == stage and c.visit == visit)]
        return taken


def _epoch(moment: Any) -> float | None:
    return None if moment is None else float(moment.timestamp())


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _cache_state(result: StageResult, cached_path: bool) -> str | None:
    if result.status is StageStatus.CACHED:
        reason = result.reason or ""
        if reason.startswith("restored from run"):
            return "restored"
        return "coalesced" if reason.startswith("coalesced") else "hit"
    if cached_path and result.status is StageStatus.SUCCEEDED and not result.fallback:
        return "miss"
    return None


def visit_record(
    run: RunState, result: StageResult, seq: int, serializer: str, *, with_value: bool = True
) -> VisitRecord:
    """The record of one visit of ``run``; its value encoded when it succeeded."""
    value: StoredValue | None = None
    if with_value and result.ok:
        value = encode(result.value, serializer, where=f"the value of stage {result.name!r}")
    i = run.plan.index[result.name]
    return VisitRecord(
        run_id=run.id,
        stage=result.name,
        visit=result.visit,
        status=result.status.value,
        seq=seq,
        attempts=result.attempts,
        started_at=_epoch(result.started_at),
        finished_at=_epoch(result.finished_at),
        duration_s=result.duration_s,
        usage=result.usage,
        saved=result.saved,
        cache=_cache_state(result, run.paths[i].cached),
        route=result.route,
        reason=result.reason,
        error=_error_text(result.error),
        error_type=type(result.error).__qualname__ if result.error is not None else None,
        fallback=result.fallback,
        value=value,
        workflow=run.workflow.name,
    )


def run_record(
    run: RunState,
    facts: RunFacts,
    *,
    definition_hash: str,
    target: str | None,
    resumed_from: str | None,
    inputs: Mapping[str, StoredValue] | None = None,
    result: RunResult | None = None,
) -> RunRecord:
    """The record of ``run``: as it starts, or (with its ``result``) as it ended."""
    budget = run.workflow.budget
    return RunRecord(
        run_id=run.id,
        workflow=run.workflow.name,
        status=RUNNING if result is None else result.status.value,
        started_at=run.started_at.timestamp(),
        definition_hash=definition_hash,
        strategy=run.strategy.name,
        target=target,
        inputs=inputs or {},
        finished_at=None if result is None else result.finished_at.timestamp(),
        duration_s=None if result is None else result.duration_s,
        usage=run.usage,
        saved=run.saved,
        reason=None if result is None else result.reason,
        resumed_from=resumed_from,
        budget_tokens=budget.tokens if budget is not None else None,
        budget_cost_usd=budget.cost_usd if budget is not None else None,
        docs=facts.docs,
        cache=facts.cache_counts(),
        host=_HOST,
        pid=os.getpid(),
    )


class RunRecorder:
    """One run's link to the run store (see the module docstring)."""

    def __init__(
        self,
        store: RunStore,
        health: StoreHealth,
        facts: RunFacts,
        *,
        serializer: str,
        commit_timeout: float,
        definition: Mapping[str, Any],
        definition_hash: str,
        target: str | None = None,
        resumed_from: str | None = None,
    ) -> None:
        self.store = store
        self.health = health
        self.facts = facts
        self.serializer = serializer
        self.commit_timeout = commit_timeout
        self.definition = definition
        self.definition_hash = definition_hash
        self.target = target
        self.resumed_from = resumed_from
        self._seq = 0
        self._committed: set[tuple[str, int]] = set()

    async def _guarded(self, what: str, operation: Any) -> bool:
        if self.health.broken:
            operation.close()
            return False
        try:
            await asyncio.wait_for(operation, self.commit_timeout)
        except TimeoutError:
            self.health.fail(what, f"no answer within {self.commit_timeout:g}s")
            return False
        except Exception as error:
            self.health.fail(what, error)
            return False
        return True

    def _record(self, run: RunState, **state: Any) -> RunRecord:
        return run_record(
            run,
            self.facts,
            definition_hash=self.definition_hash,
            target=self.target,
            resumed_from=self.resumed_from,
            **state,
        )

    async def start(self, run: RunState) -> None:
        """Record the run as running (before its first stage starts)."""
        inputs = {
            name: encode(value, self.serializer, where=f"input {name!r}")
            for name, value in run.inputs.items()
        }
        record = self._record(run, inputs=inputs)
        # What a resume reused is this run's too, committed with its start: a kill can never
        # leave the run without the results it started from.
        restored = []
        for result in run.seeded:
            self._seq += 1
            restored.append(visit_record(run, result, self._seq, self.serializer))
        if await self._guarded(
            "recording a run's start", self.store.start_run(record, self.definition, restored)
        ):
            self._committed.update((result.name, result.visit) for result in run.seeded)

    async def commit(self, run: RunState, result: StageResult) -> None:
        """Commit one visit (and its agent calls); never raises."""
        self._seq += 1
        visit = visit_record(run, result, self._seq, self.serializer)
        calls = self.facts.take_calls(result.name, result.visit)
        if await self._guarded(f"committing stage {result.name!r}", self.store.commit_visit(visit, calls)):
            self._committed.add((result.name, result.visit))

    async def finish(self, run: RunState, result: RunResult) -> RunRecord:
        """Record how the run ended, with every visit in order; returns the run's record."""
        record = self._record(run, result=result)
        visits = [
            visit_record(
                run, visit, seq, self.serializer, with_value=(visit.name, visit.visit) not in self._committed
            )
            for seq, visit in enumerate(result.history, start=1)
        ]
        calls, self.facts.calls = self.facts.calls, []
        await self._guarded("recording a run's end", self.store.finish_run(record, visits, calls))
        return record


__all__ = ["RESTORED", "RunFacts", "RunRecorder", "StoreHealth", "run_record", "visit_record"]
