"""Choosing a library among Context7's search results."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from podium_context7.config import is_library_id

#: States whose documentation can never be served.
_DEAD_STATES = frozenset({"error", "delete"})
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _normal(text: str) -> str:
    return _NON_WORD.sub("", text.lower())


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _names_match(name: str, result: Mapping[str, Any]) -> bool:
    wanted = _normal(name)
    repo = str(result.get("id", "")).strip("/").split("/")
    return wanted in (_normal(str(result.get("title", ""))), _normal(repo[1] if len(repo) > 1 else ""))


def choose(name: str, results: Sequence[Any]) -> Mapping[str, Any] | None:
    """The best result for ``name``: finalized first, then an exact name, trust, benchmark.

    Ties keep the service's order (its own ranking). Results in the ``error`` or
    ``delete`` state, or without a valid id, are never chosen.
    """
    usable = [
        r
        for r in results
        if isinstance(r, Mapping)
        and is_library_id(str(r.get("id", "")))
        and str(r.get("state", "finalized")) not in _DEAD_STATES
    ]
    if not usable:
        return None
    ranked = sorted(
        enumerate(usable),
        key=lambda item: (
            str(item[1].get("state", "finalized")) != "finalized",
            not _names_match(name, item[1]),
            -_number(item[1].get("trustScore")),
            -_number(item[1].get("benchmarkScore")),
            item[0],
        ),
    )
    return ranked[0][1]


def describe(result: Mapping[str, Any]) -> str:
    """A one-line account of a chosen result, for the log."""
    return (
        f"{result.get('id')} ({result.get('title', '?')}, state={result.get('state', '?')}, "
        f"trust={result.get('trustScore', '?')}, benchmark={result.get('benchmarkScore', '?')})"
    )
