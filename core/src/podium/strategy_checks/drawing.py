"""Random workflows for the strategy property checks: stages, edges, routes, loops, maps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from podium.strategy_checks import maps as _maps


@dataclass(frozen=True)
class StageSpec:
    """One generated stage: its edges, whether it fails, how often it yields, its route.

    With maps: ``items`` makes it a collection of that many items (``keyed``: a mapping;
    ``-1``: a value without items); ``map`` maps it over an earlier collection or mapped
    stage, ``fails_items`` are the positions of its items that fail, ``partial`` its policy.
    """

    name: str
    needs: tuple[str, ...]
    needs_any: tuple[str, ...]
    fails: bool
    yields: int
    route: tuple[str, ...] | None = None
    items: int | None = None
    keyed: bool = False
    map: str | None = None
    fails_items: tuple[int, ...] = ()
    partial: bool = False

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.needs + self.needs_any


@dataclass(frozen=True)
class WorkflowSpec:
    """A generated workflow: stages in topological order, declared in ``declaration`` order."""

    stages: tuple[StageSpec, ...]
    declaration: tuple[int, ...]
    cap: int | None
    #: Whether a plugin listens to stage events (the kernel then wraps each body in its task).
    observed: bool = False
    #: (stage, earlier stage, visits): the stage routes back to the earlier one until it has
    #: run ``visits`` times. Bodies are pure, so the final results equal a loop-free run's.
    loop: tuple[str, str, int] | None = None

    def by_name(self) -> dict[str, StageSpec]:
        return {s.name: s for s in self.stages}

    def dependents(self, name: str) -> list[str]:
        return [s.name for s in self.stages if name in s.dependencies]


def ancestors(stages: Sequence[StageSpec], name: str) -> set[str]:
    by_name = {s.name: s for s in stages}
    seen: set[str] = set()
    stack = list(by_name[name].dependencies)
    while stack:
        k = stack.pop()
        if k not in seen:
            seen.add(k)
            stack.extend(by_name[k].dependencies)
    return seen


def descendants(stages: Sequence[StageSpec], name: str) -> set[str]:
    return {s.name for s in stages if name in ancestors(stages, s.name)}


@st.composite
def workflows(
    draw: st.DrawFn, *, routes: bool = False, loops: bool = False, maps: bool = False, max_stages: int = 10
) -> WorkflowSpec:
    """Random DAG workflows: edges only to earlier stages, declared in a shuffled order.

    ``maps`` adds collections and stages mapped over them (not with ``loops``: a mapped
    stage cannot be part of a loop).
    """
    if maps and loops:
        raise ValueError("workflows(maps=True) cannot also draw loops: a mapped stage cannot be looped")
    n = draw(st.integers(1, max_stages))
    names = [f"s{i}" for i in range(n)]
    drafts: list[StageSpec] = []
    for i, name in enumerate(names):
        earlier = names[:i]
        deps: list[str] = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        some_any: bool = bool(deps) and draw(st.booleans())
        any_count = draw(st.integers(0, len(deps))) if some_any else 0
        drafted = StageSpec(
            name=name,
            needs=tuple(deps[any_count:]),
            needs_any=tuple(deps[:any_count]),
            fails=draw(st.integers(0, 5)) == 0,
            yields=draw(st.integers(0, 3)),
        )
        drafts.append(_maps.draw_mapping(draw, drafts, drafted) if maps else drafted)
    stages = drafts
    if routes:
        routed: list[StageSpec] = []
        for spec in drafts:
            dependents = [s.name for s in drafts if spec.name in s.dependencies]
            routes_here: bool = bool(dependents) and spec.map is None and draw(st.booleans())
            if routes_here:
                chosen = draw(st.lists(st.sampled_from(dependents), unique=True, max_size=len(dependents)))
                spec = StageSpec(**{**spec.__dict__, "route": tuple(chosen)})
            routed.append(spec)
        stages = routed
    declaration = tuple(draw(st.permutations(range(n))))
    cap = draw(st.one_of(st.none(), st.integers(1, 4)))
    loop = None
    if loops:
        source = draw(st.sampled_from(names))
        target = draw(st.sampled_from(sorted(ancestors(stages, source) | {source})))
        loop = (source, target, draw(st.integers(2, 3)))
    return WorkflowSpec(tuple(stages), declaration, cap, observed=draw(st.booleans()), loop=loop)
