"""An agent a stage names that nobody registered fails before the run starts, so no token is
spent: the names come from ``agents=`` or the stage's literal ``ctx.agent("...")`` calls."""

from __future__ import annotations

from pathlib import Path

import pytest

import podium
from podium.definition.agent_names import literal_agent_calls
from podium.definition.loader import load_toml


def two_stage_workflow() -> podium.Workflow:
    wf = podium.Workflow("feature")

    @wf.stage
    async def spec(ctx: podium.Context) -> str:
        return (await ctx.agent("planner").complete("spec")).text

    @wf.stage(needs=["spec"])
    async def implement(ctx: podium.Context, spec: str) -> str:
        return (await ctx.agent("codr").complete(spec)).text

    return wf


async def test_an_unknown_agent_fails_before_any_stage_spends_a_token() -> None:
    planner = podium.SimulatedAgent("spec", input_tokens=500, output_tokens=500)
    coder = podium.SimulatedAgent("code")
    async with podium.Engine(config=podium.Config(), agents={"planner": planner, "coder": coder}) as engine:
        with pytest.raises(podium.DefinitionErrors) as info:
            await engine.run(two_stage_workflow())
    [error] = info.value.errors
    assert error.startswith(
        "stage 'implement' calls agent 'codr', which is not registered (did you mean 'coder'?); "
        "registered agents: coder, "
    )
    assert planner.calls == 0


async def test_prepare_which_validate_uses_names_the_unknown_agent() -> None:
    async with podium.Engine(config=podium.Config(), agents={"planner": podium.SimulatedAgent()}) as engine:
        with pytest.raises(podium.DefinitionErrors, match="stage 'implement' calls agent 'codr'"):
            engine.prepare(two_stage_workflow(), None)


async def test_agents_named_at_run_time_are_checked_when_declared() -> None:
    wf = podium.Workflow("w")

    @wf.stage(agents=["writer"])
    async def draft(ctx: podium.Context, who: str = "writer") -> str:
        return (await ctx.agent(who).complete("x")).text

    async with podium.Engine(config=podium.Config()) as engine:
        with pytest.raises(podium.DefinitionErrors, match="stage 'draft' calls agent 'writer'"):
            await engine.run(wf)
        assert wf.stages["draft"].agents == ("writer",)


async def test_declaring_no_agents_turns_the_check_off_for_a_stage() -> None:
    wf = podium.Workflow("w")

    @wf.stage(agents=[])
    async def maybe(ctx: podium.Context, use_llm: bool = False) -> str:
        return (await ctx.agent("optional-llm").complete("x")).text if use_llm else "no llm"

    async with podium.Engine(config=podium.Config()) as engine:
        result = await engine.run(wf)
    assert result["maybe"].value == "no llm"


async def test_registered_agents_pass_the_check_and_run() -> None:
    agents = {"planner": podium.SimulatedAgent("spec"), "codr": podium.SimulatedAgent("code")}
    async with podium.Engine(config=podium.Config(), agents=agents) as engine:
        result = await engine.run(two_stage_workflow())
    assert result["implement"].value == "code"


def test_only_literal_calls_on_the_context_parameter_are_read() -> None:
    async def body(context: podium.Context, other: object, name: str) -> None:
        await context.agent("planner").complete("a")
        await context.agent(name="reviewer").complete("b")
        await context.agent(name).complete("dynamic")
        await other.agent("not-the-context").complete("c")  # type: ignore[attr-defined]
        await context.agent("planner").complete("again")

    assert literal_agent_calls(body, "context") == ("planner", "reviewer")


def test_a_function_without_source_names_no_agents() -> None:
    assert literal_agent_calls(eval("lambda ctx: ctx.agent('x')"), "ctx") == ()


def test_the_option_must_name_agents() -> None:
    wf = podium.Workflow("w")
    with pytest.raises(podium.DefinitionError, match=r"stage 'a': agents must name agents, got 3"):
        wf.add_stage(lambda: None, name="a", agents=[3])  # type: ignore[list-item]


async def test_a_toml_stage_declares_its_agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "agent_stages.py").write_text("async def draft(ctx, who='writer'):\n    return who\n")
    path = tmp_path / "wf.toml"
    path.write_text('[workflow]\nname = "t"\n[[stages]]\nrun = "agent_stages:draft"\nagents = ["writer"]\n')
    async with podium.Engine(config=podium.Config()) as engine:
        with pytest.raises(podium.DefinitionErrors, match="stage 'draft' calls agent 'writer'"):
            await engine.run(load_toml(path))
