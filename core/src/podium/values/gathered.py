"""What a dependent of a mapped stage receives: the items' values, gathered in item order.

A :class:`Gathered` is a ``list`` and a :class:`GatheredDict` a ``dict`` (for items that
came from a mapping), so a gather reads like the plain value it is; ``failures`` lists
the items that did not succeed, which only a stage declared ``partial=True`` lets through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from podium.values.model import StageResult

K = TypeVar("K")
V = TypeVar("V")


class Gathered(list[V]):
    """The values of a mapped stage's items that succeeded, in item order.

    ``failures`` maps the index of each item that did not succeed to its
    :class:`~podium.StageResult` (its error, or why it was skipped or cancelled); it is
    empty unless the stage is ``partial=True``. Equal to the plain list of its values.
    """

    failures: dict[int, StageResult]

    def __init__(self, values: Iterable[V] = (), failures: Mapping[int, StageResult] | None = None) -> None:
        super().__init__(values)
        self.failures = dict(failures or {})


class GatheredDict(dict[K, V]):
    """The values of a mapped stage's items that succeeded, by the keys of the mapping the
    items came from, in its order.

    ``failures`` maps the key of each item that did not succeed to its
    :class:`~podium.StageResult`; it is empty unless the stage is ``partial=True``.
    Equal to the plain dict of its values.
    """

    failures: dict[K, StageResult]

    def __init__(
        self, values: Iterable[tuple[K, V]] = (), failures: Mapping[K, StageResult] | None = None
    ) -> None:
        super().__init__(values)
        self.failures = dict(failures or {})


def failure_text(result: StageResult) -> str:
    """One item's outcome for a person (and for cache keys): its status and error or reason."""
    if result.error is not None:
        message = str(result.error)
        error = f"{type(result.error).__name__}: {message}" if message else type(result.error).__name__
        return f"{result.status.value}: {error}"
    return f"{result.status.value}: {result.reason}" if result.reason else result.status.value


def gathered_failures(value: Any) -> dict[Any, StageResult] | None:
    """The failures a gathered value carries, or ``None`` for any other value."""
    if isinstance(value, Gathered | GatheredDict):
        failures: dict[Any, StageResult] = value.failures
        return failures
    return None
