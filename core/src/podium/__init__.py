"""Podium: a plugin-based orchestrator for LLM-agent workflows.

The public API is exactly ``__all__``; everything else is internal.
"""

import logging

from podium.agents import Agent, AgentCall, AgentReply, SimulatedAgent
from podium.alerts import Alert, AlertSink
from podium.config import Config, Secret
from podium.context import Context
from podium.definition import Stage, Workflow
from podium.docs import DocBundle, DocError, Document
from podium.engine import Engine, run, run_sync, shutdown
from podium.errors import (
    ConfigError,
    DefinitionError,
    PluginError,
    PodiumError,
    RoutingError,
    StageTimeout,
    StrategyNotFound,
    WorkflowTimeout,
)
from podium.markers import hookimpl, hookspec
from podium.model import (
    Budget,
    CachePolicy,
    Retry,
    RunResult,
    RunStatus,
    StageResult,
    StageStatus,
    Usage,
)
from podium.plan import Plan
from podium.plugins import create_plugin_manager
from podium.scheduler import Run
from podium.strategy import Strategy, critical_path_priorities

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
    "Retry",
    "RoutingError",
    "Run",
    "RunResult",
    "RunStatus",
    "Secret",
    "SimulatedAgent",
    "Stage",
    "StageResult",
    "StageStatus",
    "StageTimeout",
    "Strategy",
    "StrategyNotFound",
    "Usage",
    "Workflow",
    "WorkflowTimeout",
    "__version__",
    "create_plugin_manager",
    "critical_path_priorities",
    "hookimpl",
    "hookspec",
    "run",
    "run_sync",
    "shutdown",
]
