"""Trace context across the cluster: injected where work is submitted, attached where it runs.

The standard OpenTelemetry propagation (docs/otel.md): ``propagate.inject`` into a small
dict that travels with the task, ``context.attach(propagate.extract(...))`` on the worker.
Without ``opentelemetry-api`` on either side, nothing is carried and nothing fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Carrier = dict[str, str]

try:
    from opentelemetry import context as _context
    from opentelemetry import propagate as _propagate

    TRACING = True
except ImportError:  # pragma: no cover - exercised where opentelemetry-api is absent
    TRACING = False


def current_carrier() -> Carrier | None:
    """The caller's trace context as headers, or ``None`` when there is none to carry."""
    if not TRACING:
        return None
    carrier: Carrier = {}
    _propagate.inject(carrier)
    return carrier or None


def attached(carrier: Carrier | None) -> Callable[[], None]:
    """Make ``carrier``'s context current; returns what restores the previous one."""
    if carrier is None or not TRACING:
        return _nothing
    token: Any = _context.attach(_propagate.extract(carrier))
    context = _context

    def detach() -> None:
        context.detach(token)

    return detach


def _nothing() -> None:
    return None
