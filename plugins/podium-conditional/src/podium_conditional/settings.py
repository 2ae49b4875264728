"""The ``[plugins.conditional]`` configuration section: routing rules and agent classifiers.

```toml
[[plugins.conditional.rules]]
stage = "review"                          # the stage whose route this decides
to = "ship"                               # one name or a list of names
when = { "value.approved" = true, "value.score" = { ge = 0.8 } }

[[plugins.conditional.rules]]
stage = "review"
to = "fix"                                # no `when`: always matches (a default)

[[plugins.conditional.classifiers]]
stage = "triage"
agent = "router"                          # asks this agent to pick among the dependents
instructions = "Pick the team that should handle the ticket."
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

#: The configuration section this plugin owns: ``[plugins.conditional]``.
SECTION = "conditional"

#: Comparison operators a condition may use, as ``{ <op> = <operand> }``.
OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "matches", "exists"})


def _check_conditions(instance: Any, attribute: attrs.Attribute[Any], when: Mapping[str, Any]) -> None:
    for path, test in when.items():
        if not path or any(not part for part in path.split(".")):
            raise ValueError(f"condition path {path!r} must be dotted names, e.g. 'value.score'")
        if not isinstance(test, Mapping):
            continue  # a bare value means equality
        if not test:
            raise ValueError(f"condition on {path!r} has no operator (use one of {sorted(OPERATORS)})")
        for op, operand in test.items():
            if op not in OPERATORS:
                raise ValueError(
                    f"condition on {path!r}: unknown operator {op!r} (use one of {sorted(OPERATORS)})"
                )
            if op in ("in", "not_in") and not isinstance(operand, list):
                raise ValueError(f"condition on {path!r}: {op!r} needs a list, got {operand!r}")
            if op == "exists" and not isinstance(operand, bool):
                raise ValueError(f"condition on {path!r}: 'exists' needs true or false, got {operand!r}")
            if op == "matches":
                if not isinstance(operand, str):
                    raise ValueError(
                        f"condition on {path!r}: 'matches' needs a pattern string, got {operand!r}"
                    )
                try:
                    re.compile(operand)
                except re.error as exc:
                    raise ValueError(f"condition on {path!r}: bad pattern {operand!r}: {exc}") from None


def _names(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.define
class Rule:
    """Route ``stage`` to ``to`` when every condition in ``when`` holds (all of them)."""

    stage: str
    to: str | list[str]
    when: dict[str, Any] = attrs.field(factory=dict, validator=_check_conditions)

    @property
    def targets(self) -> tuple[str, ...]:
        return _names(self.to)


@attrs.define
class ClassifierRule:
    """Ask ``agent`` to choose where ``stage`` goes next, among its candidates."""

    stage: str
    agent: str
    instructions: str = ""


@attrs.define
class ConditionalSettings:
    """``[plugins.conditional]``: rules (tried in order, first match wins) and classifiers."""

    rules: list[Rule] = attrs.field(factory=list)
    classifiers: list[ClassifierRule] = attrs.field(factory=list)
    _rules_by_stage: dict[str, list[tuple[int, Rule]]] = attrs.field(init=False, repr=False, eq=False)
    _classifier_by_stage: dict[str, ClassifierRule] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_stage: dict[str, list[tuple[int, Rule]]] = {}
        for number, rule in enumerate(self.rules):
            by_stage.setdefault(rule.stage, []).append((number, rule))
        self._rules_by_stage = by_stage
        classifiers: dict[str, ClassifierRule] = {}
        for number, classifier in enumerate(self.classifiers):
            if classifier.stage in classifiers:
                raise ValueError(
                    f"classifiers[{number}]: stage {classifier.stage!r} already has a classifier"
                )
            classifiers[classifier.stage] = classifier
        self._classifier_by_stage = classifiers

    def rules_for(self, stage: str) -> list[tuple[int, Rule]]:
        """The rules deciding ``stage``'s route, with their position in the table."""
        return self._rules_by_stage.get(stage, [])

    def classifier_for(self, stage: str) -> ClassifierRule | None:
        return self._classifier_by_stage.get(stage)
