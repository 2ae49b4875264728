"""Agents declared in configuration and in code: one model, errors at their path, before any run."""

from __future__ import annotations

from typing import Any

import pytest

import podium
from podium.foundation.redaction import Secret


def one_call_workflow(agent: str = "reviewer", prompt: str = "review this") -> podium.Workflow:
    wf = podium.Workflow("review", strategy="sequential")

    @wf.stage
    async def review(ctx: podium.Context) -> str:
        return (await ctx.agent(agent).complete(prompt)).text

    return wf


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"tpm": -5}, "must be a positive integer, got -5 @ config.agents['reviewer'].tpm"),
        ({"rpm": True}, "must be a positive integer, got True @ config.agents['reviewer'].rpm"),
        ({"pool": 2.5}, "must be a positive integer, got 2.5 @ config.agents['reviewer'].pool"),
        (
            {"breaker": "yes"},
            "expected true, false or a table, got 'yes' @ config.agents['reviewer'].breaker",
        ),
        (
            {"breaker": {"failures": 0}},
            "must be a positive integer, got 0 @ config.agents['reviewer'].breaker.failures",
        ),
        ({"retry": 0}, "must be a positive integer, got 0 @ config.agents['reviewer'].retry"),
        (
            {"cache": "forever"},
            "a TTL in seconds (> 0, or like '1h'), got 'forever' @ config.agents['reviewer'].cache",
        ),
    ],
)
def test_a_bad_agent_table_fails_when_the_configuration_loads_with_its_path(
    table: dict[str, Any], expected: str
) -> None:
    data = {"agents": {"reviewer": {"provider": "simulated", "model": "claude-haiku-4-5", **table}}}
    with pytest.raises(podium.ConfigError) as caught:
        podium.Config(data)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        (
            {"reviewer": {"provider": "simulatd", "model": "m"}},
            "agents.reviewer.provider: no provider named "
            "'simulatd' (did you mean 'simulated'?); registered: ",
        ),
        ({"reviewer": {"model": "m"}}, "agents.reviewer.provider: required"),
        ({"reviewer": {"provider": "simulated"}}, "agents.reviewer.model: required"),
        (
            {"reviewer": {"provider": "simulated", "model": "m", "fallback": "backp"}},
            "agents.reviewer.fallback: no agent named 'backp'",
        ),
        (
            {
                "a": {"provider": "simulated", "model": "m", "fallback": "b"},
                "b": {"provider": "simulated", "model": "m", "fallback": "a"},
            },
            "agents.a.fallback: a cycle (a -> b -> a)",
        ),
        (
            {"reviewer": {"provider": "simulated", "model": "m", "colour": "red"}},
            "agents.reviewer: bad option for the simulated provider",
        ),
    ],
)
async def test_agents_that_cannot_be_built_fail_when_the_engine_starts(
    agents: dict[str, Any], expected: str
) -> None:
    engine = podium.Engine(config=podium.Config({"agents": agents}), cache_url=False)
    with pytest.raises(podium.ConfigError) as caught:
        await engine.start()
    assert expected in str(caught.value)


async def test_an_agent_declared_in_configuration_answers_stages() -> None:
    config = podium.Config(
        {
            "agents": {
                "reviewer": {
                    "provider": "simulated",
                    "model": "claude-haiku-4-5",
                    "reply": "LGTM",
                }
            }
        }
    )
    async with podium.Engine(config=config, cache_url=False) as engine:
        result = await engine.run(one_call_workflow())
    assert result["review"].value == "LGTM"
    assert result["review"].usage.cost_usd > 0  # priced as claude-haiku-4-5


async def test_an_agent_spec_given_in_code_is_built_by_its_provider() -> None:
    spec = podium.AgentSpec("reviewer", "simulated", "claude-haiku-4-5", {"reply": "from a spec"})
    async with podium.Engine(config=podium.Config(), agents={"reviewer": spec}, cache_url=False) as engine:
        result = await engine.run(one_call_workflow())
    assert result["review"].value == "from a spec"


async def test_a_table_named_like_a_code_agent_sets_its_policies() -> None:
    agent = podium.SimulatedAgent("ok")
    config = podium.Config({"agents": {"reviewer": {"pool": 2, "tpm": 1000}}})
    async with podium.Engine(config=config, agents={"reviewer": agent}, cache_url=False) as engine:
        managed = engine.agents.managed("reviewer")
        assert managed.agent is agent
        assert managed.policy.pool == 2
        assert [m.name for m in managed.meters] == ["agent:reviewer:tpm"]


async def test_a_table_for_a_code_agent_may_not_name_a_provider() -> None:
    config = podium.Config({"agents": {"reviewer": {"provider": "simulated", "model": "m"}}})
    engine = podium.Engine(config=config, agents={"reviewer": podium.SimulatedAgent()}, cache_url=False)
    with pytest.raises(podium.ConfigError, match="registered in code; its table may set policies only"):
        await engine.start()


async def test_secret_looking_provider_options_reach_the_provider_as_secrets() -> None:
    seen: list[podium.AgentSpec] = []

    def factory(spec: podium.AgentSpec, config: podium.Config) -> podium.Agent:
        seen.append(spec)
        return podium.SimulatedAgent()

    class Provider:
        @podium.hookimpl
        def podium_register_providers(self, register: Any) -> None:
            register("vendor", factory)

    config = podium.Config({"agents": {"writer": {"provider": "vendor", "model": "m", "api_key": "sk-123"}}})
    async with podium.Engine(config=config, plugins=[Provider()], cache_url=False):
        pass
    assert isinstance(seen[0].options["api_key"], Secret)
    assert "sk-123" not in repr(seen[0])


async def test_a_provider_that_is_not_installed_says_what_to_install() -> None:
    config = podium.Config({"agents": {"reviewer": {"provider": "anthropic", "model": "claude-sonnet-4-6"}}})
    pm = podium.create_plugin_manager(autoload=False)
    engine = podium.Engine(config=config, plugin_manager=pm, cache_url=False)
    with pytest.raises(podium.ConfigError, match=r"install it with: pip install 'podium\[anthropic\]'"):
        await engine.start()


def test_every_key_that_is_not_a_policy_is_a_provider_option() -> None:
    table = {"provider": "simulated", "model": "m", "max_tokens": 100, "system": "Be brief.", "rpm": 5}
    declared = podium.Config({"agents": {"writer": table}}).settings.agents["writer"]
    assert declared.options == {"max_tokens": 100, "system": "Be brief."}
    assert declared.policy().limits == podium.RateLimit(rpm=5)


async def test_policies_in_code_are_checked_against_the_agents() -> None:
    engine = podium.Engine(
        config=podium.Config(),
        agents={"reviewer": podium.SimulatedAgent()},
        policies={"reviwer": podium.AgentPolicy(pool=1)},
        cache_url=False,
    )
    with pytest.raises(
        podium.ConfigError, match=r"Engine\(policies=...\)\['reviwer'\]: no agent named 'reviwer'"
    ):
        await engine.start()


def test_a_limits_table_for_a_provider_key_is_structured() -> None:
    config = podium.Config(
        {"limits": {"simulated": {"tpm": 30_000, "rpm": 50}}, "limits_backend": "memory://"}
    )
    assert config.settings.limits["simulated"] == podium.RateLimit(rpm=50, tpm=30_000)


def test_the_scheduler_table_is_structured_and_checked() -> None:
    assert podium.Config({"scheduler": {"max_concurrent": 4}}).settings.scheduler.max_concurrent == 4
    with pytest.raises(
        podium.ConfigError, match=r"must be a positive integer, got 0 @ config\.scheduler\.queue_size"
    ):
        podium.Config({"scheduler": {"queue_size": 0}})


async def test_a_policy_that_is_not_an_agent_policy_is_named() -> None:
    engine = podium.Engine(
        config=podium.Config(),
        agents={"reviewer": podium.SimulatedAgent()},
        policies={"reviewer": {"pool": 2}},  # type: ignore[dict-item]
        cache_url=False,
    )
    with pytest.raises(
        podium.ConfigError, match=r"\['reviewer'\]: expected a podium.AgentPolicy, got \{'pool': 2\}"
    ):
        await engine.start()
