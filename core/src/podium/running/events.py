"""Lifecycle events: which hooks have implementations, and calling them safely.

The kernel checks once per run which lifecycle hooks anyone implements (cheaply: the
answer is cached until the plugin manager's plugins change), so an event nobody listens
to costs one set lookup.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import attrs
import pluggy

_log = logging.getLogger("podium.run")

_BUILTIN_EXECUTION = "podium.engine.defaults.execution"
_BUILTIN_CACHING = "podium.engine.defaults.caching"

#: Events called inside a stage's task: with none of them implemented, nothing needs to
#: run in the task around the body.
STAGE_TASK_EVENTS = frozenset({"podium_stage_started", "podium_stage_ended"})

#: The lifecycle hooks the kernel fires, only when some plugin implements them.
EVENTS = (
    "podium_workflow_started",
    "podium_workflow_ended",
    "podium_stage_started",
    "podium_stage_ended",
    "podium_stage_retried",
    "podium_route_taken",
    "podium_cache_hit",
    "podium_cache_miss",
    "podium_agent_call_started",
    "podium_agent_call_ended",
    "podium_doc_fetch_ended",
    "podium_budget_exceeded",
    "podium_breaker_changed",
)


@attrs.frozen
class HookFacts:
    """What the installed plugins implement, as far as the stage path cares."""

    #: The lifecycle events some plugin implements.
    active: frozenset[str]
    #: Whether a plugin besides the built-in implements ``podium_execute_stage``.
    hooked_execution: bool
    #: Whether a plugin besides the built-in implements ``podium_cache_key``.
    hooked_cache_key: bool = True

    @property
    def observes_stage_tasks(self) -> bool:
        """Whether some plugin listens to an event fired inside a stage's task."""
        return not self.active.isdisjoint(STAGE_TASK_EVENTS)


# Per plugin manager: the plugins it had and the facts about them; recomputed whenever
# the set of registered plugins changes.
_facts: weakref.WeakKeyDictionary[pluggy.PluginManager, tuple[set[object], HookFacts]] = (
    weakref.WeakKeyDictionary()
)


def hook_facts(pm: pluggy.PluginManager) -> HookFacts:
    """The :class:`HookFacts` of ``pm``'s plugins (cached until its plugins change)."""
    plugins = pm.get_plugins()
    cached = _facts.get(pm)
    if cached is not None and cached[0] == plugins:
        return cached[1]
    hook = pm.hook
    active = frozenset(name for name in EVENTS if getattr(hook, name).get_hookimpls())
    facts = HookFacts(
        active,
        not _only(hook.podium_execute_stage, _BUILTIN_EXECUTION),
        not _only(hook.podium_cache_key, _BUILTIN_CACHING),
    )
    _facts[pm] = (plugins, facts)
    return facts


def _only(caller: Any, plugin: str) -> bool:
    impls = caller.get_hookimpls()
    return len(impls) == 1 and impls[0].plugin_name == plugin


class Events:
    """The lifecycle hooks that have implementations, looked up once per run.

    ``events.emit("podium_stage_started", ...)`` costs one set lookup when nobody listens.
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
