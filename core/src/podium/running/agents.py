"""Agents: the protocol (``complete``) and a simulated agent.

Stages call ``await ctx.agent(name).complete(prompt)``, the same verb agents implement.

A call through ``ctx.agent(name)`` is accounted for on the calling stage (usage, cost)
and announced to plugins (``podium_agent_call_started`` / ``_finished``).
"""

from __future__ import annotations

import asyncio
import difflib
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from podium.definition.agent_names import plan_agents
from podium.foundation.errors import AgentNotFound, BudgetExceeded, SimulatedAgentError
from podium.values.model import ZERO_USAGE, Usage
from podium.values.providers import AgentSpec, Prompt, RateLimits

if TYPE_CHECKING:
    from podium.definition.config import Config
    from podium.definition.plan import Plan
    from podium.running.context import Context


@attrs.frozen
class AgentReply:
    """What an agent answered: its text, token usage and the model that answered.

    ``stop_reason`` is why the model stopped (``end_turn``, ``max_tokens``, ...);
    ``limits`` the provider's rate-limit state as its response reported it, for the
    limiters; ``request_id`` the provider's id of the request.
    """

    text: str
    usage: Usage = ZERO_USAGE
    model: str | None = None
    stop_reason: str = "end_turn"
    limits: RateLimits | None = None
    request_id: str | None = None


@runtime_checkable
class Agent(Protocol):
    """An LLM agent (or anything answering prompts). ``provider`` and ``model`` label calls."""

    provider: str
    model: str

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        """Answer ``prompt`` with one attempt; raise :class:`podium.ProviderError` on failure."""
        ...


#: Builds one agent of a provider from its declaration (``podium_register_providers``).
ProviderFactory = Callable[[AgentSpec, "Config"], Agent]


@attrs.define(slots=True)
class AgentCall:
    """One call of an agent, as lifecycle hooks see it. Prompts never leave the process
    unless a plugin is configured to capture content."""

    agent: str
    provider: str
    model: str
    prompt: str | Prompt
    options: Mapping[str, Any] = attrs.field(factory=dict)
    reply: AgentReply | None = None
    usage: Usage = ZERO_USAGE
    error: BaseException | None = None
    cached: bool = False
    duration_s: float = 0.0


class BoundAgent:
    """An agent bound to the calling stage's context: usage is recorded, events are fired."""

    __slots__ = ("_agent", "_ctx", "name")

    def __init__(self, name: str, agent: Agent, ctx: Context) -> None:
        self.name = name
        self._agent = agent
        self._ctx = ctx

    @property
    def model(self) -> str:
        return self._agent.model

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        """Call the agent: the same verb as :meth:`Agent.complete`, with accounting and events."""
        ctx = self._ctx
        run = ctx.run
        spent = run.check_budget()
        if spent is not None:
            raise BudgetExceeded(
                f"stage {ctx.stage.name!r}: call to agent {self.name!r} refused, the run's budget is spent "
                f"({spent})"
            )
        call = AgentCall(self.name, self._agent.provider, self._agent.model, prompt, options)
        run.events.emit("podium_agent_call_started", run=run, stage=ctx.stage, call=call)
        started = time.perf_counter()
        try:
            reply = await self._agent.complete(prompt, **options)
        except BaseException as error:
            call.error = error
            call.duration_s = time.perf_counter() - started
            run.events.emit("podium_agent_call_ended", run=run, stage=ctx.stage, call=call)
            raise
        call.duration_s = time.perf_counter() - started
        call.reply = reply
        call.usage = ctx.record_usage(reply.usage, model=reply.model or self._agent.model)
        run.events.emit("podium_agent_call_ended", run=run, stage=ctx.stage, call=call)
        return reply


class AgentRegistry:
    """The agents an engine knows, by name."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}

    def register(self, name: str, agent: Agent) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(
                f"agent {name!r}: {agent!r} does not implement podium.Agent "
                "(provider, model, async complete())"
            )
        self._agents[name] = agent

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterable[str]:
        return iter(self._agents)

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
        close = difflib.get_close_matches(name, list(self._agents), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{hint}; registered agents: {', '.join(sorted(self._agents)) or 'none'}"

    def bind(self, name: str, ctx: Context) -> BoundAgent:
        return BoundAgent(name, self.get(name), ctx)


class SimulatedAgent:
    """A deterministic stand-in for an LLM: scripted latency, replies, token usage and failures.

    :param reply: Fixed text, or a function of the prompt returning the text.
    :param latency: Seconds each call takes (``asyncio.sleep``).
    :param input_tokens: Tokens billed for the prompt; ``None`` estimates 1 per 4 characters.
    :param output_tokens: Tokens billed for the reply; ``None`` estimates 1 per 4 characters.
    :param fail_on: Call numbers (1-based) that raise :class:`SimulatedAgentError`.
    :param failure_rate: Probability that a call fails, drawn from a generator seeded by ``seed``.
    """

    provider = "simulated"

    def __init__(
        self,
        reply: str | Callable[[str], str] = "ok",
        *,
        model: str = "claude-sonnet-4-5",
        latency: float = 0.0,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        fail_on: Iterable[int] = (),
        failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.model = model
        self._reply = reply
        self.latency = latency
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.fail_on = frozenset(fail_on)
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self.calls = 0
        self.prompts: list[str] = []

    def __repr__(self) -> str:
        return f"<SimulatedAgent model={self.model!r} calls={self.calls}>"

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        self.calls += 1
        number = self.calls
        asked = Prompt.of(prompt)
        self.prompts.append(asked.text)
        if self.latency:
            await asyncio.sleep(self.latency)
        if number in self.fail_on or (self.failure_rate and self._random.random() < self.failure_rate):
            raise SimulatedAgentError(f"simulated failure on call {number}")
        text = self._reply(asked.text) if callable(self._reply) else self._reply
        sent = len(asked.text) + len(asked.system or "") + sum(len(m.content) for m in asked.history)
        usage = Usage(
            input_tokens=self.input_tokens if self.input_tokens is not None else max(1, sent // 4),
            output_tokens=self.output_tokens if self.output_tokens is not None else max(1, len(text) // 4),
            requests=1,
        )
        return AgentReply(text, usage, self.model)
