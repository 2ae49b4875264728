"""A workflow's definition fingerprint: what decides whether a stored run may be resumed.

The fingerprint holds, per stage, its code (its ``version`` when given, else a hash of
its source, else of its bytecode), its dependencies and every option that changes what
it computes or how it fails; and the workflow's own options. Two definitions with the
same :func:`definition_hash` compute the same thing, so a resume may reuse the stored
results; :func:`definition_changes` says what differs when they do not.
Descriptions and duration estimates are left out: they change nothing a stage computes.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

import attrs

from podium.definition.options import NOTSET, source_version
from podium.definition.plan import Plan
from podium.definition.workflow import Stage, Workflow
from podium.foundation.errors import CacheKeyError
from podium.values.keys import canonical


def _code_material(code: CodeType) -> list[Any]:
    consts = [_code_material(c) if isinstance(c, CodeType) else repr(c) for c in code.co_consts]
    return [code.co_code.hex(), list(code.co_names), consts]


def code_hash(fn: Callable[..., Any] | None) -> str | None:
    """A short hash of a function's code: its source, else its bytecode (lambdas too)."""
    if fn is None:
        return None
    version = source_version(fn)
    if version is not None:
        return version
    code = getattr(fn, "__code__", None)
    if not isinstance(code, CodeType):
        return f"{type(fn).__module__}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    text = json.dumps(_code_material(code), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _value(value: Any) -> Any:
    try:
        return canonical(value)
    except CacheKeyError:
        return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _policy(policy: Any) -> dict[str, Any] | None:
    if policy is None:
        return None
    fields: dict[str, Any] = {}
    for name, value in attrs.asdict(policy, recurse=False).items():
        if callable(value) and not isinstance(value, type):
            fields[name] = code_hash(value)
        elif isinstance(value, tuple) and all(isinstance(v, type) for v in value):
            fields[name] = [f"{v.__module__}.{v.__qualname__}" for v in value]
        else:
            fields[name] = _value(value)
    return fields


def _route(route: Any) -> Any:
    if route is None:
        return None
    if isinstance(route, Mapping):
        return {"map": _value(dict(route))}
    return {"fn": code_hash(route)}


def stage_fingerprint(stage: Stage) -> dict[str, Any]:
    """What identifies a stage's computation: code, dependencies, and the options that matter."""
    return {
        "code": stage.version or code_hash(stage.fn),
        "needs": list(stage.needs),
        "needs_any": list(stage.needs_any),
        "timeout": stage.timeout,
        "retry": _policy(stage.retry),
        "cache": _policy(stage.cache),
        "route": _route(stage.route),
        "fallback": None if stage.fallback is NOTSET else {"value": _value(stage.fallback)},
        "on_error": code_hash(stage.on_error),
        "executor": stage.executor,
        "max_visits": stage.max_visits,
    }


def _workflow_fingerprint(workflow: Workflow, strategy: str) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "strategy": strategy,
        "max_concurrency": workflow.max_concurrency,
        "timeout": workflow.timeout,
        "fail_fast": workflow.fail_fast,
        "budget": attrs.asdict(workflow.budget) if workflow.budget is not None else None,
        "inputs": list(workflow.inputs) if workflow.inputs is not None else None,
        "defaults": _value(workflow.input_defaults),
    }


def definition_fingerprint(workflow: Workflow, plan: Plan, strategy: str) -> dict[str, Any]:
    """The fingerprint of ``workflow`` run under ``strategy`` (JSON data)."""
    return {
        "workflow": _workflow_fingerprint(workflow, strategy),
        "stages": {stage.name: stage_fingerprint(stage) for stage in plan.stages},
    }


def definition_hash(fingerprint: Mapping[str, Any]) -> str:
    """A stable hash of a fingerprint."""
    text = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# Per plan (one definition) and strategy: reading every stage's source is not for each run.
_memo: weakref.WeakKeyDictionary[Plan, dict[str, tuple[dict[str, Any], str]]] = weakref.WeakKeyDictionary()


def fingerprint_of(workflow: Workflow, plan: Plan, strategy: str) -> tuple[dict[str, Any], str]:
    """:func:`definition_fingerprint` and its :func:`definition_hash`, computed once per plan.

    The workflow's own options are part of the key too, since they can change without a
    new plan (``workflow.strategy = ...``, a new budget).
    """
    key = json.dumps(_workflow_fingerprint(workflow, strategy), sort_keys=True)
    per_plan = _memo.setdefault(plan, {})
    found = per_plan.get(key)
    if found is None:
        fingerprint = definition_fingerprint(workflow, plan, strategy)
        found = per_plan[key] = (fingerprint, definition_hash(fingerprint))
    return found


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def definition_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed from ``old`` to ``new``, one sentence each (empty: nothing)."""
    changes = []
    before, after = old.get("workflow", {}), new.get("workflow", {})
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            changes.append(f"workflow {key} changed ({_show(before.get(key))} -> {_show(after.get(key))})")
    old_stages, new_stages = old.get("stages", {}), new.get("stages", {})
    for name in old_stages:
        if name not in new_stages:
            changes.append(f"stage {name!r} was removed")
    for name, now in new_stages.items():
        was = old_stages.get(name)
        if was is None:
            changes.append(f"stage {name!r} was added")
            continue
        for key in sorted(set(was) | set(now)):
            if was.get(key) == now.get(key):
                continue
            if key == "code":
                changes.append(f"stage {name!r}: its code changed (version {was.get(key)} -> {now.get(key)})")
            else:
                changes.append(
                    f"stage {name!r}: {key} changed ({_show(was.get(key))} -> {_show(now.get(key))})"
                )
    return changes


def unchanged_stages(old: Mapping[str, Any], new: Mapping[str, Any], plan: Plan) -> set[str]:
    """The stages whose fingerprint, and every upstream stage's, is the same in both."""
    old_stages, new_stages = old.get("stages", {}), new.get("stages", {})
    same: set[str] = set()
    for i in plan.order:
        stage = plan.stages[i]
        if old_stages.get(stage.name) == new_stages.get(stage.name) and all(
            dep in same for dep in stage.dependencies
        ):
            same.add(stage.name)
    return same


__all__ = [
    "code_hash",
    "definition_changes",
    "definition_fingerprint",
    "definition_hash",
    "fingerprint_of",
    "stage_fingerprint",
    "unchanged_stages",
]
