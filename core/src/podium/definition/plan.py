"""A workflow's graph in index form (:class:`Plan`), built once per definition and checked.

Index form — stages as integers, dependencies as tuples of integers — is what the
scheduler walks per stage, so it never hashes a name on the hot path.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import attrs

from podium.foundation.errors import suggest

if TYPE_CHECKING:
    from podium.definition.workflow import Stage


@attrs.frozen(eq=False)  # identity: a plan is one definition's, and keys per-plan caches
class Plan:
    """A validated workflow's graph in index form, computed once per definition.

    Fields, by stage index (declaration order): ``stages``; ``index`` (name to index);
    ``needs`` and ``needs_any`` (indexes of each stage's dependencies); ``dependents``
    (indexes of the stages that depend on each); ``order`` (a topological order, ties in
    declaration order).
    """

    stages: tuple[Stage, ...]
    index: Mapping[str, int]
    needs: tuple[tuple[int, ...], ...]
    needs_any: tuple[tuple[int, ...], ...]
    dependents: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]

    def descendants(self, i: int) -> list[int]:
        """Every stage reachable from stage ``i`` (excluding it), in topological order."""
        seen: set[int] = set()
        stack = list(self.dependents[i])
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(self.dependents[j])
        position = {s: n for n, s in enumerate(self.order)}
        return sorted(seen, key=position.__getitem__)


class Problem(NamedTuple):
    """A definition error about one option of one stage, so a workflow file can point at
    its key (``stages[1].needs[0]``)."""

    stage: str
    #: The option, with its position in a list (``needs[0]``), or ``run`` for the function.
    option: str
    message: str
    #: The unknown stage the option names, when that is the problem.
    unknown: str | None = None


def dependency_errors(stages: Sequence[Stage]) -> list[Problem]:
    """Unknown, repeated and self dependencies, and mapping routes to stages that do not
    exist, each named (unknown names with a suggestion)."""
    names = [stage.name for stage in stages]
    known = set(names)
    errors = []
    for stage in stages:
        seen: set[str] = set()
        for option in ("needs", "needs_any"):
            for k, dep in enumerate(getattr(stage, option)):
                where = f"{option}[{k}]"
                if dep in seen:
                    errors.append(
                        Problem(stage.name, where, f"stage {stage.name!r} lists dependency {dep!r} twice")
                    )
                seen.add(dep)
                if dep == stage.name:
                    errors.append(Problem(stage.name, where, f"stage {stage.name!r} depends on itself"))
                elif dep not in known:
                    message = f"stage {stage.name!r} needs unknown stage {dep!r}{suggest(dep, names)}"
                    errors.append(Problem(stage.name, where, message, dep))
        for target in sorted((stage.route_targets or frozenset()) - known):
            message = f"stage {stage.name!r} routes to unknown stage {target!r}{suggest(target, names)}"
            errors.append(Problem(stage.name, "route", message, target))
    return errors


def build_plan(stages: Sequence[Stage]) -> Plan | list[str]:
    """The plan of stages whose dependencies all exist, or the cycle that prevents one."""
    index = {stage.name: i for i, stage in enumerate(stages)}
    needs = tuple(tuple(index[d] for d in s.needs) for s in stages)
    needs_any = tuple(tuple(index[d] for d in s.needs_any) for s in stages)
    dependents_lists: list[list[int]] = [[] for _ in stages]
    for i, stage in enumerate(stages):
        for dep in stage.dependencies:
            dependents_lists[index[dep]].append(i)
    dependents = tuple(tuple(d) for d in dependents_lists)
    order = _topological_order(needs, needs_any, dependents)
    if order is None:
        return _find_cycle(needs, needs_any, [s.name for s in stages])
    return Plan(tuple(stages), index, needs, needs_any, dependents, order)


def _topological_order(
    needs: Sequence[tuple[int, ...]],
    needs_any: Sequence[tuple[int, ...]],
    dependents: Sequence[tuple[int, ...]],
) -> tuple[int, ...] | None:
    # Kahn's algorithm with a heap: among stages ready together, declaration order.
    remaining = [len(needs[i]) + len(needs_any[i]) for i in range(len(needs))]
    ready = [i for i, r in enumerate(remaining) if r == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in dependents[i]:
            remaining[j] -= 1
            if remaining[j] == 0:
                heapq.heappush(ready, j)
    return tuple(order) if len(order) == len(needs) else None


def _find_cycle(
    needs: Sequence[tuple[int, ...]], needs_any: Sequence[tuple[int, ...]], names: Sequence[str]
) -> list[str]:
    """One cycle, as names from its first stage back to it (iterative: no recursion limit)."""
    state = [0] * len(names)  # 0 unvisited, 1 on the current path, 2 done
    for start in range(len(names)):
        if state[start]:
            continue
        path: list[int] = []
        stack: list[tuple[int, int]] = [(start, 0)]
        while stack:
            node, edge = stack.pop()
            if edge == 0:
                state[node] = 1
                path.append(node)
            deps = needs[node] + needs_any[node]
            if edge < len(deps):
                stack.append((node, edge + 1))
                dep = deps[edge]
                if state[dep] == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    return [names[i] for i in reversed(cycle)]
                if state[dep] == 0:
                    stack.append((dep, 0))
            else:
                state[node] = 2
                path.pop()
    return []
