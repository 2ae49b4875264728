"""Units of configuration values that the values layer declares too (durations)."""

from __future__ import annotations

from typing import Annotated

Duration = Annotated[float, "seconds; also '250ms', '30s', '5m', '2h', '1d'"]
"""The type of a configuration field holding seconds: a number, or a string such as
``"250ms"``, ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"`` (never negative). A plain ``float``
field takes numbers only. A plugin's section class annotates its timeouts and TTLs with
it (``timeout: podium.Duration = 30.0``)."""

__all__ = ["Duration"]
