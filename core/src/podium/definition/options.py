"""Stage options, defined once.

:class:`StageOptions` is the one list of what a stage is declared with. ``@wf.stage(...)``
and :meth:`~podium.Workflow.add_stage` take exactly these keywords (typed through
``Unpack[StageOptions]``), a :class:`~podium.Stage` has a field for each, a TOML
``[[stages]]`` table a key for each, and docs/concepts.md a row for each; a meta-test
fails when one of them drifts. :func:`resolve_options` is their one validation.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypedDict

from podium.foundation.errors import DefinitionError, suggest
from podium.values.model import CachePolicy, Retry

RouteSpec = Callable[[Any], "str | Sequence[str] | None"] | Mapping[Any, "str | Sequence[str]"]


class StageOptions(TypedDict, total=False):
    """Every option of a stage; each may be left out (``None`` also means "not given")."""

    name: str | None
    """The stage's name (default: the function's ``__name__``)."""
    description: str | None
    """One line for people (default: the first line of the function's docstring)."""
    needs: str | Iterable[str] | None
    """Stages that must succeed first."""
    needs_any: str | Iterable[str] | None
    """A join: runs after these settle, if at least one ran."""
    map: str | None
    """The stage whose value (a list or mapping of items) this stage runs once per item of
    (a need, implied); over a mapped stage, once per item of that stage's items."""
    partial: bool | None
    """A mapped stage whose items fail still succeeds with the items that did (the others
    listed in its gathered value's ``failures``); by default any failed item fails it."""
    timeout: float | None
    """Seconds one attempt may take."""
    retry: Retry | None
    """How a failed attempt is retried."""
    cache: CachePolicy | bool | None
    """Reuse the result of an identical call (``True``: the default policy)."""
    route: RouteSpec | None
    """A function of the stage's value, or a mapping from value to stage, naming which
    dependents run."""
    on_error: Callable[[BaseException], Any] | None
    """A function of the final error whose return value is used instead of failing."""
    fallback: Any
    """A value used instead of failing (``None`` too, when given)."""
    version: str | None
    """Identifies the code in cache keys (default: a hash of the function's source)."""
    executor: str | None
    """Where the body runs (default: the workflow's ``executor=``, else the configured
    ``executor``, else ``inline`` for ``async def`` and ``thread`` for a plain function)."""
    executor_options: Mapping[str, Any] | None
    """Options for the stage's executor, which checks them (e.g. ``{"resources": {"GPU": 1}}``
    for ``dask``)."""
    estimate: float | None
    """Expected seconds, for critical-path-first scheduling."""
    max_visits: int | None
    """How often a route may bring the run back to this stage (default 1: no loop)."""
    agents: str | Iterable[str] | None
    """The agents the stage calls, checked against the engine's before a run starts
    (default: the names of its literal ``ctx.agent("...")`` calls; ``[]`` checks none)."""


#: The option names, in declaration order.
OPTION_NAMES: tuple[str, ...] = tuple(StageOptions.__annotations__)

#: ``Stage.fallback`` when none was given (``None`` is a valid fallback value).
NOTSET: Any = object()


def source_version(fn: Callable[..., Any]) -> str | None:
    """A short hash of a function's source code, or ``None`` when it has no usable source."""
    if getattr(fn, "__name__", "") == "<lambda>":
        return None
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _generator_kind(fn: Callable[..., Any]) -> str | None:
    """``"an async generator"`` or ``"a generator"`` when calling ``fn`` makes one."""
    plain = inspect.isroutine(fn) or isinstance(fn, functools.partial)
    call = fn if plain else type(fn).__call__  # a callable object: its __call__
    if inspect.isasyncgenfunction(call):
        return "an async generator"
    if inspect.isgeneratorfunction(call):
        return "a generator"
    return None


def stage_names(
    value: str | Iterable[str] | None, what: str, stage: str, kind: str = "stages"
) -> tuple[str, ...]:
    """A ``needs``-like option as a tuple of names (of stages, or of ``kind``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        names = tuple(value)
    except TypeError:
        raise DefinitionError(
            f"stage {stage!r}: {what} must name {kind}, got {value!r}", option=what
        ) from None
    for name in names:
        if not isinstance(name, str):
            raise DefinitionError(f"stage {stage!r}: {what} must name {kind}, got {name!r}", option=what)
    return names


def resolve_options(fn: Callable[..., Any], options: Mapping[str, Any], workflow: str) -> dict[str, Any]:
    """Check ``options`` for the stage body ``fn`` and fill in their defaults.

    Returns one value per name in :data:`OPTION_NAMES`, as :class:`~podium.Stage` holds it;
    raises :class:`DefinitionError` naming the stage and the option.
    """
    if not callable(fn):
        raise DefinitionError(f"workflow {workflow!r}: a stage must be a function, got {fn!r}")
    name = options.get("name") or getattr(fn, "__name__", None)
    if not isinstance(name, str) or not name or name == "<lambda>":
        raise DefinitionError(f"workflow {workflow!r}: give the stage for {fn!r} a name=")
    generator = _generator_kind(fn)
    if generator:
        # Its body would never run: calling it only makes a generator object.
        raise DefinitionError(
            f"stage {name!r} is {generator} function (it yields), but a stage returns one "
            "value: return it (a list of the items, say) instead of yielding",
            option="run",
        )
    unknown = [option for option in options if option not in OPTION_NAMES]
    if unknown:
        raise DefinitionError(
            f"stage {name!r}: unknown option {unknown[0]!r}{suggest(unknown[0], OPTION_NAMES)}; "
            f"the options are {', '.join(OPTION_NAMES)}"
        )

    def given(option: str) -> Any:
        return options.get(option)

    timeout, estimate = given("timeout"), given("estimate")
    for option, value in (("timeout", timeout), ("estimate", estimate)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise DefinitionError(
                f"stage {name!r}: {option} must be a number of seconds, got {value!r}", option=option
            )
    if timeout is not None and timeout <= 0:
        raise DefinitionError(f"stage {name!r}: timeout must be > 0, got {timeout}", option="timeout")
    if estimate is not None and estimate < 0:
        raise DefinitionError(f"stage {name!r}: estimate must be >= 0, got {estimate}", option="estimate")
    max_visits = 1 if given("max_visits") is None else given("max_visits")
    if isinstance(max_visits, bool) or not isinstance(max_visits, int) or max_visits < 1:
        raise DefinitionError(
            f"stage {name!r}: max_visits must be an integer >= 1, got {max_visits!r}", option="max_visits"
        )
    retry = given("retry")
    if retry is not None and not isinstance(retry, Retry):
        raise DefinitionError(f"stage {name!r}: retry must be a podium.Retry, got {retry!r}", option="retry")
    cache = given("cache")
    policy = CachePolicy() if cache is True else (cache or None)
    if policy is not None and not isinstance(policy, CachePolicy):
        raise DefinitionError(
            f"stage {name!r}: cache must be a podium.CachePolicy or True, got {cache!r}", option="cache"
        )
    route = given("route")
    if route is not None and not (callable(route) or isinstance(route, Mapping)):
        raise DefinitionError(
            f"stage {name!r}: route must be a function or a mapping, got {route!r}", option="route"
        )
    on_error = given("on_error")
    if on_error is not None and not callable(on_error):
        raise DefinitionError(
            f"stage {name!r}: on_error must be a function of the error, got {on_error!r}", option="on_error"
        )
    for option in ("description", "version", "executor"):
        if given(option) is not None and not isinstance(given(option), str):
            raise DefinitionError(
                f"stage {name!r}: {option} must be a string, got {given(option)!r}", option=option
            )
    version = given("version") or (policy.version if policy else None)
    if policy is not None and version is None:
        version = source_version(fn)
        if version is None:
            raise DefinitionError(
                f"stage {name!r} is cached but its function has no readable source "
                "(a lambda, a notebook cell or a builtin): pass version='...' to the stage"
            )
    executor_options = given("executor_options")
    if executor_options is not None and not (
        isinstance(executor_options, Mapping) and all(isinstance(key, str) for key in executor_options)
    ):
        raise DefinitionError(
            f"stage {name!r}: executor_options must be a mapping of option names to values, "
            f"got {executor_options!r}",
            option="executor_options",
        )
    mapped = given("map")
    if mapped is not None and (not isinstance(mapped, str) or not mapped):
        raise DefinitionError(
            f"stage {name!r}: map must name the stage whose items it runs for, got {mapped!r}",
            option="map",
        )
    partial = given("partial")
    if partial is not None and not isinstance(partial, bool):
        raise DefinitionError(
            f"stage {name!r}: partial must be True or False, got {partial!r}", option="partial"
        )
    if partial and mapped is None:
        raise DefinitionError(
            f"stage {name!r}: partial=True applies to a mapped stage; add map='<stage with the items>'",
            option="partial",
        )
    needs = stage_names(given("needs"), "needs", name)
    needs_any = stage_names(given("needs_any"), "needs_any", name)
    if mapped is not None and mapped not in needs and mapped not in needs_any:
        needs = (*needs, mapped)  # a map needs its items (one in needs_any is a definition error)
    description = given("description")
    return {
        "name": name,
        "description": (inspect.getdoc(fn) or "").split("\n")[0] if description is None else description,
        "needs": needs,
        "needs_any": needs_any,
        "map": mapped,
        "partial": bool(partial),
        "timeout": timeout,
        "retry": retry,
        "cache": policy,
        "route": route,
        "on_error": on_error,
        "fallback": options.get("fallback", NOTSET),
        "version": version,
        "executor": given("executor"),
        "executor_options": dict(executor_options or {}),
        "estimate": estimate,
        "max_visits": max_visits,
        "agents": None if given("agents") is None else stage_names(given("agents"), "agents", name, "agents"),
    }
