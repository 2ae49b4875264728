"""Real workflows built from generated specs, and what watches them run.

The specs (:class:`StageSpec`, :class:`WorkflowSpec`) are drawn by
:func:`podium.strategy_checks.workflows`; :func:`build` turns one into a
:class:`podium.Workflow` whose stage bodies report to a :class:`Recorder`, directly or,
for bodies that run on another executor, through a :class:`Watcher` around each attempt.
Used by :mod:`podium.strategy_checks`; needs no hypothesis.

With maps, a *collection* stage returns 0-3 items (a list, a mapping keyed ``k0``,
``k1``, ..., or ``7``, which has no items), and a stage mapped over a collection or over a
mapped stage runs per item; every item's value ends in ``#<its position>``, so a body
knows which item it is from its arguments alone (also on another executor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import podium
from podium.testing import StageFailure
from podium.values.model import StageStatus

#: What a collection stage that "has no items" returns: not a list or mapping.
NO_ITEMS = 7


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


def value_of(name: str, args: dict[str, Any]) -> str:
    """The value a generated stage returns: its name applied to its arguments."""
    return f"{name}(" + ",".join(f"{k}={args[k]}" for k in sorted(args)) + ")"


def collection_value(stage: StageSpec, base: str) -> Any:
    """The value of collection stage ``stage`` whose plain value would be ``base``."""
    assert stage.items is not None
    if stage.items < 0:
        return NO_ITEMS
    values = [f"{base}#{t}" for t in range(stage.items)]
    return {f"k{t}": value for t, value in enumerate(values)} if stage.keyed else values


def item_position(value: Any) -> int:
    """The position of the item a mapped stage receives (every item value ends in ``#<t>``)."""
    return int(str(value).rsplit("#", 1)[1])


def item_label(name: str, key: Any) -> str:
    """``name``, or ``name[key]`` for an item: what a :class:`Recorder` counts starts by."""
    return name if key is None else f"{name}[{key!r}]"


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
        self.started(name, ctx.run.results, ctx.item_key)
        ok = False
        try:
            value = await pure_body(name, self.spec.by_name()[name], args)
            ok = True
            return value
        finally:
            self.ended_(name, ctx.item_key, ok)

    def started(self, name: str, results: Mapping[str, podium.StageResult], key: Any = None) -> None:
        """A stage body (or item ``key`` of one) starts: check what had settled, count what runs at once."""
        by_name = self.spec.by_name()
        stage = by_name[name]
        label = item_label(name, key)
        self.starts[label] = self.starts.get(label, 0) + 1
        for k in stage.needs:
            if k == stage.map and by_name[k].map is not None:  # follows k's items: its item first
                if item_label(k, key) not in self.succeeded:
                    self.violations.append(f"{label} started before item {key!r} of {k} succeeded")
            elif (k not in self.ended and by_name[k].map is None) or k not in results or not results[k].ok:
                self.violations.append(f"{label} started before its need {k} succeeded")
        for k in stage.needs_any:
            if k not in results:
                self.violations.append(f"{label} started before its needs_any {k} settled")
        self.running += 1
        self.peak = max(self.peak, self.running)

    def ended_(self, name: str, key: Any = None, ok: bool = False) -> None:
        """A stage body (or item ``key`` of one) ended; ``ok`` if it returned a value."""
        self.running -= 1
        label = item_label(name, key)
        self.ended.add(label)
        if ok:
            self.succeeded.add(label)


async def pure_body(name: str, stage: StageSpec, args: dict[str, Any]) -> Any:
    """What a generated stage does: yield ``stage.yields`` times, then fail or return its value."""
    for _ in range(stage.yields):
        await asyncio.sleep(0)
    return sync_body(name, stage, args)


def sync_body(name: str, stage: StageSpec, args: dict[str, Any]) -> Any:
    """:func:`pure_body` for a plain function (no yields)."""
    position = None if stage.map is None else item_position(args[stage.map])
    fails = stage.fails if position is None else position in stage.fails_items
    if fails:
        raise StageFailure(f"{item_label(name, position)} fails by design")
    value = value_of(name, args)
    if stage.items is not None:
        return collection_value(stage, value)
    return value if position is None else f"{value}#{position}"


class Watcher:
    """Watches stage bodies that run elsewhere (another executor) from around each attempt."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @podium.hookimpl(wrapper=True)
    def podium_execute_stage(
        self, stage: podium.Stage, ctx: podium.Context
    ) -> Generator[None, Awaitable[Any], Awaitable[Any]]:
        awaitable = yield
        recorder = self.recorder

        async def watched() -> Any:
            recorder.started(stage.name, ctx.run.results, ctx.item_key)
            ok = False
            try:
                value = await awaitable
                ok = True
                return value
            finally:
                recorder.ended_(stage.name, ctx.item_key, ok)

        return watched()


def build(
    spec: WorkflowSpec,
    strategy: str,
    recorder: Recorder,
    *,
    fail_fast: bool = False,
    executor: str | None = None,
) -> podium.Workflow:
    """A real workflow for ``spec`` whose stage bodies report to ``recorder``.

    With an ``executor``, every stage runs on it: the bodies are then self-contained
    (alternately ``async def`` and plain functions, no context), so that they can run in
    another process, and a :class:`Watcher` reports to ``recorder`` from the engine.
    """
    wf = podium.Workflow(
        "generated", strategy=strategy, max_concurrency=spec.cap, fail_fast=fail_fast, executor=executor
    )
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
            _body(stage, recorder.body) if executor is None else _self_contained(stage, position % 2 == 0),
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


def _self_contained(stage: StageSpec, is_async: bool) -> Callable[..., Any]:
    """A stage function carrying its spec, calling :func:`pure_body` (or :func:`sync_body`)."""
    params = ", ".join(f"{d}=None" for d in stage.dependencies)
    args = ", ".join(f"{d!r}: {d}" for d in stage.dependencies)
    if is_async:
        source = (
            f"async def {stage.name}({params}):\n    return await _pure({stage.name!r}, _spec, {{{args}}})\n"
        )
    else:
        source = f"def {stage.name}({params}):\n    return _pure({stage.name!r}, _spec, {{{args}}})\n"
    namespace: dict[str, Any] = {"_pure": pure_body if is_async else sync_body, "_spec": stage}
    exec(source, namespace)
    fn: Callable[..., Any] = namespace[stage.name]
    return fn
