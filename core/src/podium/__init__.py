"""Podium: a plugin-based orchestrator for LLM-agent workflows.

The public API is exactly ``__all__``; everything else is internal.
"""

import logging

from podium.contract.plugins import create_plugin_manager
from podium.definition.config import Config
from podium.definition.options import StageOptions
from podium.definition.plan import Plan
from podium.definition.strategy import Strategy, critical_path_priorities
from podium.definition.workflow import Stage, Workflow
from podium.engine.engine import Engine, run, run_sync, shutdown
from podium.foundation.errors import (
    ConfigError,
    DefinitionError,
    PluginError,
    PodiumError,
    RoutingError,
    StageTimeout,
    StrategyNotFound,
    WorkflowTimeout,
)
from podium.foundation.markers import hookimpl, hookspec
from podium.foundation.redaction import Secret
from podium.foundation.singleflight import SingleFlight
from podium.running.agents import Agent, AgentCall, AgentReply, SimulatedAgent
from podium.running.context import Context
from podium.running.result_cache import ResultCache
from podium.running.scheduler import Run
from podium.values.alerts import Alert, AlertSink
from podium.values.docs import DocBundle, DocError, Document
from podium.values.keys import agent_key, cache_key, canonical
from podium.values.model import (
    Budget,
    CachePolicy,
    Retry,
    RunResult,
    RunStatus,
    StageResult,
    StageStatus,
    Usage,
)

__version__ = "0.1.0"

# A library never configures logging; this only keeps Python from printing our records
# through its last-resort handler when the application configured none.
logging.getLogger("podium").addHandler(logging.NullHandler())

__all__ = [
    "Agent",
    "AgentCall",
    "AgentReply",
    "Alert",
    "AlertSink",
    "Budget",
    "CachePolicy",
    "Config",
    "ConfigError",
    "Context",
    "DefinitionError",
    "DocBundle",
    "DocError",
    "Document",
    "Engine",
    "Plan",
    "PluginError",
    "PodiumError",
    "ResultCache",
    "Retry",
    "RoutingError",
    "Run",
    "RunResult",
    "RunStatus",
    "Secret",
    "SimulatedAgent",
    "SingleFlight",
    "Stage",
    "StageOptions",
    "StageResult",
    "StageStatus",
    "StageTimeout",
    "Strategy",
    "StrategyNotFound",
    "Usage",
    "Workflow",
    "WorkflowTimeout",
    "__version__",
    "agent_key",
    "cache_key",
    "canonical",
    "create_plugin_manager",
    "critical_path_priorities",
    "hookimpl",
    "hookspec",
    "run",
    "run_sync",
    "shutdown",
]
