"""Naming what cannot travel to a worker, when Dask fails to serialize a task.

Dask reports only that the task graph could not be serialized. On that failure (never on
the hot path) the function and each argument are pickled again one by one, the way Dask
pickles them (cloudpickle), and the first failing one is searched for the innermost
object that fails: a closure variable or global of the function, an item or attribute of
an argument.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Iterator, Mapping
from types import FunctionType
from typing import Any

import cloudpickle

_MAX_DEPTH = 4

# Module name -> whether workers could not import it (see :func:`for_workers`).
_local: dict[str, bool] = {}


class ByValue:
    """Pickles what it holds with cloudpickle, by value, inside any pickle (Dask's too).

    Dask pickles a task with plain ``pickle`` first, which sends every function of an
    imported module by reference, for the worker to import; cloudpickle's by-value
    registry applies only to what cloudpickle itself pickles. Unpickled, this is the object
    it held: the worker's code never sees the wrapper.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return cloudpickle.loads, (cloudpickle.dumps(self.value),)


def unwrapped(value: Any) -> Any:
    """What a :class:`ByValue` holds; the value itself when it was never pickled (a worker
    in this process may receive objects as they are)."""
    return value.value if isinstance(value, ByValue) else value


def is_local(fn: Any) -> bool:
    """Whether the module defining ``fn`` could not be imported by name on a worker.

    A module loaded from a file under another name (``podium run pipeline.py`` loads it
    as ``podium_target_pipeline``), or from a directory not on the path, is local: its
    functions and classes must travel by value. ``__main__`` and notebook cells already do.
    """
    name = getattr(fn, "__module__", None)
    if not isinstance(name, str) or name == "__main__":
        return False
    local = _local.get(name)
    if local is None:
        module = sys.modules.get(name)
        top = name.partition(".")[0]
        local = _local[name] = module is not None and (
            top not in sys.builtin_module_names and importlib.machinery.PathFinder.find_spec(top) is None
        )
        if local:
            cloudpickle.register_pickle_by_value(module)
    return local


def for_workers(fn: Any, value: Any) -> tuple[Any, Any]:
    """``fn`` and ``value`` as they should be handed to Dask (wrapped when ``fn`` is local,
    so that its module's functions and classes in ``value`` travel whole)."""
    if is_local(fn):
        return ByValue(fn), ByValue(value)
    return fn, value


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
