"""The layers of an agent call: retry, breaker and fallback, pool, agent-call cache, prompt caching."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import podium
from podium.running.agents import managed


def calling(*prompts: str, agent: str = "reviewer", name: str = "calls") -> podium.Workflow:
    """A workflow whose one stage calls ``agent`` once per prompt, one after the other."""
    wf = podium.Workflow(name, strategy="sequential")

    @wf.stage
    async def call(ctx: podium.Context) -> list[str]:
        out = []
        for prompt in prompts:
            try:
                out.append((await ctx.agent(agent).complete(prompt)).text)
            except podium.PodiumError as error:
                out.append(f"{type(error).__name__}: {error}")
        return out

    return wf


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str]] = []
        self.calls: list[podium.AgentCall] = []
        self.hits: list[tuple[str, podium.Usage]] = []

    @podium.hookimpl
    def podium_breaker_changed(self, agent: str, state: str, previous: str, reason: str) -> None:
        self.changes.append((agent, previous, state))

    @podium.hookimpl
    def podium_agent_call_ended(self, call: podium.AgentCall) -> None:
        self.calls.append(call)

    @podium.hookimpl
    def podium_cache_hit(self, kind: str, saved: podium.Usage) -> None:
        self.hits.append((kind, saved))


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The agent retry loop's waits, recorded instead of slept."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(managed.asyncio, "sleep", fake)
    return waits


async def test_transient_provider_errors_are_retried_and_counted_as_attempts(no_sleep: list[float]) -> None:
    agent = podium.SimulatedAgent("ok", overloaded_on=[1, 2])
    recorder = Recorder()
    async with podium.Engine(
        config=podium.Config(), agents={"reviewer": agent}, plugins=[recorder]
    ) as engine:
        result = await engine.run(calling("hi"))
    assert result["call"].value == ["ok"]
    assert recorder.calls[0].attempts == 3
    assert len(no_sleep) == 2


async def test_the_providers_retry_after_is_what_the_retry_waits(no_sleep: list[float]) -> None:
    class RateLimitedOnce(podium.SimulatedAgent):
        async def complete(self, prompt: Any, **options: Any) -> podium.AgentReply:
            if not self.calls:
                self.calls += 1
                raise podium.ProviderError(
                    "slow down",
                    provider="simulated",
                    kind=podium.ProviderErrorKind.RATE_LIMITED,
                    retry_after=7.5,
                )
            return await super().complete(prompt, **options)

    agent = RateLimitedOnce("ok")
    async with podium.Engine(config=podium.Config(), agents={"reviewer": agent}) as engine:
        result = await engine.run(calling("one"))
    assert result["call"].value == ["ok"] and agent.calls == 2
    assert no_sleep == [7.5]


async def test_bad_requests_are_never_retried(no_sleep: list[float]) -> None:
    class Rejecting(podium.SimulatedAgent):
        async def complete(self, prompt: Any, **options: Any) -> podium.AgentReply:
            self.calls += 1
            raise podium.ProviderError(
                "prompt too long", provider="simulated", kind=podium.ProviderErrorKind.BAD_REQUEST, status=400
            )

    agent = Rejecting()
    async with podium.Engine(config=podium.Config(), agents={"reviewer": agent}) as engine:
        result = await engine.run(calling("hi"))
    assert result["call"].value == ["ProviderError: agent 'reviewer': prompt too long"]
    assert agent.calls == 1 and no_sleep == []


def breaker_config(**extra: Any) -> podium.Config:
    table = {"breaker": {"failures": 2, "reset_s": 30}, "retry": False, **extra}
    return podium.Config({"agents": {"reviewer": table}})


async def test_podium_breaker_changed_fires_when_failures_open_the_circuit_and_calls_then_fail_fast() -> None:
    agent = podium.SimulatedAgent("ok", fail_on=[1, 2, 3])
    recorder = Recorder()
    async with podium.Engine(
        config=breaker_config(), agents={"reviewer": agent}, plugins=[recorder]
    ) as engine:
        wf = calling("a", "b", "c")
        wf.stages["call"].fn  # noqa: B018 - the stage exists
        result = await engine.run(_tolerant(wf))
    assert agent.calls == 2  # the third call never reached the provider
    assert recorder.changes == [("reviewer", "closed", "open")]
    refused = result["call"].value[2]
    assert refused.startswith("CircuitOpen: agent 'reviewer' open since ")
    assert "next probe in 30 s" in refused
    assert "SimulatedAgentError: simulated failure on call 2" in refused


def _tolerant(wf: podium.Workflow) -> podium.Workflow:
    """The same calls, with a provider's own failures caught too (they are not Podium errors)."""
    tolerant = podium.Workflow(wf.name + "-tolerant", strategy="sequential")

    @tolerant.stage
    async def call(ctx: podium.Context) -> list[str]:
        out = []
        for prompt in ("a", "b", "c"):
            try:
                out.append((await ctx.agent("reviewer").complete(prompt)).text)
            except Exception as error:
                out.append(f"{type(error).__name__}: {error}")
        return out

    return tolerant


async def test_an_open_breaker_probes_once_after_reset_and_closes_on_success(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = podium.SimulatedAgent("ok", fail_on=[1, 2])
    recorder = Recorder()
    async with podium.Engine(
        config=breaker_config(), agents={"reviewer": agent}, plugins=[recorder]
    ) as engine:
        await engine.run(_tolerant(calling()))
        breaker = engine.agents.managed("reviewer").breaker
        assert breaker is not None and breaker.opened_at is not None
        breaker.opened_at -= 31  # the reset time has passed
        result = await engine.run(calling("again"))
    assert result["call"].value == ["ok"]
    assert recorder.changes[-2:] == [("reviewer", "open", "half_open"), ("reviewer", "half_open", "closed")]


async def test_an_open_breaker_goes_to_the_fallback_agent() -> None:
    primary = podium.SimulatedAgent("primary", fail_on=[1, 2])
    backup = podium.SimulatedAgent("backup", model="claude-haiku-4-5")
    recorder = Recorder()
    config = podium.Config(
        {"agents": {"reviewer": {"breaker": {"failures": 1}, "retry": False, "fallback": "backup"}}}
    )
    agents = {"reviewer": primary, "backup": backup}
    async with podium.Engine(config=config, agents=agents, plugins=[recorder]) as engine:
        result = await engine.run(_tolerant(calling()))
    assert result["call"].value == ["SimulatedAgentError: simulated failure on call 1", "backup", "backup"]
    assert primary.calls == 1
    assert [c.fallback for c in recorder.calls] == [None, "backup", "backup"]


async def test_a_transient_failure_after_the_retries_goes_to_the_fallback(no_sleep: list[float]) -> None:
    primary = podium.SimulatedAgent("primary", overloaded_on=[1, 2])
    backup = podium.SimulatedAgent("backup")
    config = podium.Config({"agents": {"reviewer": {"retry": 2, "fallback": "backup"}}})
    async with podium.Engine(config=config, agents={"reviewer": primary, "backup": backup}) as engine:
        result = await engine.run(calling("hi"))
    assert result["call"].value == ["backup"]


async def test_a_pool_never_runs_more_calls_at_once_than_its_size() -> None:
    running = peak = 0

    class Counting(podium.SimulatedAgent):
        async def complete(self, prompt: Any, **options: Any) -> podium.AgentReply:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            running -= 1
            return await super().complete(prompt, **options)

    wf = podium.Workflow("fan", strategy="parallel")
    for i in range(12):

        async def body(ctx: podium.Context, i: int = i) -> str:
            return (await ctx.agent("reviewer").complete(f"p{i}")).text

        wf.add_stage(body, name=f"s{i}")
    config = podium.Config({"agents": {"reviewer": {"pool": 3}}})
    async with podium.Engine(config=config, agents={"reviewer": Counting()}) as engine:
        result = await engine.run(wf)
        pool = engine.agents.managed("reviewer").pool
    assert result.ok and peak == 3 and pool is not None and pool.peak == 3


async def test_the_agent_call_cache_answers_the_same_prompt_from_two_workflows_with_one_call() -> None:
    agent = podium.SimulatedAgent("answer", model="claude-sonnet-4-5", input_tokens=1000, output_tokens=500)
    recorder = Recorder()
    config = podium.Config({"agents": {"reviewer": {"cache": True}}})
    async with podium.Engine(config=config, agents={"reviewer": agent}, plugins=[recorder]) as engine:
        first = await engine.run(calling("same prompt", name="first"))
        second = await engine.run(calling("same prompt", name="second"))
        session = (await engine.result_cache.stats())["session"]
    assert agent.calls == 1
    assert first["call"].usage.total_tokens == 1500 and second["call"].usage == podium.Usage()
    assert second["call"].saved.total_tokens == 1500
    assert second.saved.cost_usd == pytest.approx(first.usage.cost_usd)
    assert [c.cached for c in recorder.calls] == [False, True]
    assert recorder.hits and recorder.hits[0][0] == "agent"
    assert session["hits"] == 1 and session["saved_tokens"] == 1500


async def test_identical_calls_in_flight_at_once_are_one_provider_call() -> None:
    agent = podium.SimulatedAgent("answer", latency=0.02)
    wf = podium.Workflow("twins", strategy="parallel")
    for name in ("left", "right"):

        async def body(ctx: podium.Context) -> str:
            return (await ctx.agent("reviewer").complete("same")).text

        wf.add_stage(body, name=name)
    config = podium.Config({"agents": {"reviewer": {"cache": 60}}})
    async with podium.Engine(config=config, agents={"reviewer": agent}) as engine:
        result = await engine.run(wf)
    assert agent.calls == 1 and result["left"].value == result["right"].value == "answer"


async def test_prompt_caching_reports_cache_reads_priced_apart_from_input() -> None:
    agent = podium.SimulatedAgent("ok", model="claude-sonnet-4-5")
    prompt = podium.Prompt("the ticket", system="You review code. " * 100, cache_system=True)
    wf = podium.Workflow("templated", strategy="sequential")

    @wf.stage
    async def twice(ctx: podium.Context) -> list[podium.Usage]:
        return [(await ctx.agent("reviewer").complete(prompt)).usage for _ in range(2)]

    async with podium.Engine(config=podium.Config(), agents={"reviewer": agent}) as engine:
        result = await engine.run(wf)
    first, second = result["twice"].value
    assert first.cache_write_tokens == second.cache_read_tokens == 425
    assert second.cache_write_tokens == 0
    price = engine.pricing.lookup("claude-sonnet-4-5")
    assert price is not None
    cost = result["twice"].usage.cost_usd
    expected = (
        (first.input_tokens + second.input_tokens) * price.input
        + (first.output_tokens + second.output_tokens) * price.output
        + 425 * price.cache_write
        + 425 * price.cache_read
    ) / 1e6
    assert cost == pytest.approx(expected)


async def test_agent_call_cache_keys_leave_secrets_and_transport_options_out() -> None:
    config = podium.Config({"agents": {"writer": {"provider": "simulated", "model": "m", "cache": True}}})
    async with podium.Engine(config=config) as engine:
        writer = engine.agents.managed("writer")
        plain = writer.cache_key("hi", {"temperature": 0})
        noisy = writer.cache_key("hi", {"temperature": 0, "api_key": podium.Secret("sk"), "timeout": 5})
        other = writer.cache_key("hi", {"temperature": 1})
    assert plain == noisy != other


async def run_retried_stage(agent: podium.Agent, config: podium.Config | None = None) -> podium.RunResult:
    """A stage with a stage-level ``Retry`` of 3 attempts, calling ``agent`` as "reviewer" once."""
    wf = podium.Workflow("retried", strategy="sequential")

    @wf.stage(retry=podium.Retry(attempts=3, delay=0))
    async def call(ctx: podium.Context) -> str:
        return (await ctx.agent("reviewer").complete("hi")).text

    async with podium.Engine(config=config or podium.Config(), agents={"reviewer": agent}) as engine:
        return await engine.run(wf)


@pytest.mark.parametrize(
    ("overloaded", "requests"),
    [
        ([1, 2, 3, 4, 5, 6], 3),  # the agent's 3 attempts, once
        ([1], 2),  # the agent's retry succeeds
    ],
    ids=["transient-exhausted", "transient-recovered"],
)
async def test_a_stage_retry_never_resends_what_the_agents_retry_already_resent(
    no_sleep: list[float], overloaded: list[int], requests: int
) -> None:
    agent = podium.SimulatedAgent("ok", overloaded_on=overloaded)
    result = await run_retried_stage(agent)
    assert agent.calls == requests
    assert result["call"].attempts == 1


async def test_a_stage_retry_never_resends_a_permanent_provider_error(no_sleep: list[float]) -> None:
    class Refusing(podium.SimulatedAgent):
        async def complete(self, prompt: Any, **options: Any) -> podium.AgentReply:
            self.calls += 1
            raise podium.ProviderError(
                "invalid x-api-key",
                provider="simulated",
                kind=podium.ProviderErrorKind.AUTHENTICATION,
                status=401,
            )

    agent = Refusing()
    result = await run_retried_stage(agent)
    assert agent.calls == 1 and result["call"].attempts == 1
    assert str(result["call"].error) == "agent 'reviewer': invalid x-api-key"


async def test_a_stage_retry_still_retries_a_provider_error_of_an_agent_without_retries(
    no_sleep: list[float],
) -> None:
    agent = podium.SimulatedAgent("ok", overloaded_on=[1])
    result = await run_retried_stage(agent, podium.Config({"agents": {"reviewer": {"retry": False}}}))
    assert result["call"].value == "ok" and result["call"].attempts == 2
