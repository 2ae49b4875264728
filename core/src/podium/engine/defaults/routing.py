"""Built-in routing: a stage's own ``route=`` function or mapping decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podium.definition.workflow import Stage
from podium.foundation.errors import RoutingError
from podium.foundation.markers import hookimpl


@hookimpl(trylast=True)
def podium_route(stage: Stage, value: Any) -> str | Sequence[str] | None:
    route = stage.route
    if route is None:
        return None
    if isinstance(route, Mapping):
        try:
            target: str | Sequence[str] = route[value]
        except (KeyError, TypeError):
            raise RoutingError(
                f"stage {stage.name!r} returned {value!r}, which its route mapping does not cover "
                f"(keys: {list(route)!r})"
            ) from None
        return target
    chosen: str | Sequence[str] | None = route(value)
    return chosen
