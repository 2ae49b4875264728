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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import podium
from podium import Config, Engine, RunResult, RunStatus, StageStatus, create_plugin_manager

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


@dataclass(frozen=True)
class StageSpec:
    """One generated stage: its edges, whether it fails, how often it yields, its route."""

    name: str
    needs: tuple[str, ...]
    needs_any: tuple[str, ...]
    fails: bool
    yields: int
    route: tuple[str, ...] | None = None

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


def value_of(name: str, args: dict[str, Any]) -> str:
    """The value a generated stage returns: its name applied to its arguments."""
    return f"{name}(" + ",".join(f"{k}={args[k]}" for k in sorted(args)) + ")"


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


class Observer:
    """A plugin recording stage lifecycle events, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @podium.hookimpl
    def podium_stage_started(self, stage: podium.Stage) -> None:
        self.events.append(("started", stage.name))

    @podium.hookimpl
    def podium_stage_ended(self, stage: podium.Stage, result: podium.StageResult) -> None:
        self.events.append((result.status.value, stage.name))


OBSERVER = Observer()

#: The events each final status announces, when a plugin listens.
ANNOUNCED = {
    StageStatus.SUCCEEDED: ["started", "succeeded"],
    StageStatus.FAILED: ["started", "failed"],
    StageStatus.SKIPPED: ["skipped"],
}


class StageFailure(RuntimeError):
    """The failure a generated stage raises."""


@dataclass
class Recorder:
    """Watches stage bodies: starts, overlaps, and what had settled when each started."""

    spec: WorkflowSpec
    running: int = 0
    peak: int = 0
    starts: dict[str, int] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    async def body(self, ctx: podium.Context, name: str, args: dict[str, Any]) -> str:
        stage = self.spec.by_name()[name]
        self.starts[name] = self.starts.get(name, 0) + 1
        results = ctx.run.results
        for k in stage.needs:
            if k not in self.ended or k not in results or not results[k].ok:
                self.violations.append(f"{name} started before its need {k} succeeded")
        for k in stage.needs_any:
            if k not in results:
                self.violations.append(f"{name} started before its needs_any {k} settled")
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            for _ in range(stage.yields):
                await asyncio.sleep(0)
            if stage.fails:
                raise StageFailure(f"{name} fails by design")
            return value_of(name, args)
        finally:
            self.running -= 1
            self.ended.add(name)


def build(
    spec: WorkflowSpec, strategy: str, recorder: Recorder, *, fail_fast: bool = False
) -> podium.Workflow:
    """A real workflow for ``spec`` whose stage bodies report to ``recorder``."""
    wf = podium.Workflow("generated", strategy=strategy, max_concurrency=spec.cap, fail_fast=fail_fast)
    for position in spec.declaration:
        stage = spec.stages[position]
        route: Callable[[Any], Any] | None = None
        if stage.route is not None:
            route = lambda _value, chosen=stage.route: list(chosen)  # noqa: E731
        max_visits = 1
        if spec.loop is not None:
            source, target, visits = spec.loop
            if stage.name == source:
                route = _loop_route(target, visits)
            if stage.name == target:
                max_visits = visits
        wf.add_stage(
            _body(stage, recorder.body),
            name=stage.name,
            needs=stage.needs,
            needs_any=stage.needs_any,
            route=route,
            max_visits=max_visits,
        )
    return wf


def _loop_route(target: str, visits: int) -> Callable[[Any], list[str] | None]:
    """Route back to ``target`` until it has run ``visits`` times, then decline (all go on)."""
    calls = 0

    def route(_value: Any) -> list[str] | None:
        nonlocal calls
        calls += 1
        return [target] if calls < visits else None

    return route


def _body(stage: StageSpec, body: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """A stage function whose parameters are named after the stage's dependencies."""
    params = "".join(f", {d}=None" for d in stage.dependencies)
    args = ", ".join(f"{d!r}: {d}" for d in stage.dependencies)
    source = (
        f"async def {stage.name}(ctx{params}):\n    return await _body(ctx, {stage.name!r}, {{{args}}})\n"
    )
    namespace: dict[str, Any] = {"_body": body}
    exec(source, namespace)
    fn: Callable[..., Awaitable[str]] = namespace[stage.name]
    return fn


_managers: dict[tuple[int, ...], Any] = {}


def engine_for(*plugins: object) -> Engine:
    """An engine with exactly the given strategy plugins (no entry-point discovery).

    The plugin manager is built once per plugin set: building one is most of an
    example's cost, and a manager holds no per-engine state.
    """
    key = tuple(id(p) for p in plugins)
    if key not in _managers:
        _managers[key] = create_plugin_manager(autoload=False, plugins=plugins)
    return Engine(config=_CONFIG, plugin_manager=_managers[key], cache_url=False)


_CONFIG = Config()


async def run_spec(
    spec: WorkflowSpec, strategy: str, plugins: Iterable[object], *, fail_fast: bool = False
) -> tuple[RunResult, Recorder]:
    recorder = Recorder(spec)
    OBSERVER.events.clear()
    if spec.observed:
        plugins = [*plugins, OBSERVER]
    async with engine_for(*plugins) as engine:
        result = await engine.run(build(spec, strategy, recorder, fail_fast=fail_fast))
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
) -> RunResult:
    """Run ``spec`` and assert every scheduling property; returns the result for more checks.

    ``cap`` is the concurrency the strategy must respect (``spec.cap``); ``routes`` says
    that the strategy honours the routes of workflows drawn with ``workflows(routes=True)``.
    """
    result, recorder = asyncio.run(run_spec(spec, strategy, plugins))
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
