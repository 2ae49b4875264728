"""The agents an engine knows, and a stage's handle on one (:class:`BoundAgent`).

Agents are registered as plain :class:`podium.Agent` objects (by plugins, in code, or
built from ``[agents.<name>]`` by their provider); :meth:`AgentRegistry.manage` then
wraps each in a :class:`~podium.running.agents.managed.ManagedAgent` with its policies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from podium.definition.agent_names import plan_agents
from podium.definition.agents import AgentPolicy
from podium.foundation.errors import AgentNotFound, BudgetExceeded, suggest
from podium.running.agents.limiter import Limiter, MemoryLimits, Meter, meters_of
from podium.running.agents.managed import ManagedAgent
from podium.running.agents.protocol import Agent, AgentCall, AgentReply
from podium.running.agents.reported import ReportedQuota
from podium.values.providers import Prompt

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.running.context import Context


class BoundAgent:
    """An agent bound to the calling stage's context: budget checked, usage recorded, events fired."""

    __slots__ = ("_ctx", "_managed", "name")

    def __init__(self, name: str, managed: ManagedAgent, ctx: Context) -> None:
        self.name = name
        self._managed = managed
        self._ctx = ctx

    @property
    def model(self) -> str:
        return self._managed.model

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        """Call the agent: the same verb as :meth:`Agent.complete`, through the agent's policies."""
        ctx = self._ctx
        run = ctx.run
        spent = run.check_budget()
        if spent is not None:
            raise BudgetExceeded(
                f"stage {ctx.stage.name!r}: call to agent {self.name!r} refused, the run's budget is spent "
                f"({spent})"
            )
        managed = self._managed
        call = AgentCall(self.name, managed.provider, managed.model, prompt, options)
        run.events.emit("podium_agent_call_started", run=run, stage=ctx.stage, call=call)
        started = time.perf_counter()
        try:
            reply = await managed.complete(prompt, options, call, ctx)
        except BaseException as error:
            call.error = error
            call.duration_s = time.perf_counter() - started
            run.events.emit("podium_agent_call_ended", run=run, stage=ctx.stage, call=call)
            raise
        call.duration_s = time.perf_counter() - started
        call.reply = reply
        if not call.cached:
            call.usage = ctx.record_usage(reply.usage, model=reply.model or managed.model)
        run.events.emit("podium_agent_call_ended", run=run, stage=ctx.stage, call=call)
        return reply


class AgentRegistry:
    """The agents an engine knows, by name, each managed by its policies."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}
        self._managed: dict[str, ManagedAgent] = {}
        self._limiter: Limiter | None = None
        self._key_meters: dict[str, tuple[Meter, ...]] = {}
        self._reported: dict[str, ReportedQuota] = {}

    def register(self, name: str, agent: Agent) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(
                f"agent {name!r}: {agent!r} does not implement podium.Agent "
                "(provider, model, async complete())"
            )
        self._agents[name] = agent
        self._managed.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)

    def get(self, name: str) -> Agent:
        try:
            return self._agents[name]
        except KeyError:
            raise AgentNotFound(f"no agent named {name!r}{self._hint(name)}") from None

    def unknown(self, plan: Plan) -> list[str]:
        """A definition error for each agent a stage of ``plan`` names that is not registered."""
        return [
            f"stage {stage!r} calls agent {agent!r}, which is not registered{self._hint(agent)}"
            for stage, agent in plan_agents(plan)
            if agent not in self._agents
        ]

    def _hint(self, name: str) -> str:
        return (
            f"{suggest(name, self._agents)}; registered agents: {', '.join(sorted(self._agents)) or 'none'}"
        )

    def manage(
        self,
        limiter: Limiter,
        policies: Mapping[str, AgentPolicy],
        key_meters: Mapping[str, tuple[Meter, ...]],
        options: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Wrap every registered agent in its policies (the engine calls this when it starts).

        ``key_meters`` are the meters of each provider key (``[limits.<key>]``).
        """
        self._limiter = limiter
        self._key_meters = dict(key_meters)
        self._managed = {}
        self._reported = {}
        for name, agent in self._agents.items():
            self._wrap(name, agent, policies.get(name, AgentPolicy()), options.get(name))

    def add(
        self, name: str, agent: Agent, policy: AgentPolicy, options: Mapping[str, Any] | None = None
    ) -> None:
        """Register ``agent`` as ``name`` with its policies (replacing an agent of that name)."""
        self.register(name, agent)
        self._wrap(name, agent, policy, options)

    def _wrap(self, name: str, agent: Agent, policy: AgentPolicy, options: Mapping[str, Any] | None) -> None:
        if self._limiter is None:
            self._limiter = Limiter(MemoryLimits())
        key = policy.limit_key or agent.provider
        # A provider reports the quota of an account and model: the key's agents of one
        # model share what it said.
        scope = f"{key}/{agent.model}"
        reported = self._reported.get(scope)
        if reported is None:
            reported = self._reported[scope] = ReportedQuota(scope)
        self._managed[name] = ManagedAgent(
            name,
            agent,
            policy,
            limiter=self._limiter,
            meters=meters_of(f"agent:{name}", policy.limits) + self._key_meters.get(key, ()),
            key_options=options,
            agents=self._managed,
            reported=reported,
        )

    def managed(self, name: str) -> ManagedAgent:
        """The managed form of agent ``name`` (default policies when none were configured)."""
        managed = self._managed.get(name)
        if managed is None:
            self._wrap(name, self.get(name), AgentPolicy(), None)
            managed = self._managed[name]
        return managed

    def bind(self, name: str, ctx: Context) -> BoundAgent:
        return BoundAgent(name, self.managed(name), ctx)


__all__ = ["AgentRegistry", "BoundAgent"]
