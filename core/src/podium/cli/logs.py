"""Logging set-up for the CLI (the library itself never configures logging).

Podium logs to the ``podium`` logger hierarchy; records about a run carry ``run_id``,
``workflow`` and ``stage`` in their ``extra``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_CONTEXT_FIELDS = ("run_id", "workflow", "stage", "alert")
_HANDLER_NAME = "podium-cli"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, with podium's context fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                payload[field] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class ContextFormatter(logging.Formatter):
    """``LEVEL logger [workflow/stage run] message`` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        where = "/".join(
            str(v) for v in (getattr(record, "workflow", None), getattr(record, "stage", None)) if v
        )
        run_id = getattr(record, "run_id", None)
        prefix = f"[{where}{' ' + run_id if run_id else ''}] " if where or run_id else ""
        record.podium_context = prefix
        return super().format(record)


def configure_logging(level: str = "WARNING", *, json_lines: bool = False) -> logging.Handler:
    """Send the ``podium`` loggers' records to stderr at ``level``; returns the handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonLineFormatter()
        if json_lines
        else ContextFormatter("%(levelname)s %(name)s %(podium_context)s%(message)s")
    )
    handler.set_name(_HANDLER_NAME)
    logger = logging.getLogger("podium")
    for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(old)  # configuring twice replaces, never duplicates, the output
    logger.setLevel(level.upper())
    logger.addHandler(handler)
    return handler
