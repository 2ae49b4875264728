"""Resuming a stored run: which of its results can be reused, and the run that continues it.

A resume is a new run (its ``resumed_from`` names the old one) that starts with the old
run's committed results settled, so those stages spend nothing again; the stages that
had not finished, and everything after them, run. It is refused, unless forced, when the
workflow's definition changed since the old run (the message says what changed); forced,
it reuses only the stages whose definition, and all their upstream stages', did not
change. A stage whose stored value cannot be decoded here (stored with pickle, a class
not imported, ...) re-runs, and so does one whose route looped back, and a mapped stage
(its items run again; what it is mapped over is reused).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.contract.run_store import RunStore
from podium.definition.fingerprint import definition_changes, fingerprint_of, unchanged_stages
from podium.definition.loader import load_target
from podium.definition.plan import Plan
from podium.definition.workflow import Workflow
from podium.foundation.errors import ResumeError
from podium.running.recorder import RESTORED
from podium.values.model import ZERO_USAGE, StageResult, StageStatus
from podium.values.records import RESUMABLE, RUNNING, RunFilter, RunRecord, VisitRecord
from podium.values.serialization import decode

if TYPE_CHECKING:
    from podium.running.scheduler import RunState

_log = logging.getLogger("podium.store")
_OK = ("succeeded", "cached")


async def find_run(store: RunStore, run_id: str) -> RunRecord:
    """The stored run with this id, or the only one whose id starts with it."""
    record = await store.get_run(run_id)
    if record is not None:
        return record
    matches = await store.runs(RunFilter(id_prefix=run_id, limit=3)) if run_id else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ResumeError(
            f"run id {run_id!r} is ambiguous in {store.url}: {', '.join(m.run_id for m in matches)}"
        )
    raise ResumeError(f"no run {run_id!r} in {store.url} (podium runs lists them)")


def workflow_of(record: RunRecord) -> tuple[Workflow, tuple[Any, ...]]:
    """The workflow a run was loaded from (its recorded target) and the hook modules beside it."""
    if not record.target:
        raise ResumeError(
            f"run {record.run_id} of {record.workflow!r} records no target it was loaded from "
            "(it was run from code): pass the workflow, engine.resume(run_id, workflow)"
        )
    loaded = load_target(record.target)
    return loaded.workflow, loaded.plugins


def stored_inputs(record: RunRecord, overrides: Mapping[str, Any], allow_pickle: bool) -> dict[str, Any]:
    """The run's inputs as stored, with ``overrides`` for those that could not be kept."""
    inputs: dict[str, Any] = {}
    missing = []
    for name, encoded in record.inputs.items():
        if name in overrides:
            continue
        try:
            inputs[name] = decode(encoded, allow_pickle=allow_pickle)
        except ValueError as error:
            missing.append(f"{name!r} ({error})")
    if missing:
        raise ResumeError(
            f"run {record.run_id}: input(s) {', '.join(missing)} cannot be restored; give them again "
            "(podium resume RUN_ID -i NAME=VALUE)"
        )
    unknown = sorted(set(overrides) - set(record.inputs))
    if unknown:
        raise ResumeError(
            f"run {record.run_id} had no input(s) {', '.join(map(repr, unknown))}; -i only replaces inputs "
            "that could not be stored"
        )
    return {**inputs, **overrides}


async def check_resumable(store: RunStore, record: RunRecord, force: bool) -> None:
    if record.status == RUNNING:
        raise ResumeError(
            f"run {record.run_id} is still running (pid {record.pid} on {record.host}); "
            "cancel it or wait for it to end"
        )
    if record.status not in RESUMABLE:
        raise ResumeError(f"run {record.run_id} {record.status}: there is nothing to resume")
    later = await store.runs(RunFilter(resumed_from=record.run_id, limit=1))
    if later and not force:
        raise ResumeError(
            f"run {record.run_id} was resumed already, as run {later[0].run_id}: resume that one "
            "(or pass --force to resume this one again)"
        )


async def reusable_stages(
    store: RunStore, record: RunRecord, workflow: Workflow, plan: Plan, strategy: str, force: bool
) -> set[str] | None:
    """The stages whose stored results may be reused (``None``: all of them)."""
    fingerprint, fingerprint_hash = fingerprint_of(workflow, plan, strategy)
    if fingerprint_hash == record.definition_hash:
        return None
    old = await store.definition(record.definition_hash) or {}
    changes = definition_changes(old, fingerprint) or ["its fingerprint is missing from the store"]
    if not force:
        listed = "\n".join(f"  - {change}" for change in changes)
        raise ResumeError(
            f"run {record.run_id}: workflow {workflow.name!r} changed since it ran:\n{listed}\n"
            "resume with --force (force=True) to reuse only the stages that did not change, "
            "and re-run the rest"
        )
    same = unchanged_stages(old, fingerprint, plan)
    _log.warning(
        "resuming run %s despite changes (%s); reusing only %s",
        record.run_id,
        "; ".join(changes),
        sorted(same),
    )
    return same


def restored_results(
    record: RunRecord, visits: list[VisitRecord], plan: Plan, allowed: set[str] | None, allow_pickle: bool
) -> list[StageResult]:
    """The stored results a resume settles, in dependency order.

    A stage is restored when its latest visit succeeded and was committed with a value
    that decodes here, its route (if any) went forward, and every stage it ``needs`` is
    restored too (a ``needs_any`` branch is restored, or had been skipped).
    """
    latest: dict[str, VisitRecord] = {}
    for stored in visits:
        if stored.stage in plan.index and stored.visit >= latest.get(stored.stage, stored).visit:
            latest[stored.stage] = stored
    restored: dict[str, StageResult] = {}
    now = datetime.now(UTC)
    for i in plan.order:
        stage = plan.stages[i]
        if plan.mapped_over[i] >= 0:
            continue  # a visit is one of its items, not the stage's gathered result
        visit = latest.get(stage.name)
        if visit is None or visit.status not in _OK or visit.value is None:
            continue
        if allowed is not None and stage.name not in allowed:
            continue
        dependents = {plan.stages[j].name for j in plan.dependents[i]}
        if visit.route is not None and not set(visit.route) <= dependents:
            continue  # it looped back: the loop is decided again
        if any(dep not in restored for dep in stage.needs) or any(
            dep not in restored and (latest.get(dep) is None or latest[dep].status != "skipped")
            for dep in stage.needs_any
        ):
            continue
        try:
            value = decode(visit.value, allow_pickle=allow_pickle)
        except ValueError as error:
            _log.info("stage %r of run %s re-runs: %s", stage.name, record.run_id, error)
            continue
        restored[stage.name] = StageResult(
            stage.name,
            StageStatus.CACHED,
            value=value,
            reason=RESTORED.format(run_id=record.run_id),
            started_at=now,
            finished_at=now,
            usage=ZERO_USAGE,
            saved=visit.usage,
            route=visit.route,
            visit=visit.visit,
        )
    return list(restored.values())


async def seed_resumed(run: RunState, store: RunStore, record: RunRecord, allowed: set[str] | None) -> None:
    """Settle ``run`` with what ``record`` committed (before it starts)."""
    allow_pickle = store.serializer == "pickle"
    results = restored_results(record, await store.visits(record.run_id), run.plan, allowed, allow_pickle)
    run.seed(results)


__all__ = [
    "check_resumable",
    "find_run",
    "restored_results",
    "reusable_stages",
    "seed_resumed",
    "stored_inputs",
    "workflow_of",
]
