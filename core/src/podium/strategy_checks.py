"""Property checks every strategy must pass (hypothesis), for strategy plugins' test suites.

A random workflow (:func:`workflows`) is a DAG of stages with ``needs`` and ``needs_any``
edges, stages that fail, (for strategies that honour them) routes picking random
subsets of their dependents, and (``maps=True``) stages mapped over items known only at
run time, some of whose items fail by design. :func:`expected` interprets it by the
execution semantics (docs/concepts.md) without any scheduling; :func:`check_run` runs it
on a real engine and compares the outcome with that interpretation while a
:class:`Recorder` watches from inside the stage bodies (dependencies settled at start,
concurrency cap, at most one start per stage or item).

Podium's own strategies are tested with it, and so can yours::

    from hypothesis import given
    from podium import strategy_checks as checks

    @checks.PROFILE
    @given(checks.workflows())
    def test_my_strategy_keeps_every_promise(spec):
        checks.check_run(spec, "mine", [my_plugin], cap=spec.cap)

Needs hypothesis (``pip install 'podium[testing]'``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from podium import (
    Config,
    Engine,
    GatherError,
    MapError,
    RunResult,
    RunStatus,
    StageStatus,
    create_plugin_manager,
)
from podium.testing import StageFailure
from podium.testing import mapped as _maps
from podium.testing.generated import (
    ANNOUNCED,
    OBSERVER,
    Recorder,
    StageSpec,
    Watcher,
    WorkflowSpec,
    build,
    collection_value,
    item_label,
    value_of,
)

settings.register_profile(
    "podium-strategies",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "podium-strategies-quick", parent=settings.get_profile("podium-strategies"), max_examples=60
)

#: The profile the property tests run under: 500 examples a strategy unless
#: ``PODIUM_HYPOTHESIS_PROFILE=podium-strategies-quick`` asks for a quick local run.
PROFILE = settings.get_profile(os.environ.get("PODIUM_HYPOTHESIS_PROFILE", "podium-strategies"))


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


def _picked(route: tuple[str, ...] | None, name: str) -> bool:
    """Whether a stage's route (``None``: no route, everyone) lets ``name`` run."""
    return route is None or name in route


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
        drafts.append(_draw_mapping(draw, drafts, drafted) if maps else drafted)
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


def _draw_mapping(draw: st.DrawFn, earlier: list[StageSpec], spec: StageSpec) -> StageSpec:
    """``spec`` as drawn, or mapped over an earlier collection or mapped stage, or a collection."""
    sources = [s.name for s in earlier if s.items is not None or s.map is not None]
    mapped: bool = draw(st.booleans()) if sources else False
    if mapped:
        target = draw(st.sampled_from(sources))
        needs = (*(d for d in spec.needs + spec.needs_any if d != target), target)
        return dataclasses.replace(
            spec,
            needs=needs,
            needs_any=(),
            fails=False,
            map=target,
            fails_items=tuple(draw(st.lists(st.integers(0, 3), unique=True, max_size=2))),
            partial=draw(st.booleans()),
        )
    if draw(st.booleans()):
        return dataclasses.replace(spec, items=draw(st.integers(-1, 3)), keyed=draw(st.booleans()))
    return spec


# --------------------------------------------------------------------------- the reference


@dataclass
class Expected:
    """What a run of a spec must produce, per stage (and per item of a mapped stage)."""

    status: dict[str, StageStatus] = field(default_factory=dict)
    value: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, set[str]] = field(default_factory=dict)
    route: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    #: Per stage, its visits: 1, or a mapped stage's items.
    visits: dict[str, int] = field(default_factory=dict)
    #: Per mapped stage: whether it decided its items (else it was decided as a whole),
    #: their keys, and what each item comes to.
    fanned: dict[str, bool] = field(default_factory=dict)
    keys: dict[str, list[Any]] = field(default_factory=dict)
    items: dict[str, list[_maps.ExpectedItem]] = field(default_factory=dict)


def expected(spec: WorkflowSpec, *, routes: bool) -> Expected:
    """Interpret ``spec`` by the documented semantics, without scheduling anything."""
    out = Expected()
    by_name = spec.by_name()
    for stage in spec.stages:
        reasons: set[str] = set()
        # A stage mapped over a mapped stage follows that stage's items, not its gather.
        follows = stage.map if stage.map is not None and by_name[stage.map].map is not None else None
        for k in stage.needs:
            if k == follows:
                continue
            if out.status[k] is StageStatus.SKIPPED:
                reasons |= out.reasons[k]
            elif out.status[k] is StageStatus.FAILED:
                reasons.add(f"dependency {k!r} failed")
            elif out.route[k] is not None and stage.name not in (out.route[k] or ()):
                chosen = ", ".join(out.route[k] or ()) or "nothing"
                reasons.add(f"not chosen by the route of {k!r} (chose {chosen})")
        if stage.map is not None:
            _maps.expect_mapped(out, spec, stage, reasons)
            continue
        out.visits[stage.name] = 1
        ran_any = [
            k
            for k in stage.needs_any
            if out.status[k] is StageStatus.SUCCEEDED and _picked(out.route[k], stage.name)
        ]
        out.route[stage.name] = None
        if reasons:
            out.status[stage.name] = StageStatus.SKIPPED
            out.reasons[stage.name] = reasons
            continue
        if stage.needs_any and not ran_any:
            names = ", ".join(repr(k) for k in stage.needs_any)
            out.status[stage.name] = StageStatus.SKIPPED
            out.reasons[stage.name] = {f"none of its needs_any ran ({names})"}
            continue
        if stage.fails:
            out.status[stage.name] = StageStatus.FAILED
            continue
        args = {k: out.value[k] for k in stage.needs}
        args.update({k: out.value[k] if k in ran_any else None for k in stage.needs_any})
        out.status[stage.name] = StageStatus.SUCCEEDED
        out.value[stage.name] = value_of(stage.name, args)
        if stage.items is not None:
            out.value[stage.name] = collection_value(stage, out.value[stage.name])
        if routes and by_name[stage.name].route is not None:
            out.route[stage.name] = by_name[stage.name].route
    return out


# --------------------------------------------------------------------------- running

_managers: dict[tuple[int, ...], Any] = {}


def engine_for(*plugins: object, config: Config | None = None) -> Engine:
    """An engine with exactly the given plugins (no entry-point discovery).

    The plugin manager is built once per plugin set: building one is most of an
    example's cost, and a manager holds no per-engine state.
    """
    key = tuple(id(p) for p in plugins)
    if key not in _managers:
        _managers[key] = create_plugin_manager(autoload=False, plugins=plugins)
    return Engine(config=config or _CONFIG, plugin_manager=_managers[key], cache_url=False)


_CONFIG = Config()
_WATCHER = Watcher(Recorder(WorkflowSpec((), (), None)))


async def run_spec(
    spec: WorkflowSpec,
    strategy: str,
    plugins: Iterable[object],
    *,
    fail_fast: bool = False,
    executor: str | None = None,
    config: Config | None = None,
) -> tuple[RunResult, Recorder]:
    recorder = Recorder(spec)
    OBSERVER.events.clear()
    if spec.observed:
        plugins = [*plugins, OBSERVER]
    if executor is not None:
        plugins = [*plugins, _WATCHER]
        _WATCHER.recorder = recorder
    async with engine_for(*plugins, config=config) as engine:
        workflow = build(spec, strategy, recorder, fail_fast=fail_fast, executor=executor)
        result = await engine.run(workflow)
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftovers, f"tasks left running: {leftovers}"
    return result, recorder


def check_run(
    spec: WorkflowSpec,
    strategy: str,
    plugins: Iterable[object],
    *,
    cap: int | None = None,
    routes: bool = False,
    executor: str | None = None,
    config: Config | None = None,
) -> RunResult:
    """Run ``spec`` and assert every scheduling property; returns the result for more checks.

    ``cap`` is the concurrency the strategy must respect (``spec.cap``); ``routes`` says
    that the strategy honours the routes of workflows drawn with ``workflows(routes=True)``.
    ``executor`` runs every stage on that executor (an executor plugin's own check: the
    results must be those of the event loop), with the engine's ``config``.
    """
    result, recorder = asyncio.run(run_spec(spec, strategy, plugins, executor=executor, config=config))
    want = expected(spec, routes=routes)
    assert not recorder.violations, recorder.violations
    if cap is not None:
        assert recorder.peak <= cap, f"{recorder.peak} stages ran at once, cap {cap}"
    assert set(result) == {s.name for s in spec.stages}
    for stage in spec.stages:
        name = stage.name
        got = result[name]
        assert got.status is want.status[name], (name, got.status, want.status[name], got.reason)
        runs = want.status[name] is not StageStatus.SKIPPED and stage.map is None
        starts = recorder.starts.get(name, 0)
        if spec.loop is None:
            assert starts == (1 if runs else 0), (name, starts)
        else:
            assert (1 if runs else 0) <= starts <= spec.loop[2], (name, starts)
        if stage.map is not None:
            _maps.check_items(result, recorder, want, stage)
        if got.status is StageStatus.SUCCEEDED:
            assert got.value == want.value[name]
            assert got.route == want.route[name]
        elif got.status is StageStatus.FAILED:
            assert stage.map is not None or isinstance(got.error, StageFailure)
        else:
            assert got.reason in want.reasons[name], (name, got.reason, want.reasons[name])
    if spec.loop is None:
        assert len(result.history) == sum(want.visits.values())
    else:
        source, target, visits = spec.loop
        if want.status[source] is StageStatus.SUCCEEDED:
            # Every round decides the target again, whether it runs or is skipped.
            assert result[target].visit == visits
            assert len(result.visits(target)) == visits
            assert [r.route for r in result.history if r.name == source and r.ok][:-1] == [(target,)] * (
                visits - 1
            )
    if spec.observed and spec.loop is None:
        for stage in spec.stages:
            kinds = [kind for kind, name in OBSERVER.events if name == stage.name]
            if stage.map is not None:
                _maps.announced(result, stage.name, kinds, ANNOUNCED)
            else:
                assert kinds == ANNOUNCED[result[stage.name].status], (stage.name, kinds)
    failed = any(s is StageStatus.FAILED for s in want.status.values())
    assert result.status is (RunStatus.FAILED if failed else RunStatus.SUCCEEDED)
    return result


def check_fail_fast(spec: WorkflowSpec, strategy: str, plugins: Iterable[object]) -> RunResult:
    """With ``fail_fast``: the first failure stops the run; what ran is kept, the rest explained."""
    result, recorder = asyncio.run(run_spec(spec, strategy, plugins, fail_fast=True))
    assert not recorder.violations, recorder.violations
    failures = [r for r in result.values() if r.status is StageStatus.FAILED]
    if not failures:
        assert result.status is RunStatus.SUCCEEDED
        return result
    assert result.status is RunStatus.FAILED
    halts = {f"fail_fast: stage {r.name!r} failed" for r in failures}
    want = expected(spec, routes=False)
    assert all(starts <= 1 for starts in recorder.starts.values()), recorder.starts
    by_name = spec.by_name()
    # Every visit: a whole stage's, or an item's (a gather is checked through its items).
    decided = [r for r in result.history if r.items is None]
    for got in decided:
        stage = by_name[got.name]
        if got.status is StageStatus.SUCCEEDED:
            if got.item_key is None:
                assert got.value == want.value[got.name]
            else:
                index = want.keys[got.name].index(got.item_key)
                assert got.value == want.items[got.name][index].value, (got.name, got.item_key)
        elif got.status is StageStatus.FAILED:
            expected_error = MapError if stage.map is not None and got.item_key is None else StageFailure
            assert isinstance(got.error, expected_error), (got.name, got.error)
        elif got.status is StageStatus.CANCELLED:
            assert got.reason in halts, got.reason
        else:
            label = got.name if got.item_key is None else item_label(got.name, got.item_key)
            assert recorder.starts.get(label, 0) == 0
            assert got.reason is not None
            assert got.reason in halts or got.reason.startswith(("dependency ", "none of its needs_any")), (
                got.reason
            )
    for got in result.values():
        if got.items is not None and got.status is StageStatus.FAILED:
            assert isinstance(got.error, GatherError), (got.name, got.error)
        elif got.items is not None and got.status is StageStatus.CANCELLED:
            assert got.reason in halts, (got.name, got.reason)
    # One failure halts the run; every cancellation and halt-skip names that same stage.
    assert len({r.reason for r in result.history if r.reason in halts}) <= 1
    return result
