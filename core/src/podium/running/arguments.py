"""A stage's keyword arguments: upstream values and workflow inputs, by parameter name."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.definition.workflow import has_default
from podium.values.model import StageResult, StageStatus

if TYPE_CHECKING:
    from podium.definition.plan import Plan

#: How one parameter is filled: its name, whether an upstream stage fills it, its default.
ArgumentSpec = tuple[str, bool, Any]

# What a ``**parameter`` gets of a dependency that did not run for its stage: nothing.
_UNLESS_RAN: Any = object()
_OK = frozenset({StageStatus.SUCCEEDED, StageStatus.CACHED})
_specs: weakref.WeakKeyDictionary[Plan, list[tuple[ArgumentSpec, ...]]] = weakref.WeakKeyDictionary()


def argument_specs(plan: Plan) -> list[tuple[ArgumentSpec, ...]]:
    """How each stage's arguments are filled, worked out once per plan (read per launch)."""
    found = _specs.get(plan)
    if found is None:
        found = _specs[plan] = []
        for stage in plan.stages:
            parameters = stage.parameters
            if stage.var_keyword is not None:  # and the dependencies no named parameter takes
                parameters = {**dict.fromkeys(stage.dependencies, _UNLESS_RAN), **parameters}
            dependencies = set(stage.dependencies)
            found.append(tuple((name, name in dependencies, default) for name, default in parameters.items()))
    return found


def stage_arguments(
    specs: tuple[ArgumentSpec, ...],
    name: str,
    results: Mapping[str, StageResult],
    inputs: Mapping[str, Any],
) -> dict[str, Any]:
    """The arguments of stage ``name`` from its ``specs``, the run's ``results`` and ``inputs``.

    A dependency fills its parameter when it succeeded (or was served from a cache) and
    did not route away from ``name``; otherwise the parameter gets its default, or None.
    """
    kwargs: dict[str, Any] = {}
    for parameter, from_stage, default in specs:
        if from_stage:
            result = results.get(parameter)
            if result is not None and result.status in _OK and (result.route is None or name in result.route):
                kwargs[parameter] = result.value
            elif default is not _UNLESS_RAN:  # a needs_any branch that did not run, or routed away
                kwargs[parameter] = default if has_default(default) else None
        elif parameter in inputs:
            kwargs[parameter] = inputs[parameter]
        elif has_default(default):
            kwargs[parameter] = default
    return kwargs
