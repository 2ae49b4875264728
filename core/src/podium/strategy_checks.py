"""Property checks every strategy must pass (hypothesis), for strategy plugins' test suites.

A random workflow (:func:`workflows`) is a DAG of stages with ``needs`` and ``needs_any``
edges, stages that fail, and (for strategies that honour them) routes picking random
subsets of their dependents. :func:`expected` interprets it by the execution semantics
(docs/concepts.md) without any scheduling; :func:`check_run` runs it on a real engine and
compares the outcome with that interpretation while a :class:`Recorder` watches from
inside the stage bodies (dependencies settled at start, concurrency cap, at most one start).

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
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from podium import Config, Engine, RunResult, RunStatus, StageStatus, create_plugin_manager
from podium.testing import StageFailure
from podium.testing.generated import (
    ANNOUNCED,
    OBSERVER,
    Recorder,
    StageSpec,
    Watcher,
    WorkflowSpec,
    build,
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
    draw: st.DrawFn, *, routes: bool = False, loops: bool = False, max_stages: int = 10
) -> WorkflowSpec:
    """Random DAG workflows: edges only to earlier stages, declared in a shuffled order."""
    n = draw(st.integers(1, max_stages))
    names = [f"s{i}" for i in range(n)]
    drafts: list[StageSpec] = []
    for i, name in enumerate(names):
        earlier = names[:i]
        deps: list[str] = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        some_any: bool = bool(deps) and draw(st.booleans())
        any_count = draw(st.integers(0, len(deps))) if some_any else 0
        drafts.append(
            StageSpec(
                name=name,
                needs=tuple(deps[any_count:]),
                needs_any=tuple(deps[:any_count]),
                fails=draw(st.integers(0, 5)) == 0,
                yields=draw(st.integers(0, 3)),
            )
        )
    stages = drafts
    if routes:
        routed: list[StageSpec] = []
        for spec in drafts:
            dependents = [s.name for s in drafts if spec.name in s.dependencies]
            routes_here: bool = bool(dependents) and draw(st.booleans())
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


# --------------------------------------------------------------------------- the reference


@dataclass
class Expected:
    """What a run of a spec must produce, per stage."""

    status: dict[str, StageStatus] = field(default_factory=dict)
    value: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, set[str]] = field(default_factory=dict)
    route: dict[str, tuple[str, ...] | None] = field(default_factory=dict)


def expected(spec: WorkflowSpec, *, routes: bool) -> Expected:
    """Interpret ``spec`` by the documented semantics, without scheduling anything."""
    out = Expected()
    by_name = spec.by_name()
    for stage in spec.stages:
        reasons: set[str] = set()
        for k in stage.needs:
            if out.status[k] is StageStatus.SKIPPED:
                reasons |= out.reasons[k]
            elif out.status[k] is StageStatus.FAILED:
                reasons.add(f"dependency {k!r} failed")
            elif out.route[k] is not None and stage.name not in (out.route[k] or ()):
                chosen = ", ".join(out.route[k] or ()) or "nothing"
                reasons.add(f"not chosen by the route of {k!r} (chose {chosen})")
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
        runs = want.status[name] is not StageStatus.SKIPPED
        starts = recorder.starts.get(name, 0)
        if spec.loop is None:
            assert starts == (1 if runs else 0), (name, starts)
        else:
            assert (1 if runs else 0) <= starts <= spec.loop[2], (name, starts)
        if got.status is StageStatus.SUCCEEDED:
            assert got.value == want.value[name]
            assert got.route == want.route[name]
        elif got.status is StageStatus.FAILED:
            assert isinstance(got.error, StageFailure)
        else:
            assert got.reason in want.reasons[name], (name, got.reason, want.reasons[name])
    if spec.loop is None:
        assert len(result.history) == len(spec.stages)
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
    for got in result.values():
        starts = recorder.starts.get(got.name, 0)
        assert starts <= 1, (got.name, starts)
        if got.status is StageStatus.SUCCEEDED:
            assert got.value == want.value[got.name]
        elif got.status is StageStatus.FAILED:
            assert isinstance(got.error, StageFailure)
        elif got.status is StageStatus.CANCELLED:
            assert got.reason in halts, got.reason
        else:
            assert starts == 0
            assert got.reason is not None
            assert got.reason in halts or got.reason.startswith(("dependency ", "none of its needs_any")), (
                got.reason
            )
    # One failure halts the run; every cancellation and halt-skip names that same stage.
    assert len({r.reason for r in result.values() if r.reason in halts}) <= 1
    return result
