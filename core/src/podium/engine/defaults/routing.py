"""Built-in routing: a stage's own ``route=`` function or mapping decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podium.definition.workflow import Stage
from podium.foundation.markers import hookimpl
from podium.running.execution import route_value


@hookimpl(trylast=True)
def podium_route(stage: Stage, value: Any) -> str | Sequence[str] | None:
    route = stage.route
    if route is None:
        return None
    if isinstance(route, Mapping):
        return route_value(route, value, stage)
    chosen: str | Sequence[str] | None = route(value)
    return chosen
