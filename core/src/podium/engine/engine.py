"""The :class:`Engine`: plugins, registries, cache and configuration for running workflows.

An engine is an async context manager made to live inside an existing asyncio
application: it never owns or replaces the event loop, never configures logging and
never prints. :func:`run` and :func:`run_sync` use a default engine.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
import weakref
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from podium.contract.plugins import PodiumPluginManager, configured_plugin_manager
from podium.definition.agents import AgentPolicy
from podium.definition.config import Config
from podium.definition.plan import Plan
from podium.definition.workflow import Workflow
from podium.engine import resume as resuming
from podium.engine.agents import assemble
from podium.engine.monitoring import Monitor
from podium.engine.runs import RunQueue
from podium.foundation.errors import (
    INSTALL_HINTS,
    DefinitionErrors,
    PluginError,
    PodiumError,
    ResumeError,
    StrategyNotFound,
    install_hint,
)
from podium.foundation.redaction import redact_url
from podium.running.agents import Agent, AgentRegistry
from podium.running.agents.limiter import Limiter
from podium.running.estimates import DurationEstimator
from podium.running.events import hook_facts
from podium.running.handle import RunHandle
from podium.running.result_cache import ResultCache
from podium.running.scheduler import RunState
from podium.running.stage_path import executor_errors
from podium.running.strategy import Strategy
from podium.values.alerts import Alert, AlertRouter, AlertSink, Severity
from podium.values.executors import Executor
from podium.values.model import RunResult
from podium.values.pricing import Pricing
from podium.values.providers import AgentSpec
from podium.values.records import DEFAULT_STORE_URL
from podium.values.templates import PromptTemplate, TemplateRegistry

_log = logging.getLogger("podium.engine")


class Registry(Mapping[str, Any]):
    """Named things registered by plugins (strategies, executors); duplicates are errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def add(self, name: str, item: Any) -> None:
        if name in self._items and self._items[name] is not item:
            raise PluginError(f"two plugins register the {self.kind} {name!r}")
        self._items[name] = item

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Engine:
    """Runs workflows with the installed plugins. Use as ``async with Engine() as engine``.

    :param config: The configuration (default: :meth:`Config.load` from the working directory).
    :param plugin_manager: A prepared manager (default: built from the configuration).
    :param plugins: Extra plugin objects to register (modules or instances with hooks).
    :param agents: Agents to register by name, besides those plugins register: objects
        implementing :class:`podium.Agent`, or :class:`podium.AgentSpec` declarations that
        a registered provider builds.
    :param policies: :class:`podium.AgentPolicy` by agent name (pool, limits, breaker,
        retry, fallback, cache); an ``[agents.<name>]`` table of the configuration wins.
    :param cache_url: A cache URL overriding the configured ``cache_url`` (``"memory://"``,
        ``"redis://..."``), or ``None`` to keep the configured one, or ``False`` for no cache.
    :param max_concurrent: Workflow runs at once (default: ``[scheduler] max_concurrent``,
        else no limit); the others wait in a queue, highest ``priority`` first.
    :param queue_size: Runs that may wait (default: ``[scheduler] queue_size``, else no limit).
    :param templates: :class:`podium.PromptTemplate` objects for ``ctx.template(name)``,
        besides the ``[templates.<name>]`` tables of the configuration.
    :param store: A run store URL overriding the configured ``store``
        (``"sqlite:///runs.sqlite3"``), ``None`` to keep the configured one, or ``False``
        for none. An engine records runs only when a store is given or configured.

    The result cache (stage and agent-call caching) is :attr:`result_cache`, opened when
    the engine starts; the run store is ``engine.monitor.store``.
    """

    def __init__(
        self,
        *,
        config: Config | None = None,
        plugin_manager: PodiumPluginManager | None = None,
        plugins: Iterable[object] = (),
        agents: Mapping[str, Agent | AgentSpec] | None = None,
        policies: Mapping[str, AgentPolicy] | None = None,
        cache_url: str | Literal[False] | None = None,
        max_concurrent: int | None = None,
        queue_size: int | None = None,
        templates: Iterable[PromptTemplate] = (),
        store: str | Literal[False] | None = None,
    ) -> None:
        self.config = config if config is not None else Config.load()
        settings = self.config.settings
        self.pm = plugin_manager or configured_plugin_manager(settings)
        for plugin in plugins:
            if not self.pm.is_registered(plugin):  # e.g. also installed through its entry point
                self.pm.register(plugin)
        self.hook = self.pm.hook
        self.strategies: Registry = Registry("strategy")
        self.executors: Registry = Registry("executor")
        #: Agent providers by name: factories of agents from their declarations.
        self.providers: Registry = Registry("provider")
        self.agents = AgentRegistry()
        self._extra_agents = {n: a for n, a in (agents or {}).items() if not isinstance(a, AgentSpec)}
        self._agent_specs = {n: a for n, a in (agents or {}).items() if isinstance(a, AgentSpec)}
        self._policies = dict(policies or {})
        #: The rate limiter every agent call passes (its meters in ``limits_backend``).
        self.limiter: Limiter | None = None
        #: Prompt templates by name (``ctx.template(name)``).
        self.templates = TemplateRegistry(
            [PromptTemplate(name, t.prefix, t.body) for name, t in settings.templates.items()]
        )
        for template in templates:
            self.templates.add(template)
        #: The workflow scheduler: runs at once, the queue, priorities, drain.
        self.runs = RunQueue(
            max_concurrent if max_concurrent is not None else settings.scheduler.max_concurrent,
            queue_size if queue_size is not None else settings.scheduler.queue_size,
            execute=self._execute,
        )
        self.alerts = AlertRouter(
            lambda alert: self.hook.podium_alert_raised(alert=alert), cooldown_s=settings.alerts.cooldown
        )
        self.pricing = Pricing(settings.pricing)
        self._cache_url: str | None = (
            None if cache_url is False else (cache_url if isinstance(cache_url, str) else settings.cache_url)
        )
        self.result_cache = ResultCache(None)
        #: Expected stage durations, learned from the runs of strategies that order by them.
        self.estimator = DurationEstimator()
        # The strategies each plan has passed the checks of (a plan is one definition's).
        self._checked: weakref.WeakKeyDictionary[Plan, set[str]] = weakref.WeakKeyDictionary()
        self._started = False
        self._stopped = False
        self._submitted: set[RunHandle] = set()
        #: The run store, live KPIs and alert rules (a plugin registered when the engine starts).
        self.monitor = Monitor(self, _store_url(settings.store) if store is None else store or None)

    def __repr__(self) -> str:
        state = "started" if self._started and not self._stopped else "stopped" if self._stopped else "new"
        return f"<Engine {state} strategies={sorted(self.strategies)}>"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Collect registrations, open the cache, let plugins set up. Idempotent."""
        if self._started:
            return
        self.register_plugins()
        self.setup_agents()
        if self._cache_url:
            backend = self.hook.podium_cache_backend(url=self._cache_url, config=self.config)
            if backend is None:
                raise PodiumError(
                    f"no installed plugin provides the cache backend for {redact_url(self._cache_url)!r} "
                    "(built in: memory://, sqlite:///path, redis://host:port/db, memcached://host:port)"
                )
            self.result_cache = ResultCache(
                backend, url=self._cache_url, timeout=self.config.settings.cache_timeout
            )
        self._started = True
        await self.monitor.start()
        await _await_all(self.hook.podium_engine_started(engine=self), "podium_engine_started")

    async def stop(self, *, drain: bool = False) -> None:
        """Stop: with ``drain``, accept no new run and let the queued and running ones finish;
        without, cancel them (their handles still give their results). Then let plugins
        clean up, deliver pending alerts, close the cache and the limits. Idempotent."""
        if not self._started or self._stopped:
            return
        self.runs.close()
        if drain:
            await self.runs.drained()
        self._stopped = True
        running = list(self._submitted)
        for handle in running:
            handle.cancel("the engine is shutting down")
        if running:
            await asyncio.gather(*(handle.result() for handle in running), return_exceptions=True)
        await self.monitor.drain()  # runs' final records and alert rules, before alerts drain
        await self.alerts.drain()
        await _await_all(self.hook.podium_engine_stopping(engine=self), "podium_engine_stopping")
        await self.monitor.close()
        await self.result_cache.close()
        if self.limiter is not None:
            await self.limiter.backend.close()

    def setup_agents(self) -> None:
        """Build the declared agents and wrap every agent in its policies (done by :meth:`start`)."""
        if self.limiter is None:
            self.limiter = assemble(self, self._agent_specs, self._policies)

    def register_plugins(self) -> None:
        """Ask every plugin for its config sections, strategies, executors, agents, sinks."""

        self.hook.podium_register_config_sections(register=self.config.register_section)
        self.config.validate_sections()

        def register_strategy(strategy: Strategy) -> None:
            if not isinstance(strategy, Strategy) or not strategy.name:
                raise PluginError(f"{strategy!r} is not a named podium.Strategy")
            self.strategies.add(strategy.name, strategy)

        def register_executor(name: str, executor: Executor) -> None:
            self.executors.add(name, executor)

        def register_sink(sink: AlertSink) -> None:
            self.alerts.sinks.append(sink)

        self.hook.podium_register_strategies(register=register_strategy)
        self.hook.podium_register_executors(register=register_executor)
        self.hook.podium_register_providers(register=self.providers.add)
        self.hook.podium_register_agents(register=self.agents.register, config=self.config)
        self.hook.podium_register_alert_sinks(register=register_sink, config=self.config)
        for name, agent in self._extra_agents.items():
            self.agents.register(name, agent)

    # ------------------------------------------------------------------ running

    def strategy_for(self, workflow: Workflow) -> Strategy:
        """The strategy a workflow names (or the configured default), with a helpful error."""
        name = workflow.strategy or self.config.settings.strategy
        if name not in self.strategies:
            installed = ", ".join(sorted(self.strategies)) or "none"
            known = [need.removeprefix("strategy ") for need in INSTALL_HINTS if need.startswith("strategy ")]
            close = difflib.get_close_matches(name, known + list(self.strategies), n=1)
            hint = f" Did you mean {close[0]!r}?" if close and close[0] != name else ""
            command = install_hint(f"strategy {name}")
            install = f" Install it with: {command}" if command else ""
            if command and not self.strategies:
                install += f" (or every Podium plugin: {install_hint('everything')})"
            raise StrategyNotFound(
                f"workflow {workflow.name!r} uses strategy {name!r}, which no installed plugin "
                f"provides (installed: {installed}).{hint}{install}"
            )
        strategy: Strategy = self.strategies[name]
        return strategy

    def prepare(self, workflow: Workflow, inputs: Mapping[str, Any] | None) -> tuple[Plan, Strategy]:
        """Validate a workflow (for a run with ``inputs``, when given); raises before anything runs."""
        plan = workflow.validate(inputs)
        strategy = self.strategy_for(workflow)
        checked = self._checked.setdefault(plan, set())
        if strategy.name in checked:  # a plan passes a strategy's checks once for all its runs
            return plan, strategy
        errors = list(strategy.check(workflow, plan))
        errors.extend(self.agents.unknown(plan))  # before any stage spends a token
        errors += executor_errors(plan, workflow, self.config.settings.executor, self.executors)
        if errors:
            routing = sorted(name for name, s in self.strategies.items() if s.routes)
            if routing and not strategy.routes and any(s.route is not None for s in plan.stages):
                errors.append(f"strategies installed that route: {', '.join(routing)}")
            raise DefinitionErrors(errors, source=f"workflow {workflow.name!r} (strategy {strategy.name!r})")
        checked.add(strategy.name)
        return plan, strategy

    async def run(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        priority: int = 0,
    ) -> RunResult:
        """Run ``workflow`` with ``inputs`` and return its :class:`RunResult`.

        Definition and input errors raise before any stage starts. Stage failures do not
        raise: they are in the result. Cancelling the caller cancels every running stage
        and propagates; to cancel and still receive the result, use :meth:`submit`.
        With ``max_concurrent`` set, the run first waits for a slot (``priority`` as in
        :meth:`submit`).
        """
        run = await self._new_run(workflow, inputs, run_id)
        return await self.runs.run(run, priority)

    async def _execute(self, run: RunState) -> RunResult:
        result = await run.execute()
        recording = self.monitor.finished(run)  # a stored run's end is recorded when this returns
        if recording is not None:
            await recording
        return result

    async def _new_run(
        self, workflow: Workflow, inputs: Mapping[str, Any] | None, run_id: str | None
    ) -> RunState:
        """A validated run, not started: everything that can be wrong is checked here."""
        run = await self._build_run(workflow, inputs, run_id)
        recording = self.monitor.run_created(run)
        if recording is not None:
            await recording
        return run

    async def _build_run(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None,
        run_id: str | None,
        resumed_from: str | None = None,
    ) -> RunState:
        if not self._started:
            await self.start()
        if self._stopped:
            raise PodiumError("this engine has been stopped; create a new one")
        self.runs.check_open()
        values = {**workflow.input_defaults, **(inputs or {})}
        plan, strategy = self.prepare(workflow, values)
        recorder = self.monitor.recorder(workflow, plan, strategy, resumed_from=resumed_from)
        return RunState(
            workflow,
            plan,
            strategy,
            values,
            hook=self.hook,
            facts=hook_facts(self.pm),
            config=self.config,
            result_cache=self.result_cache,
            pricing=self.pricing,
            agents=self.agents,
            alerts=self.alerts,
            estimator=self.estimator,
            executors=self.executors,
            engine=self,
            run_id=run_id,
            recorder=recorder,
        )

    async def submit(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        priority: int = 0,
        wait: bool = True,
    ) -> RunHandle:
        """Start ``workflow`` in a task, or queue it, and return a :class:`~podium.RunHandle`.

        Definition and input errors raise here, before any stage starts. Use the handle
        to ``cancel()`` the run, queued or running, and still get its result
        (``await handle``). With ``max_concurrent`` set and every slot taken, the run
        waits in the queue (higher ``priority`` first, then in submission order); when
        the queue is full (``queue_size``) this waits for room, or with ``wait=False``
        raises :class:`podium.QueueFull`.
        """
        return await self._submit(await self._new_run(workflow, inputs, run_id), priority, wait)

    async def _submit(self, run: RunState, priority: int, wait: bool) -> RunHandle:
        place = await self.runs.admit(priority, wait=wait)
        handle = RunHandle(run, self.runs.launch(run, place))
        self._submitted.add(handle)
        handle.task.add_done_callback(lambda _: self._submitted.discard(handle))
        return handle

    # ------------------------------------------------------------------ monitoring

    async def resume(
        self,
        run_id: str,
        workflow: Workflow | None = None,
        *,
        force: bool = False,
        inputs: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Continue a stored run that failed, was cancelled or was killed; returns the new run's result.

        The new run (``result.run_id``; the store records which run it resumed) starts
        with the old run's committed results, which spend nothing again (they are
        ``cached``, reason ``restored from run ...``); the rest runs. ``workflow``
        defaults to the one loaded from the target the run recorded (``podium run``
        records it). Raises :class:`podium.ResumeError` when the run is unknown, still
        running, already resumed, or its workflow changed since (the message lists the
        changes); ``force=True`` then reuses only the stages that did not change.
        ``inputs`` replace inputs the store could not keep.
        """
        return await self.runs.run(await self._resumed_run(run_id, workflow, force=force, inputs=inputs))

    async def submit_resume(
        self,
        run_id: str,
        workflow: Workflow | None = None,
        *,
        force: bool = False,
        inputs: Mapping[str, Any] | None = None,
    ) -> RunHandle:
        """:meth:`resume` in a task, as :meth:`submit` starts a run: the errors raise here,
        and the handle cancels the resumed run and still gives its result."""
        return await self._submit(
            await self._resumed_run(run_id, workflow, force=force, inputs=inputs), 0, True
        )

    async def _resumed_run(
        self, run_id: str, workflow: Workflow | None, *, force: bool, inputs: Mapping[str, Any] | None
    ) -> RunState:
        store_url = self.monitor.store_url
        if store_url is None:
            raise ResumeError(
                "resuming needs a run store: configure store = 'sqlite:///...' or pass Engine(store=...)"
            )
        if not self._started:
            await self.start()
        store = self.monitor.store
        if store is None:
            raise ResumeError(f"the run store {redact_url(store_url)} could not be opened (see the warning)")
        record = await resuming.find_run(store, run_id)
        await resuming.check_resumable(store, record, force)
        if workflow is None:
            workflow, modules = resuming.workflow_of(record)
            strangers = [m for m in modules if not self.pm.is_registered(m)]
            if strangers:
                raise ResumeError(
                    f"run {record.run_id}'s workflow file {record.target} implements hooks this engine "
                    "has not registered: pass the workflow, or create the engine with those plugins"
                )
        if workflow.name != record.workflow:
            raise ResumeError(
                f"run {record.run_id} is of workflow {record.workflow!r}, not {workflow.name!r}"
            )
        allow_pickle = store.serializer == "pickle"
        values = resuming.stored_inputs(record, inputs or {}, allow_pickle)
        plan, strategy = self.prepare(workflow, {**workflow.input_defaults, **values})
        allowed = await resuming.reusable_stages(store, record, workflow, plan, strategy.name, force)
        run = await self._build_run(workflow, values, None, resumed_from=record.run_id)
        await resuming.seed_resumed(run, store, record, allowed)
        recording = self.monitor.run_created(run)
        if recording is not None:
            await recording
        return run

    def kpis(self, *, since: float | None = None, workflow: str | None = None) -> dict[str, Any]:
        """Live KPIs over the runs this engine ended (started since ``since``, epoch seconds):
        the figures ``podium stats`` computes from the store (see docs/monitoring.md)."""
        return self.monitor.kpis(since, workflow)

    def raise_alert(
        self,
        name: str,
        message: str,
        *,
        severity: Severity = "warning",
        run: RunState | None = None,
        value: float | None = None,
        threshold: float | None = None,
    ) -> bool:
        """Raise an alert to every sink (de-duplicated); returns whether it was sent."""
        alert = Alert(
            name=name,
            message=message,
            severity=severity,
            workflow=run.workflow.name if run else None,
            run_id=run.id if run else None,
            value=value,
            threshold=threshold,
        )
        return self.alerts.raise_alert(alert)


def _store_url(setting: str | bool | None) -> str | None:
    """The run store an engine records to for the top-level ``store`` setting."""
    if setting is True:
        return DEFAULT_STORE_URL
    return setting or None


async def _await_all(outcomes: Sequence[Awaitable[None] | None], hook_name: str) -> None:
    for outcome in outcomes:
        if outcome is None or not inspect.isawaitable(outcome):
            continue
        try:
            await outcome
        except Exception:
            if hook_name == "podium_engine_started":
                raise
            _log.exception("a plugin's %s failed; continuing", hook_name)


_default_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Engine] = weakref.WeakKeyDictionary()


async def default_engine() -> Engine:
    """The engine :func:`run` uses: one per event loop, started on first use."""
    loop = asyncio.get_running_loop()
    engine = _default_engines.get(loop)
    if engine is None or engine._stopped:
        engine = Engine()
        _default_engines[loop] = engine
        await engine.start()
    return engine


async def shutdown() -> None:
    """Stop this event loop's default engine (flushes plugins, closes the cache)."""
    engine = _default_engines.pop(asyncio.get_running_loop(), None)
    if engine is not None:
        await engine.stop()


async def run(
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    engine: Engine | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run a workflow on ``engine`` or on this event loop's default engine."""
    engine = engine or await default_engine()
    return await engine.run(workflow, inputs, run_id=run_id)


def run_sync(
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    *,
    config: Config | None = None,
    agents: Mapping[str, Agent | AgentSpec] | None = None,
    plugins: Iterable[object] = (),
) -> RunResult:
    """Run a workflow from synchronous code on a fresh event loop and engine."""

    async def main() -> RunResult:
        async with Engine(config=config, agents=agents, plugins=plugins) as engine:
            return await engine.run(workflow, inputs)

    return asyncio.run(main())


__all__ = ["Engine", "default_engine", "run", "run_sync", "shutdown"]
