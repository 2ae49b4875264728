"""Podium: a plugin-based orchestrator for LLM-agent workflows.

The public API is exactly ``podium.__all__`` and these public submodules:

- ``podium.testing``: the pytest plugin (fixtures, a hook-call recorder) for plugin authors.
- ``podium.strategy_checks``: property checks every strategy plugin should pass.
- ``podium.provider_kit``: what agent provider plugins share (options, keys, clients).
- ``podium.report``: run reports (a run's timeline, graph, usage and KPIs as one HTML page).
- ``podium.ui``: the local dashboard (needs ``pip install 'podium[ui]'``).

Everything else, the layer folders (``podium.foundation``, ``podium.values``, ...) and
the modules in them, is internal and may change in any release: import from ``podium``.
"""

import logging

from podium.contract.cache_backend import CacheAdmin, CacheStats
from podium.contract.plugins import create_plugin_manager
from podium.contract.run_store import RunStore
from podium.definition.agents import AgentPolicy, AgentRetry, BreakerPolicy, RateLimit
from podium.definition.config import Config
from podium.definition.options import StageOptions
from podium.definition.plan import Plan
from podium.definition.workflow import Stage, Workflow
from podium.engine.defaults.webhook import WebhookAlertSink
from podium.engine.engine import Engine, run, run_sync, shutdown
from podium.foundation.errors import (
    AgentNotFound,
    BudgetExceeded,
    CacheBackendError,
    CacheKeyError,
    CircuitOpen,
    ConfigError,
    DefinitionError,
    DefinitionErrors,
    FlightAbandoned,
    GatherError,
    MapError,
    NoDocsProvider,
    PluginError,
    PodiumError,
    ProviderError,
    ProviderErrorKind,
    QueueFull,
    ResumeError,
    RoutingError,
    RunStoreError,
    SimulatedAgentError,
    StageTimeout,
    StrategyNotFound,
    TemplateError,
    WorkflowTimeout,
)
from podium.foundation.markers import hookimpl, hookspec
from podium.foundation.redaction import Secret
from podium.foundation.singleflight import SingleFlight
from podium.running.agents import (
    Agent,
    AgentCall,
    AgentReply,
    ProviderFactory,
    SimulatedAgent,
    SimulatedQuota,
)
from podium.running.context import Context
from podium.running.handle import RunHandle
from podium.running.result_cache import ResultCache
from podium.running.scheduler import RunState
from podium.running.strategy import Router, Strategy
from podium.values.alert_rules import KERNEL_ALERTS
from podium.values.alerts import Alert, AlertSink
from podium.values.docs import DocBundle, DocFailure, DocSource, Document
from podium.values.executors import CallExecutor, Executor, StageCall
from podium.values.gathered import Gathered, GatheredDict
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
from podium.values.providers import AgentSpec, Message, Prompt, Quota, RateLimits, parse_retry_after
from podium.values.records import (
    AgentCallRecord,
    BreakerChange,
    DocCounters,
    RunFilter,
    RunRecord,
    VisitRecord,
)
from podium.values.serialization import StoredValue
from podium.values.templates import PromptTemplate
from podium.values.units import Duration

__version__ = "0.1.0"
"""The version of the ``podium`` distribution."""

# A library never configures logging; this only keeps Python from printing our records
# through its last-resort handler when the application configured none.
logging.getLogger("podium").addHandler(logging.NullHandler())

__all__ = [
    "KERNEL_ALERTS",
    "Agent",
    "AgentCall",
    "AgentCallRecord",
    "AgentNotFound",
    "AgentPolicy",
    "AgentReply",
    "AgentRetry",
    "AgentSpec",
    "Alert",
    "AlertSink",
    "BreakerChange",
    "BreakerPolicy",
    "Budget",
    "BudgetExceeded",
    "CacheAdmin",
    "CacheBackendError",
    "CacheKeyError",
    "CachePolicy",
    "CacheStats",
    "CallExecutor",
    "CircuitOpen",
    "Config",
    "ConfigError",
    "Context",
    "DefinitionError",
    "DefinitionErrors",
    "DocBundle",
    "DocCounters",
    "DocFailure",
    "DocSource",
    "Document",
    "Duration",
    "Engine",
    "Executor",
    "FlightAbandoned",
    "GatherError",
    "Gathered",
    "GatheredDict",
    "MapError",
    "Message",
    "NoDocsProvider",
    "Plan",
    "PluginError",
    "PodiumError",
    "Prompt",
    "PromptTemplate",
    "ProviderError",
    "ProviderErrorKind",
    "ProviderFactory",
    "QueueFull",
    "Quota",
    "RateLimit",
    "RateLimits",
    "ResultCache",
    "ResumeError",
    "Retry",
    "Router",
    "RoutingError",
    "RunFilter",
    "RunHandle",
    "RunRecord",
    "RunResult",
    "RunState",
    "RunStatus",
    "RunStore",
    "RunStoreError",
    "Secret",
    "SimulatedAgent",
    "SimulatedAgentError",
    "SimulatedQuota",
    "SingleFlight",
    "Stage",
    "StageCall",
    "StageOptions",
    "StageResult",
    "StageStatus",
    "StageTimeout",
    "StoredValue",
    "Strategy",
    "StrategyNotFound",
    "TemplateError",
    "Usage",
    "VisitRecord",
    "WebhookAlertSink",
    "Workflow",
    "WorkflowTimeout",
    "__version__",
    "agent_key",
    "cache_key",
    "canonical",
    "create_plugin_manager",
    "hookimpl",
    "hookspec",
    "parse_retry_after",
    "run",
    "run_sync",
    "shutdown",
]
