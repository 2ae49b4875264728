"""Naming what cannot travel to a worker, when Dask fails to serialize a task.

Dask reports only that the task graph could not be serialized. On that failure (never on
the hot path) the function and each argument are pickled again one by one, the way Dask
pickles them (cloudpickle), and the first failing one is searched for the innermost
object that fails: a closure variable or global of the function, an item or attribute of
an argument.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import FunctionType
from typing import Any

import cloudpickle

_MAX_DEPTH = 4


def _fails(value: Any) -> BaseException | None:
    try:
        cloudpickle.dumps(value)
    except Exception as error:
        return error
    return None


def _parts(value: Any) -> Iterator[tuple[str, Any]]:
    """The objects ``value`` is pickled with, each with how a person would name it."""
    if isinstance(value, FunctionType):
        code = value.__code__
        for name, cell in zip(code.co_freevars, value.__closure__ or (), strict=False):
            try:
                yield f"variable {name!r}", cell.cell_contents
            except ValueError:  # an empty cell
                continue
        for name in code.co_names:
            if name in value.__globals__:
                yield f"global {name!r}", value.__globals__[name]
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"[{key!r}]", item
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield f"[{index}]", item
    else:
        state = getattr(value, "__dict__", None)
        if isinstance(state, dict):
            for name, item in state.items():
                yield f".{name}", item


def _describe(value: Any) -> str:
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"a {module}{kind.__qualname__}"


def _join(what: str, part: str) -> str:
    return f"{what}{part}" if part[0] in ".[" else f"{what}'s {part}"


def culprit(what: str, value: Any, depth: int = 0) -> str | None:
    """Where ``value`` (named ``what``) stops pickling, described, or ``None`` when it pickles."""
    error = _fails(value)
    if error is None:
        return None
    if depth < _MAX_DEPTH:
        for name, part in _parts(value):
            if part is not value:
                inner = culprit(_join(what, name), part, depth + 1)
                if inner is not None:
                    return inner
    return f"{what} holds {_describe(value)}, which cannot be pickled ({type(error).__name__}: {error})"


def unpicklable(fn: Any, kwargs: Mapping[str, Any]) -> str | None:
    """The first thing of a stage call that cannot be pickled, described, or ``None``."""
    found = culprit("the function", fn)
    if found is not None:
        return found
    for name, value in kwargs.items():
        found = culprit(f"argument {name!r}", value)
        if found is not None:
            return found
    return None
