"""Podium's hook specifications: the whole public contract between the kernel and plugins.

The specs are grouped by concern, in this order, here and in the hook reference: stage
execution, caching, routing, doc fetching, alerting (the five concerns of the kernel),
then registration and lifecycle events. The events of one concern (cache hits, routes
taken, doc fetches, budgets and alerts) sit with its hooks; the starts and ends of
engines, runs, stages and agent calls are the lifecycle.

Every hook is called with keyword arguments, so an implementation may accept any subset
of a spec's parameters, and new parameters can be added without breaking plugins.

**The async convention.** pluggy is synchronous; Podium runs on asyncio. A hook
implementation is a plain function. One that does asynchronous work returns an
*awaitable*, and the kernel awaits it. A ``firstresult`` implementation declines by
returning ``None`` *synchronously*: an ``async def`` implementation can never decline,
because a coroutine object is not ``None``. So write:

    @hookimpl
    def podium_fetch_docs(libraries, query, tokens, ctx):
        if not handles(libraries):
            return None          # declines; the next implementation is asked
        return fetch(libraries, query, tokens, ctx)   # a coroutine: the kernel awaits it

Wrappers use ``@hookimpl(wrapper=True)`` (never the old ``hookwrapper``). A wrapper that
times or traces an awaitable result must return a *new* coroutine that awaits it:

    @hookimpl(wrapper=True)
    def podium_execute_stage(stage, ctx):
        awaitable = yield
        async def timed():
            started = time.perf_counter()
            try:
                return await awaitable
            finally:
                record(stage.name, time.perf_counter() - started)
        return timed()

**Lifecycle events** (``podium_workflow_*``, ``podium_stage_*``, ...) are observers: their
return values are ignored and they must not block. Stage events are called inside the
stage's own asyncio task, so context variables set in ``podium_stage_started`` are
visible to the stage body and to its agent calls (this is how tracing parents spans).
The kernel looks up once per run which events have implementations and calls only those.

**Registration hooks** (``podium_register_*``) receive a ``register`` callback, so a
plugin adds things without knowing the container that holds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from podium.foundation.markers import hookspec

if TYPE_CHECKING:
    from aiocache.base import BaseCache

    from podium.contract.run_store import RunStore
    from podium.definition.config import Config
    from podium.definition.workflow import Stage
    from podium.engine.engine import Engine
    from podium.running.agents import Agent, AgentCall, ProviderFactory
    from podium.running.agents.limiter import LimitsBackend
    from podium.running.context import Context
    from podium.running.scheduler import RunState
    from podium.running.strategy import Strategy
    from podium.values.alerts import Alert, AlertSink
    from podium.values.docs import DocBundle
    from podium.values.executors import Executor
    from podium.values.model import Budget, CachePolicy, RunResult, StageResult, Usage


# --------------------------------------------------------- stage execution
# How one attempt of a stage body is invoked; wrappers here see every attempt.


@hookspec(firstresult=True)
def podium_execute_stage(
    stage: Stage, ctx: Context, kwargs: Mapping[str, Any], attempt: int
) -> Awaitable[Any] | None:
    """Invoke one attempt of a stage body and return an awaitable of its value.

    :param stage: The stage being run (``stage.fn``, ``stage.executor_options``, ...).
    :param ctx: The stage's :class:`podium.Context`.
    :param kwargs: The arguments the body is called with, by parameter name
        (``ctx`` included when the body asks for it).
    :param attempt: 1 for the first attempt, 2 for the first retry, ...
    :return: An awaitable of the stage's value, or ``None`` to decline.

    The built-in implementation hands the body to the stage's executor (its own
    ``executor=``, else its workflow's, else the configured ``executor``): as a
    :class:`podium.StageCall` to an executor with ``submit_call``, else to ``submit``.
    Timeouts and retries are applied by the kernel around each attempt. Wrappers
    (``wrapper=True``) see every attempt; they must return a new coroutine.

    Stops at the first non-None result.
    """


# ----------------------------------------------------------------- caching
# Stage-result cache keys and backends, and what the caches did.


@hookspec(firstresult=True)
def podium_cache_key(
    stage: Stage, kwargs: Mapping[str, Any], policy: CachePolicy, run: RunState, item_key: Any
) -> str | None:
    """Compute the cache key of a stage call.

    :param stage: The stage; ``stage.version`` identifies its code.
    :param kwargs: The workflow inputs and upstream values the body receives (no ``ctx``);
        for an item of a mapped stage, the item among them.
    :param policy: The stage's :class:`podium.CachePolicy`.
    :param run: The run the call belongs to.
    :param item_key: For an item of a stage mapped over a mapping, the item's key (part of
        what the item is); ``None`` otherwise: a list's item is identified by its value,
        so reordering or growing the list keeps the keys of the items already there.
    :return: A key string, or ``None`` to decline. Keys never contain secrets.

    The built-in implementation hashes the workflow name, stage name, stage version,
    the policy's namespace, the canonical form of ``kwargs`` (or the result of
    ``policy.key``) and the ``item_key``, if any.

    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def podium_cache_backend(url: str, config: Config) -> BaseCache | None:
    """Create the cache backend for a cache URL (``memory://``, ``redis://...``, ...).

    :param url: The configured ``cache_url``.
    :param config: The engine's effective configuration.
    :return: An aiocache cache (a ``BaseCache``), or ``None`` when the scheme is not yours.
        To take part in ``podium cache stats|clear`` it also implements
        :class:`podium.CacheAdmin`; its other optional members are described in
        :mod:`podium.contract.cache_backend`.

    Called once per engine, and once per ``podium cache`` command.
    Stops at the first non-None result.
    """


@hookspec
def podium_cache_hit(run: RunState, stage: Stage | None, kind: str, key: str, saved: Usage) -> None:
    """A cached result was used instead of spending work.

    :param stage: The stage concerned (``None`` for calls made outside a stage).
    :param kind: ``"stage"``, ``"agent"`` or ``"docs"``.
    :param key: The cache key (never contains secrets).
    :param saved: The usage (tokens, cost) the original execution spent, now saved.

    Return value ignored.
    """


@hookspec
def podium_cache_miss(run: RunState, stage: Stage | None, kind: str, key: str) -> None:
    """A cache lookup found nothing; the work is done and, on success, stored.

    :param stage: The stage concerned (``None`` for calls made outside a stage).
    :param kind: ``"stage"``, ``"agent"`` or ``"docs"``.
    :param key: The cache key (never contains secrets).

    Return value ignored.
    """


# ----------------------------------------------------------------- routing
# Where a run goes after a routing stage (for the routers of strategies that route).


@hookspec(firstresult=True)
def podium_route(
    stage: Stage, value: Any, ctx: Context, candidates: Sequence[str]
) -> str | Sequence[str] | Awaitable[str | Sequence[str]] | None:
    """Choose which of a finished stage's direct dependents run (strategies that route).

    :param stage: The stage that just succeeded.
    :param value: Its result value.
    :param ctx: Its context (``ctx.agent(...)`` is available for classifier routing).
    :param candidates: The names the route may pick from: the stage's direct dependents
        and, when loops are allowed, the earlier stages it may return to.
    :return: A stage name or a sequence of names, an awaitable of one, or ``None`` to
        decline (then every dependent runs).

    The built-in implementation calls the stage's own ``route=`` function. Called by
    the routers of strategies that route (see :class:`podium.Router`), for the stages
    they route.

    Stops at the first non-None result.
    """


@hookspec
def podium_route_taken(run: RunState, stage: Stage, targets: Sequence[str], skipped: Sequence[str]) -> None:
    """A routing stage chose where the run goes next.

    :param targets: The stages it picked (dependents, or earlier stages for a loop).
    :param skipped: The direct dependents it did not pick (they are skipped).

    Return value ignored.
    """


# ------------------------------------------------------------ doc fetching
# Library documentation for ``ctx.docs(...)``.


@hookspec(firstresult=True)
def podium_fetch_docs(
    libraries: Sequence[str], query: str, tokens: int | None, ctx: Context
) -> Awaitable[DocBundle] | None:
    """Fetch library documentation for a stage, within a token budget (``ctx.docs(...)``).

    :param libraries: Library names (``"fastapi"``) or ids (``"/tiangolo/fastapi"``).
    :param query: What the documentation is needed for; providers rank by it.
    :param tokens: The token budget shared by all libraries, or ``None`` for the
        provider's default.
    :param ctx: The calling stage's context, for usage accounting and events.
    :return: An awaitable of a :class:`podium.DocBundle`, or ``None`` to decline.

    Stops at the first non-None result.
    """


@hookspec
def podium_doc_fetch_ended(run: RunState, stage: Stage | None, bundle: DocBundle) -> None:
    """A documentation fetch (``ctx.docs``) ended.

    :param bundle: The :class:`podium.DocBundle`: documents, per-library errors, counters.

    Return value ignored.
    """


# ---------------------------------------------------------------- alerting
# Budgets spent and alerts raised (sinks are registered under registration).


@hookspec
def podium_budget_exceeded(run: RunState, budget: Budget, usage: Usage, reason: str) -> None:
    """A run's budget is spent: no new stage starts; running stages finish.

    :param budget: The workflow's :class:`podium.Budget`.
    :param usage: The run's usage when the breach was seen.
    :param reason: Which limit, e.g. ``"tokens 210000 > 200000"``.

    Called once per run. Return value ignored.
    """


@hookspec
def podium_alert_raised(alert: Alert) -> None:
    """An alert was raised (after de-duplication), before it is sent to the sinks.

    Return value ignored.
    """


# ------------------------------------------------------------ registration
# Things a plugin adds to an engine through a ``register`` callback, or opens by URL (a
# limits backend, the run store).


@hookspec
def podium_register_strategies(register: Callable[[Strategy], None]) -> None:
    """Register execution strategies (scheduling policies) by calling ``register(strategy)``.

    :param register: Takes a :class:`podium.Strategy` instance; its ``name`` is what a
        workflow's ``strategy=`` names. Registering a name twice is an error that names
        both plugins.

    Called once per engine, when it starts. Return value ignored.
    """


@hookspec
def podium_register_executors(register: Callable[[str, Executor], None]) -> None:
    """Register executors, which decide *where* a stage body runs, by ``register(name, executor)``.

    An executor is an object with ``submit(fn, kwargs) -> Awaitable`` (see
    :class:`podium.Executor`): the event loop, a thread, a remote worker. One that needs
    the stage's name, priority and ``executor_options`` implements
    ``submit_call(call) -> Awaitable`` instead (:class:`podium.CallExecutor`, receiving a
    :class:`podium.StageCall`); either may implement ``check(stage) -> Iterable[str]`` to
    refuse, before a run starts, stages it cannot run. How a stage is *invoked*
    (retries, tracing, timing) is :func:`podium_execute_stage`, not this.

    Called once per engine, when it starts. Return value ignored.
    """


@hookspec
def podium_register_agents(register: Callable[[str, Agent], None], config: Config) -> None:
    """Register agents by name with ``register(name, agent)``; stages use ``ctx.agent(name)``.

    :param register: Takes a name and an object implementing :class:`podium.Agent`.
    :param config: The engine's effective configuration.

    Called once per engine, when it starts. Return value ignored.
    """


@hookspec
def podium_register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    """Register agent providers by name with ``register(name, factory)``.

    :param register: Takes the name an agent declares as ``provider = "..."`` and a
        factory ``factory(spec: podium.AgentSpec, config: podium.Config) -> podium.Agent``
        that builds one agent of that provider. An agent makes exactly one attempt per
        ``complete`` call and raises :class:`podium.ProviderError` on failure (the kernel
        retries, limits and breaks circuits). Registering a name twice is an error that
        names the provider.

    Called once per engine, when it starts. Return value ignored.
    """


@hookspec(firstresult=True)
def podium_limits_backend(url: str, config: Config) -> LimitsBackend | None:
    """Open the store of rate-limit meters for a ``limits_backend`` URL.

    :param url: The configured ``limits_backend`` (``memory://``, ``redis://host:port/db``).
    :param config: The engine's effective configuration.
    :return: An object implementing the limits-backend protocol
        (``podium.running.agents.limiter.LimitsBackend``: ``try_acquire``, ``settle``,
        ``block``, ``used``, ``close``), or ``None`` when the scheme is not yours. Meters
        kept in a store several processes share are one limit for all of them.

    Called once per engine, when it starts, if some agent or provider key has limits.
    Stops at the first non-None result.
    """


@hookspec
def podium_register_alert_sinks(register: Callable[[AlertSink], None], config: Config) -> None:
    """Register alert sinks with ``register(sink)``; every raised alert goes to every sink.

    :param register: Takes an object implementing :class:`podium.AlertSink`.
    :param config: The engine's effective configuration.

    Called once per engine, when it starts. Return value ignored.
    """


@hookspec(firstresult=True)
def podium_run_store(url: str, config: Config) -> RunStore | None:
    """Open the run store for a store URL (``sqlite:///.podium/runs.sqlite3``, ...).

    :param url: The configured ``store`` (the command line's default file when none is).
    :param config: The engine's effective configuration (``config.settings.run_store``
        holds the serializer, content capture and heartbeat settings).
    :return: An object implementing :class:`podium.RunStore` (not opened yet), or
        ``None`` when the URL's scheme is not yours.

    The built-in implementation opens SQLite files (``sqlite:///relative``,
    ``sqlite:////absolute``). Called once per engine that records runs, and once per
    ``podium runs|resume|stats|alerts|cost|store`` command.
    Stops at the first non-None result.
    """


@hookspec
def podium_register_config_sections(register: Callable[..., None]) -> None:
    """Declare the configuration section a plugin owns with ``register(name, attrs_class)``.

    The section ``[plugins.<name>]`` of the configuration is structured into
    ``attrs_class`` with cattrs; errors name the exact key. Read it back with
    ``config.section(name)``. Fields holding seconds are annotated ``podium.Duration``.

    A plugin whose settings also come from environment variables of its own says which
    with ``register(name, attrs_class, env={"api_key": "SERVICE_API_KEY"})``: a variable
    gives its field's value when the configuration does not, and ``podium config`` shows
    that value (masked when secret) with the variable as its source.

    Called when a configuration is loaded. Return value ignored.
    """


# --------------------------------------------------------------- lifecycle
# Observers of an engine, its runs, their stages and agent calls.


@hookspec
def podium_engine_started(engine: Engine) -> Awaitable[None] | None:
    """Called when an engine starts, after registration: open clients, pools, exporters.

    :param engine: The engine; ``engine.config`` holds the effective configuration.
    :return: ``None``, or an awaitable the engine awaits before running anything.

    All implementations are called.
    """


@hookspec
def podium_engine_stopping(engine: Engine) -> Awaitable[None] | None:
    """Called when an engine shuts down: flush exporters, close clients.

    :param engine: The engine being shut down.
    :return: ``None``, or an awaitable the engine awaits. A failure here is logged and
        does not stop the other plugins' clean-up.

    All implementations are called.
    """


@hookspec
def podium_workflow_started(run: RunState) -> None:
    """A workflow run started; ``run.id``, ``run.workflow`` and ``run.inputs`` are set.

    Called on the caller's task before the first stage starts. Return value ignored.
    """


@hookspec
def podium_workflow_ended(run: RunState, result: RunResult) -> None:
    """A workflow run ended, whatever its status (succeeded, failed, cancelled, timed out...).

    :param result: The final :class:`podium.RunResult`, with every stage's result.

    Return value ignored.
    """


@hookspec
def podium_stage_started(run: RunState, stage: Stage, ctx: Context) -> None:
    """A stage is about to run its first attempt (after its cache lookup missed).

    For an item of a mapped stage, ``ctx.item_key`` says which item (each item starts
    in a task of its own).

    Called inside the stage's task: context variables set here reach the body.
    Return value ignored.
    """


@hookspec
def podium_stage_ended(run: RunState, stage: Stage, result: StageResult) -> None:
    """A stage visit ended; ``result.status`` says how.

    :param result: The :class:`podium.StageResult`: ``succeeded`` or ``cached`` (with its
        value), ``failed`` (``result.error`` holds the exception), ``skipped``
        (``result.reason`` says why: a failed dependency, a route, a budget) or
        ``cancelled`` (workflow timeout, ``fail_fast``, the caller, or a loop that made
        the visit stale).

    Called once per visit: inside the stage's task for a stage that ran (succeeded,
    cached, failed), from the scheduler for one that was skipped or cancelled. A mapped
    stage's items are its visits (``result.item_key`` says which); once every item is
    decided, it is called once more with the stage's gathered result (``result.items``
    holds the items' results), which is not a visit.
    Return value ignored.
    """


@hookspec
def podium_stage_retried(
    run: RunState, stage: Stage, attempt: int, error: BaseException, delay: float
) -> None:
    """An attempt failed and the stage will be retried.

    :param attempt: The attempt that failed (1 for the first).
    :param error: Its exception.
    :param delay: Seconds the kernel waits before the next attempt.

    Called inside the stage's task. Return value ignored.
    """


@hookspec
def podium_agent_call_started(run: RunState, stage: Stage | None, call: AgentCall) -> None:
    """A stage is calling an agent.

    :param call: The :class:`podium.AgentCall`; ``agent``, ``provider``, ``model`` and
        ``prompt`` are set.

    Called inside the calling task. Return value ignored.
    """


@hookspec
def podium_agent_call_ended(run: RunState, stage: Stage | None, call: AgentCall) -> None:
    """An agent call ended.

    :param call: The same :class:`podium.AgentCall`, now with ``reply``, ``usage``,
        ``attempts`` (requests sent, retries included) and ``duration_s``, or ``error``;
        ``cached`` and ``saved`` when the agent-call cache answered, ``fallback`` when
        another agent did.

    Called inside the calling task. Return value ignored.
    """


@hookspec
def podium_breaker_changed(run: RunState | None, agent: str, state: str, previous: str, reason: str) -> None:
    """An agent's circuit breaker changed state.

    :param run: The run whose call changed it (``None`` outside a run).
    :param agent: The agent's name.
    :param state: The new state: ``"open"`` (calls fail fast with :class:`podium.CircuitOpen`
        or go to the fallback), ``"half_open"`` (one probe call is let through) or
        ``"closed"`` (calls go again).
    :param previous: The state it left.
    :param reason: Why, for a person (``"5 consecutive failure(s), last: ..."``).

    Called inside the calling task; for alerts, traces and KPIs. Return value ignored.
    """
