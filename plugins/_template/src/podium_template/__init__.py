"""A Podium plugin skeleton: one hook implementation to start from."""

from __future__ import annotations

import logging

import podium

_log = logging.getLogger("podium.plugins.template")


@podium.hookimpl
def podium_workflow_ended(run: podium.RunState, result: podium.RunResult) -> None:
    _log.info("workflow %s ended: %s", run.workflow.name, result.status)
