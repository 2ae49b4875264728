"""A workflow's graph in index form (:class:`Plan`), built once per definition and checked.

Index form — stages as integers, dependencies as tuples of integers — is what the
scheduler walks per stage, so it never hashes a name on the hot path.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence
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
    declaration order); ``mapped_over`` (the index of the stage a stage is mapped over,
    ``-1`` for a stage that is not mapped); ``chained`` (the stages mapped over each
    mapped stage, which run per item of it); ``releases`` (the dependents a stage's
    outcome decides: ``dependents`` without ``chained``, which follow its items instead).
    """

    stages: tuple[Stage, ...]
    index: Mapping[str, int]
    needs: tuple[tuple[int, ...], ...]
    needs_any: tuple[tuple[int, ...], ...]
    dependents: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]
    mapped_over: tuple[int, ...]
    chained: tuple[tuple[int, ...], ...]
    releases: tuple[tuple[int, ...], ...]

    @property
    def has_maps(self) -> bool:
        """Whether some stage is mapped (``map=``)."""
        return any(m >= 0 for m in self.mapped_over)

    def collection(self, i: int) -> int:
        """The stage whose value holds the items mapped stage ``i`` runs for (through a
        chain of maps); ``-1`` when ``i`` is not mapped."""
        if self.mapped_over[i] < 0:
            return -1
        while self.mapped_over[i] >= 0:
            i = self.mapped_over[i]
        return i

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


def dependency_errors(stages: Sequence[Stage], inputs: Collection[str] = ()) -> list[Problem]:
    """Unknown, repeated and self dependencies, and mapping routes to stages that do not
    exist, each named (unknown names with a suggestion; a map over one of the workflow's
    ``inputs`` with what to do instead)."""
    names = [stage.name for stage in stages]
    known = set(names)
    errors = []
    for stage in stages:
        seen: set[str] = set()
        for option in ("needs", "needs_any"):
            for k, dep in enumerate(getattr(stage, option)):
                mapped = dep == stage.map  # the need a map implies is reported at map=
                where = "map" if mapped else f"{option}[{k}]"
                if dep in seen:
                    errors.append(
                        Problem(stage.name, where, f"stage {stage.name!r} lists dependency {dep!r} twice")
                    )
                seen.add(dep)
                if dep == stage.name:
                    verb = "is mapped over" if mapped else "depends on"
                    errors.append(Problem(stage.name, where, f"stage {stage.name!r} {verb} itself"))
                elif dep not in known and mapped and dep in inputs:
                    message = (
                        f"stage {stage.name!r} is mapped over {dep!r}, a workflow input, not a stage: add a "
                        f"stage that returns the items (async def items({dep}): return {dep}) and map over it"
                    )
                    errors.append(Problem(stage.name, where, message, dep))
                elif dep not in known:
                    verb = "is mapped over" if mapped else "needs"
                    message = f"stage {stage.name!r} {verb} unknown stage {dep!r}{suggest(dep, names)}"
                    errors.append(Problem(stage.name, where, message, dep))
        for target in sorted((stage.route_targets or frozenset()) - known):
            message = f"stage {stage.name!r} routes to unknown stage {target!r}{suggest(target, names)}"
            errors.append(Problem(stage.name, "route", message, target))
    return errors


def mapping_errors(stages: Sequence[Stage]) -> list[Problem]:
    """Mapped stages that cannot work: a map over a ``needs_any`` branch, a route, a loop."""
    by_name = {stage.name: stage for stage in stages}
    errors = []
    for stage in stages:
        if stage.map is None:
            continue
        if stage.map in stage.needs_any:
            message = (
                f"stage {stage.name!r} is mapped over {stage.map!r}, which it lists in needs_any: "
                "a map needs its items (map= alone implies the need)"
            )
            errors.append(Problem(stage.name, "map", message))
        if stage.route is not None:
            message = (
                f"stage {stage.name!r} is mapped, so it cannot route (its items would each choose); "
                "route from a stage that gathers it"
            )
            errors.append(Problem(stage.name, "route", message))
        loops = [s.name for s in stages if s.max_visits > 1 and s.name in _self_and_ancestors(stage, by_name)]
        if loops:
            message = (
                f"stage {stage.name!r} is mapped and part of the loop of {', '.join(map(repr, loops))} "
                "(max_visits > 1): a mapped stage cannot be visited again"
            )
            errors.append(Problem(stage.name, "map", message))
    return errors


def _self_and_ancestors(stage: Stage, by_name: Mapping[str, Stage]) -> set[str]:
    """``stage`` and every stage it depends on, directly or not (unknown names and cycles,
    reported elsewhere, are walked past)."""
    seen = {stage.name}
    stack = list(stage.dependencies)
    while stack:
        name = stack.pop()
        if name not in seen and name in by_name:
            seen.add(name)
            stack.extend(by_name[name].dependencies)
    return seen


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
    mapped_over = tuple(-1 if s.map is None else index[s.map] for s in stages)
    chained_lists: list[list[int]] = [[] for _ in stages]
    for i, m in enumerate(mapped_over):
        if m >= 0 and mapped_over[m] >= 0:  # a map over a mapped stage runs per item of it
            chained_lists[m].append(i)
    chained = tuple(tuple(c) for c in chained_lists)
    releases = dependents
    if any(chained):
        releases = tuple(tuple(j for j in dependents[i] if j not in chained[i]) for i in range(len(stages)))
    return Plan(tuple(stages), index, needs, needs_any, dependents, order, mapped_over, chained, releases)


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
