"""The rule table: conditions on the stage's own value, upstream values and workflow inputs.

A condition path starts with ``value`` (the routing stage's result), ``inputs`` (the
workflow inputs) or the name of a stage (its latest successful value), then walks mapping
keys, attributes and list indexes: ``value.verdict.score``, ``spec.tags.0``, ``inputs.ticket``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podium import Context, RoutingError, Stage
from podium_conditional.settings import ConditionalSettings, Rule


class _Missing:
    """A path that leads nowhere: only ``exists = false`` matches it."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def _contains(container: Any, item: Any) -> bool:
    return item in container


def _member(item: Any, container: Any) -> bool:
    return item in container


def _not_member(item: Any, container: Any) -> bool:
    return item not in container


def _matches(subject: Any, pattern: str) -> bool:
    return isinstance(subject, str) and re.search(pattern, subject) is not None


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "in": _member,
    "not_in": _not_member,
    "contains": _contains,
    "matches": _matches,
}


def resolve(path: str, value: Any, ctx: Context) -> Any:
    """The value a condition path names, or :data:`MISSING`."""
    root, *rest = path.split(".")
    if root == "value":
        current = value
    elif root == "inputs":
        current = ctx.inputs
    else:
        result = ctx.run.results.get(root)
        if result is None or not result.ok:
            return MISSING
        current = result.value
    for part in rest:
        current = _step(current, part)
        if current is MISSING:
            break
    return current


def _step(current: Any, part: str) -> Any:
    if isinstance(current, Mapping):
        return current.get(part, MISSING)
    if isinstance(current, Sequence) and not isinstance(current, str) and part.lstrip("-").isdigit():
        try:
            return current[int(part)]
        except IndexError:
            return MISSING
    return getattr(current, part, MISSING)


def holds(rule: Rule, number: int, value: Any, ctx: Context) -> bool:
    """Whether every condition of ``rule`` holds; a comparison that cannot be made is an error."""
    for path, test in rule.when.items():
        subject = resolve(path, value, ctx)
        checks = test.items() if isinstance(test, Mapping) else (("eq", test),)
        for op, operand in checks:
            if op == "exists":
                if (subject is not MISSING) is not operand:
                    return False
                continue
            if subject is MISSING:
                return False
            try:
                if not _TESTS[op](subject, operand):
                    return False
            except TypeError as exc:
                raise RoutingError(
                    f"routing rule {number} (plugins.conditional.rules[{number}]) for stage "
                    f"{rule.stage!r}: cannot test {path} = {subject!r} with {op} {operand!r}: {exc}"
                ) from None
    return True


def choose_by_rules(
    settings: ConditionalSettings, stage: Stage, value: Any, ctx: Context
) -> list[str] | None:
    """The targets of the first rule for ``stage`` whose conditions hold; ``None`` declines."""
    for number, rule in settings.rules_for(stage.name):
        if holds(rule, number, value, ctx):
            return list(rule.targets)
    return None
