"""Records to SQLite rows and back, and the ``WHERE`` clause of a :class:`RunFilter`."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from podium.stores.schema import USAGE_FIELDS
from podium.values.alerts import Alert
from podium.values.model import ZERO_USAGE, Usage
from podium.values.records import (
    AgentCallRecord,
    BreakerChange,
    DocCounters,
    RunFilter,
    RunRecord,
    VisitRecord,
)
from podium.values.serialization import StoredValue

_NO_DOCS = DocCounters()


def _usage_names(prefix: str) -> list[str]:
    return [f"{prefix}_{name}" for name in USAGE_FIELDS]


RUN_COLUMNS = (
    "run_id", "workflow", "status", "definition_hash", "strategy", "target", "inputs_format", "inputs",
    "started_at", "finished_at", "duration_s", *_usage_names("usage"), *_usage_names("saved"), "reason",
    "resumed_from", "budget_tokens", "budget_cost_usd", "host", "pid", "docs_requests_made",
    "docs_requests_avoided", "docs_tokens", "docs_tokens_cut", "cache",
)  # fmt: skip
VISIT_COLUMNS = (
    "run_id", "stage", "visit", "seq", "status", "attempts", "started_at", "finished_at", "duration_s",
    *_usage_names("usage"), *_usage_names("saved"), "cache", "route", "reason", "error", "error_type",
    "fallback", "value_format", "value",
)  # fmt: skip
CALL_COLUMNS = (
    "run_id", "stage", "visit", "agent", "provider", "model", "started_at", "duration_s",
    *_usage_names("usage"), "error_type", "cached", "prompt", "reply",
)  # fmt: skip
ALERT_COLUMNS = (
    "name", "message", "severity", "workflow", "subject", "run_id", "value", "threshold", "raised_at",
)  # fmt: skip
# In BreakerChange's field order, so a row is the record's fields.
BREAKER_COLUMNS = tuple(field.name for field in attrs.fields(BreakerChange))


def _usage(usage: Usage) -> tuple[Any, ...]:
    return tuple(getattr(usage, name) for name in USAGE_FIELDS)  # the schema's column order


def _encoded(value: StoredValue | None) -> tuple[str | None, str | bytes | None]:
    return (None, None) if value is None else (value.format, value.payload)


def _decoded(fmt: str | None, payload: Any) -> StoredValue | None:
    return None if fmt is None else StoredValue(fmt, payload)  # type: ignore[arg-type]


#: The ``inputs_format`` of a row whose ``inputs`` are JSON: name -> [format, payload].
INPUTS_FORMAT = "inputs/1"


def inputs_text(inputs: Mapping[str, StoredValue]) -> str:
    """Each input's format and payload as JSON (pickled payloads in base64)."""
    return json.dumps(
        {
            name: [
                e.format,
                base64.b64encode(e.payload).decode() if isinstance(e.payload, bytes) else e.payload,
            ]
            for name, e in inputs.items()
        }
    )


def inputs_of(fmt: str | None, text: Any) -> dict[str, StoredValue]:
    if fmt != INPUTS_FORMAT or not text or text == "{}":
        return {}
    out = {}
    for name, (kind, payload) in json.loads(text).items():
        out[name] = StoredValue(kind, base64.b64decode(payload) if kind == "pickle" else payload)
    return out


def run_row(run: RunRecord) -> tuple[Any, ...]:
    docs = run.docs
    return (
        run.run_id, run.workflow, run.status, run.definition_hash, run.strategy, run.target,
        INPUTS_FORMAT, inputs_text(run.inputs), run.started_at, run.finished_at, run.duration_s,
        *_usage(run.usage),
        *_usage(run.saved), run.reason, run.resumed_from, run.budget_tokens, run.budget_cost_usd,
        run.host, run.pid, docs.requests_made, docs.requests_avoided, docs.tokens, docs.tokens_cut,
        json.dumps({kind: list(counts) for kind, counts in run.cache.items()}),
    )  # fmt: skip


def _usage_of(values: Sequence[Any]) -> Usage:
    return ZERO_USAGE if not any(values) else Usage(*values)


def run_record(row: Sequence[Any]) -> RunRecord:
    # A stats query reads every run: the common empty parts are not parsed or built.
    text = row[33]
    cache = (
        {} if not text or text == "{}" else {k: (int(h), int(m)) for k, (h, m) in json.loads(text).items()}
    )
    docs = row[29:33]
    return RunRecord(
        run_id=row[0],
        workflow=row[1],
        status=row[2],
        definition_hash=row[3],
        strategy=row[4],
        target=row[5],
        inputs=inputs_of(row[6], row[7]),
        started_at=row[8],
        finished_at=row[9],
        duration_s=row[10],
        usage=_usage_of(row[11:17]),
        saved=_usage_of(row[17:23]),
        reason=row[23],
        resumed_from=row[24],
        budget_tokens=row[25],
        budget_cost_usd=row[26],
        host=row[27],
        pid=row[28],
        docs=DocCounters(*docs) if any(docs) else _NO_DOCS,
        cache=cache,
    )


def visit_row(visit: VisitRecord) -> tuple[Any, ...]:
    return (
        visit.run_id, visit.stage, visit.visit, visit.seq, visit.status, visit.attempts, visit.started_at,
        visit.finished_at, visit.duration_s, *_usage(visit.usage), *_usage(visit.saved), visit.cache,
        None if visit.route is None else json.dumps(list(visit.route)), visit.reason, visit.error,
        visit.error_type, int(visit.fallback), *_encoded(visit.value),
    )  # fmt: skip


def visit_record(row: Sequence[Any], workflow: str = "") -> VisitRecord:
    return VisitRecord(
        run_id=row[0],
        stage=row[1],
        visit=row[2],
        seq=row[3],
        status=row[4],
        attempts=row[5],
        started_at=row[6],
        finished_at=row[7],
        duration_s=row[8],
        usage=Usage(*row[9:15]),
        saved=Usage(*row[15:21]),
        cache=row[21],
        route=None if row[22] is None else tuple(json.loads(row[22])),
        reason=row[23],
        error=row[24],
        error_type=row[25],
        fallback=bool(row[26]),
        value=_decoded(row[27], row[28]) if len(row) > 28 else None,
        workflow=workflow,
    )


def call_row(call: AgentCallRecord) -> tuple[Any, ...]:
    return (
        call.run_id, call.stage, call.visit, call.agent, call.provider, call.model, call.started_at,
        call.duration_s, *_usage(call.usage), call.error_type, int(call.cached), call.prompt, call.reply,
    )  # fmt: skip


def call_record(row: Sequence[Any], workflow: str = "") -> AgentCallRecord:
    return AgentCallRecord(
        run_id=row[0],
        stage=row[1],
        visit=row[2],
        agent=row[3],
        provider=row[4],
        model=row[5],
        started_at=row[6],
        duration_s=row[7],
        usage=Usage(*row[8:14]),
        error_type=row[14],
        cached=bool(row[15]),
        prompt=row[16],
        reply=row[17],
        workflow=workflow,
    )


def alert_row(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.name, alert.message, alert.severity, alert.workflow, alert.subject, alert.run_id, alert.value,
        alert.threshold, alert.raised_at.timestamp(),
    )  # fmt: skip


def alert_record(row: Sequence[Any]) -> Alert:
    return Alert(
        name=row[0],
        message=row[1],
        severity=row[2],
        workflow=row[3],
        subject=row[4],
        run_id=row[5],
        value=row[6],
        threshold=row[7],
        raised_at=datetime.fromtimestamp(row[8], UTC),
    )


def breaker_row(change: BreakerChange) -> tuple[Any, ...]:
    return attrs.astuple(change, recurse=False)


def breaker_record(row: Sequence[Any]) -> BreakerChange:
    return BreakerChange(*row)


def prefix_end(prefix: str) -> str:
    """Every string starting with ``prefix`` sorts in ``[prefix, prefix_end)``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def where_clause(where: RunFilter, table: str = "runs") -> tuple[str, list[Any]]:
    """``WHERE ...`` (or ``""``) over the runs table and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, operator, value in (
        ("started_at", ">=", where.since),
        ("started_at", "<", where.until),
        ("workflow", "=", where.workflow),
        ("status", "=", where.status),
        ("resumed_from", "=", where.resumed_from),
    ):
        if value is not None:
            clauses.append(f"{table}.{column} {operator} ?")
            params.append(value)
    if where.id_prefix:
        clauses.append(f"{table}.run_id >= ? AND {table}.run_id < ?")
        params += [where.id_prefix, prefix_end(where.id_prefix)]
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


__all__ = [
    "ALERT_COLUMNS",
    "BREAKER_COLUMNS",
    "CALL_COLUMNS",
    "RUN_COLUMNS",
    "VISIT_COLUMNS",
    "alert_record",
    "alert_row",
    "breaker_record",
    "breaker_row",
    "call_record",
    "call_row",
    "prefix_end",
    "run_record",
    "run_row",
    "visit_record",
    "visit_row",
    "where_clause",
]
