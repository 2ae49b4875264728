"""The seed's deployment checklist, evaluated against a workflow and an engine's configuration.

Each item is met (✓), missing (✗, with the reason and the fix) or not applicable (-,
with why): ``podium check`` exits 1 when an item is missing, so CI can gate on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs

from podium.definition.agent_names import plan_agents
from podium.definition.workflow import Workflow
from podium.foundation.errors import install_hint
from podium.foundation.redaction import redact_url
from podium.values.alerts import LogAlertSink

if TYPE_CHECKING:
    from podium.engine.engine import Engine

#: Events a plugin observes when it collects metrics about runs (tracing, exporters...).
_METRIC_EVENTS = ("podium_workflow_ended", "podium_stage_ended", "podium_agent_call_ended")


@attrs.frozen
class CheckItem:
    """One checklist item: ``ok`` is True (met), False (missing) or None (not applicable)."""

    name: str
    ok: bool | None
    reason: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.name, "ok": self.ok, "reason": self.reason, "fix": self.fix or None}


def _names(names: list[str]) -> str:
    shown = ", ".join(map(repr, names[:8]))
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def _error_handlers(workflow: Workflow) -> CheckItem:
    name = "error handlers"
    if workflow.fail_fast:
        return CheckItem(name, True, "fail_fast=True: the first failure stops the run (a deliberate choice)")
    missing = [s.name for s in workflow.stages.values() if not s.has_fallback]
    if not missing:
        return CheckItem(name, True, "every stage has a fallback or an on_error handler")
    return CheckItem(
        name,
        False,
        f"{len(missing)} of {len(workflow.stages)} stages have no error handler: {_names(missing)}",
        "give them fallback= or on_error=, or make the workflow fail_fast=True deliberately",
    )


def _timeouts(workflow: Workflow) -> CheckItem:
    name = "timeouts"
    missing = [s.name for s in workflow.stages.values() if s.timeout is None]
    if workflow.timeout is not None:
        extra = f"; stages without their own: {_names(missing)}" if missing else ""
        return CheckItem(name, True, f"the run is bounded by timeout={workflow.timeout:g}s{extra}")
    if not missing:
        return CheckItem(name, True, "every stage has a timeout")
    return CheckItem(
        name,
        False,
        f"no workflow timeout, and {len(missing)} stages have none: {_names(missing)}",
        "set timeout= on those stages (seconds one attempt may take) or a workflow timeout=",
    )


def _called_agents(engine: Engine, workflow: Workflow) -> list[str]:
    """The registered agents the workflow's stages call (``agents=``, or literal ``ctx.agent``)."""
    names = dict.fromkeys(agent for _, agent in plan_agents(workflow.plan()))
    return [name for name in names if name in engine.agents]


def _circuit_breakers(engine: Engine, workflow: Workflow) -> CheckItem:
    name = "circuit breakers"
    called = _called_agents(engine, workflow)
    if not called:
        return CheckItem(name, None, "the workflow calls no agent")
    missing = [agent for agent in called if engine.agents.managed(agent).policy.breaker is None]
    if not missing:
        return CheckItem(name, True, f"every agent the workflow calls has a breaker: {_names(called)}")
    return CheckItem(
        name,
        False,
        f"{len(missing)} of the {len(called)} agents the workflow calls have no breaker: {_names(missing)}",
        "set breaker = { failures = 5, reset_s = 30 } in their [agents.<name>] tables "
        "(or podium.AgentPolicy(breaker=podium.BreakerPolicy()) in code)",
    )


def _rate_limits(engine: Engine, workflow: Workflow) -> CheckItem:
    name = "rate limiting"
    called = _called_agents(engine, workflow)
    if not called:
        return CheckItem(name, None, "the workflow calls no agent")
    shared = engine.config.settings.limits
    missing = []
    for agent in called:
        managed = engine.agents.managed(agent)
        key = managed.policy.limit_key or managed.provider
        own, keyed = managed.policy.limits, shared.get(key)
        if not (own.limited or (keyed is not None and keyed.limited)):
            missing.append(agent)
    if not missing:
        return CheckItem(name, True, f"every agent the workflow calls is rate limited: {_names(called)}")
    return CheckItem(
        name,
        False,
        f"{len(missing)} of the {len(called)} agents the workflow calls have no rate limit: "
        f"{_names(missing)}",
        "set rpm/tpm in their [agents.<name>] tables, or shared ones for their provider key in "
        "[limits.<provider>]",
    )


def _receives_warnings(logger: logging.Logger | None) -> list[logging.Handler]:
    """The handlers a WARNING record of ``logger`` reaches (as ``Logger.callHandlers`` walks)."""
    found: list[logging.Handler] = []
    while logger is not None:
        found += [
            h
            for h in logger.handlers
            if not isinstance(h, logging.NullHandler) and h.level <= logging.WARNING
        ]
        if not logger.propagate:
            break
        logger = logger.parent
    return found


def _logging() -> CheckItem:
    logger = logging.getLogger("podium")
    handlers = _receives_warnings(logger)
    if not logger.isEnabledFor(logging.WARNING):
        return CheckItem(
            "logging",
            False,
            f"the podium logger drops warnings (level {logging.getLevelName(logger.getEffectiveLevel())})",
            "log at WARNING or below (log_level in the configuration, --log-level)",
        )
    if not handlers:
        return CheckItem(
            "logging",
            False,
            "no handler receives podium's records",
            "configure logging (the command line does; in code, logging.basicConfig or a handler "
            "on the 'podium' logger)",
        )
    kinds = ", ".join(sorted({type(h).__name__ for h in handlers}))
    return CheckItem("logging", True, f"podium's warnings reach {kinds}")


def _metrics(engine: Engine) -> CheckItem:
    observers = sorted(
        {
            impl.plugin_name.split(".")[0]  # an engine's own instance is named plugin.<id>
            for event in _METRIC_EVENTS
            for impl in getattr(engine.hook, event).get_hookimpls()
            if not impl.plugin_name.startswith("podium.")
        }
    )
    parts = []
    store = engine.monitor.store
    if store is not None:
        parts.append(f"the run store {redact_url(store.url)} records every run")
    if observers:
        parts.append(f"plugins observing runs: {', '.join(observers)}")
    if parts:
        return CheckItem("metrics collection", True, "; ".join(parts))
    return CheckItem(
        "metrics collection",
        False,
        "no run store and no plugin collecting metrics",
        f"configure store = 'sqlite:///.podium/runs.sqlite3', or collect metrics with OpenTelemetry: "
        f"{install_hint('metrics')}",
    )


def _caching(engine: Engine, workflow: Workflow) -> CheckItem:
    cached = [s.name for s in workflow.stages.values() if s.cache is not None]
    if not cached:
        return CheckItem(
            "caching",
            False,
            "no stage has a cache policy",
            "add cache=podium.CachePolicy(...) to the stages whose inputs repeat (agent calls cost tokens)",
        )
    if not engine.result_cache.enabled:
        return CheckItem(
            "caching",
            False,
            f"{len(cached)} stages have a cache policy, but no cache is configured",
            "set cache_url (sqlite:///..., redis://...; the command line defaults to a SQLite file)",
        )
    return CheckItem(
        "caching",
        True,
        f"{len(cached)} of {len(workflow.stages)} stages cached in "
        f"{redact_url(engine.result_cache.url or '?')}",
    )


def _monitoring(engine: Engine) -> CheckItem:
    sinks = [s for s in engine.alerts.sinks if not isinstance(s, LogAlertSink) and s is not engine.monitor]
    if sinks:
        return CheckItem("monitoring", True, f"alerts go to {', '.join(map(repr, sinks))} (and the log)")
    return CheckItem(
        "monitoring",
        False,
        "alerts only go to the log",
        "add a webhook ([alerts.webhooks.<name>] url = ...), or install a plugin with an alert sink",
    )


def deployment_checklist(engine: Engine, workflow: Workflow) -> list[CheckItem]:
    """Every item of the checklist for ``workflow`` on ``engine`` (started)."""
    return [
        _error_handlers(workflow),
        _timeouts(workflow),
        _circuit_breakers(engine, workflow),
        _logging(),
        _metrics(engine),
        _caching(engine, workflow),
        _rate_limits(engine, workflow),
        _monitoring(engine),
    ]


__all__ = ["CheckItem", "deployment_checklist"]
