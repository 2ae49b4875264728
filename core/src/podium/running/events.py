"""Lifecycle events: which hooks have implementations, and calling them safely.

The kernel checks once per run which lifecycle hooks anyone implements (cheaply: the
answer is cached until the plugin manager's plugins change), so an event nobody listens
to costs one set lookup.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.engine.engine import Engine

_log = logging.getLogger("podium.run")

_BUILTIN_EXECUTION = "podium.engine.defaults.execution"

#: Events called inside a stage's task: with none of them implemented, nothing needs to
#: run in the task around the body.
STAGE_TASK_EVENTS = frozenset({"podium_stage_started", "podium_stage_finished", "podium_stage_failed"})

#: The lifecycle hooks the kernel fires, only when some plugin implements them.
EVENTS = (
    "podium_workflow_started",
    "podium_workflow_finished",
    "podium_stage_started",
    "podium_stage_finished",
    "podium_stage_failed",
    "podium_stage_skipped",
    "podium_stage_cancelled",
    "podium_stage_retried",
    "podium_route_taken",
    "podium_cache_hit",
    "podium_cache_miss",
    "podium_agent_call_started",
    "podium_agent_call_finished",
    "podium_doc_fetch_finished",
    "podium_budget_exceeded",
)


# Per plugin manager: the plugins it had, the events they implement, whether only the
# built-in executes stages. Recomputed whenever the set of registered plugins changes.
_facts: weakref.WeakKeyDictionary[Any, tuple[set[object], frozenset[str], bool]] = weakref.WeakKeyDictionary()


def hook_facts(engine: Engine) -> tuple[frozenset[str], bool]:
    """Which lifecycle events have implementations, and whether only the built-in
    ``podium_execute_stage`` is installed; checked once per run (cheaply: cached until
    the manager's plugins change)."""
    pm = engine.pm
    plugins = pm.get_plugins()
    cached = _facts.get(pm)
    if cached is not None and cached[0] == plugins:
        return cached[1], cached[2]
    hook = engine.hook
    active = frozenset(name for name in EVENTS if getattr(hook, name).get_hookimpls())
    execute = hook.podium_execute_stage.get_hookimpls()
    direct = len(execute) == 1 and execute[0].plugin_name == _BUILTIN_EXECUTION
    _facts[pm] = (plugins, active, direct)
    return active, direct


class Events:
    """The lifecycle hooks that have implementations, looked up once per run.

    ``events.emit("podium_stage_started", ...)`` costs one attribute check when nobody listens.
    """

    __slots__ = ("_hook", "active")

    def __init__(self, hook: Any, active: frozenset[str]) -> None:
        self._hook = hook
        self.active = active

    def emit(self, name: str, **kwargs: Any) -> None:
        if name in self.active:
            try:
                getattr(self._hook, name)(**kwargs)
            except Exception:
                # An observer's bug must never cost a stage its result.
                _log.exception("a plugin's %s implementation raised; ignored", name)
