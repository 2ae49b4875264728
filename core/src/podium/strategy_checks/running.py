"""Running a drawn workflow on a real engine and checking every scheduling promise."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import podium
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
from podium.strategy_checks import maps as _maps
from podium.strategy_checks.drawing import StageSpec, WorkflowSpec
from podium.strategy_checks.reference import expected, value_of


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
    #: Starts and ends by stage name, or ``name[key]`` for an item of a mapped stage.
    starts: dict[str, int] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    async def body(self, ctx: podium.Context, name: str, args: dict[str, Any]) -> Any:
        by_name = self.spec.by_name()
        stage = by_name[name]
        key = ctx.item_key
        label = name if key is None else _maps.item_label(name, key)
        self.starts[label] = self.starts.get(label, 0) + 1
        results = ctx.run.results
        for k in stage.needs:
            if k == stage.map and by_name[k].map is not None:  # follows k's items: its item first
                if _maps.item_label(k, key) not in self.succeeded:
                    self.violations.append(f"{label} started before item {key!r} of {k} succeeded")
            elif (k not in self.ended and by_name[k].map is None) or k not in results or not results[k].ok:
                self.violations.append(f"{label} started before its need {k} succeeded")
        for k in stage.needs_any:
            if k not in results:
                self.violations.append(f"{label} started before its needs_any {k} settled")
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            for _ in range(stage.yields):
                await asyncio.sleep(0)
            fails = stage.fails if key is None else _maps.position(key) in stage.fails_items
            if fails:
                raise StageFailure(f"{label} fails by design")
            value = value_of(name, args)
            self.succeeded.add(label)
            return value if stage.items is None else _maps.collection_value(stage, value)
        finally:
            self.running -= 1
            self.ended.add(label)


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
            map=stage.map,
            partial=stage.partial or None,
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
            label = got.name if got.item_key is None else _maps.item_label(got.name, got.item_key)
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
