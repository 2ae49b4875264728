"""The two routing implementations configured in ``[plugins.conditional]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import podium
import podium_conditional
import podium_conditional.classifier
from podium import (
    Config,
    ConfigError,
    Engine,
    RoutingError,
    RunStatus,
    SimulatedAgent,
    StageStatus,
    create_plugin_manager,
)


def engine(section: dict[str, Any], agents: dict[str, podium.Agent] | None = None) -> Engine:
    pm = create_plugin_manager(autoload=False, plugins=[podium_conditional, podium_conditional.classifier])
    config = Config({"plugins": {"conditional": section}})
    return Engine(config=config, plugin_manager=pm, agents=agents)


def triage_workflow(route: Any = None) -> podium.Workflow:
    wf = podium.Workflow("triage", strategy="conditional", inputs=["ticket"])

    @wf.stage
    async def spec(ticket: str) -> dict[str, Any]:
        return {"tags": ticket.split(), "size": len(ticket.split())}

    @wf.stage(needs=["spec"], route=route)
    async def review(spec: dict[str, Any]) -> dict[str, Any]:
        return {"score": 0.9 if "good" in spec["tags"] else 0.2, "verdict": "looks good"}

    for name in ("ship", "fix", "escalate"):

        async def branch(review: dict[str, Any], name: str = name) -> str:
            return name

        wf.add_stage(branch, name=name, needs=["review"])
    return wf


RULES = [
    {"stage": "review", "to": "escalate", "when": {"spec.tags": {"contains": "urgent"}}},
    {
        "stage": "review",
        "to": "ship",
        "when": {"value.score": {"ge": 0.8}, "inputs.ticket": {"matches": "^good"}},
    },
    {"stage": "review", "to": ["fix"]},
]


@pytest.mark.parametrize(
    ("ticket", "chosen"),
    [("good change", "ship"), ("good but urgent", "escalate"), ("bad change", "fix"), ("so good", "fix")],
)
async def test_the_first_rule_whose_conditions_on_upstream_values_hold_decides(
    ticket: str, chosen: str
) -> None:
    async with engine({"rules": RULES}) as e:
        result = await e.run(triage_workflow(), inputs={"ticket": ticket})
    assert result.ok
    assert result["review"].route == (chosen,)
    assert {n for n in ("ship", "fix", "escalate") if result[n].ok} == {chosen}


async def test_rules_decide_before_the_stage_route_function_which_decides_when_no_rule_matches() -> None:
    rules = [{"stage": "review", "to": "escalate", "when": {"value.verdict": "needs a human"}}]
    async with engine({"rules": rules}) as e:
        result = await e.run(triage_workflow(route=lambda _: "ship"), inputs={"ticket": "x"})
    assert result["review"].route == ("ship",)


async def test_a_condition_that_cannot_be_compared_fails_the_stage_naming_the_rule() -> None:
    rules = [{"stage": "review", "to": "ship", "when": {"value.verdict": {"gt": 3}}}]
    async with engine({"rules": rules}) as e:
        result = await e.run(triage_workflow(), inputs={"ticket": "x"})
    error = result["review"].error
    assert isinstance(error, RoutingError)
    assert "plugins.conditional.rules[0]" in str(error)
    assert "value.verdict = 'looks good' with gt 3" in str(error)


async def test_a_missing_path_only_matches_exists_false() -> None:
    rules = [
        {"stage": "review", "to": "escalate", "when": {"value.missing": {"exists": True}}},
        {"stage": "review", "to": "fix", "when": {"value.missing": {"exists": False}, "value.nope": 1}},
        {"stage": "review", "to": "ship", "when": {"value.missing": {"exists": False}}},
    ]
    async with engine({"rules": rules}) as e:
        result = await e.run(triage_workflow(), inputs={"ticket": "x"})
    assert result["review"].route == ("ship",)


async def test_a_bad_rule_table_is_a_configuration_error_with_its_path(tmp_path: Path) -> None:
    file = tmp_path / "podium.toml"
    file.write_text(
        "[[plugins.conditional.rules]]\n"
        'stage = "review"\n'
        'to = "ship"\n'
        'when = { "value.score" = { gte = 1 } }\n'
    )
    config = Config.load(file=file, env={})
    pm = create_plugin_manager(autoload=False, plugins=[podium_conditional])
    with pytest.raises(ConfigError) as caught:
        await Engine(config=config, plugin_manager=pm).start()
    message = str(caught.value)
    assert "unknown operator 'gte'" in message
    assert "config.plugins.conditional.rules[0]" in message


async def test_the_classifier_asks_the_named_agent_to_choose_among_the_dependents() -> None:
    router = SimulatedAgent(reply="  **Escalate**  ", input_tokens=50, output_tokens=2)
    section = {"classifiers": [{"stage": "review", "agent": "router", "instructions": "Pick a team."}]}
    async with engine(section, agents={"router": router}) as e:
        result = await e.run(triage_workflow(), inputs={"ticket": "x"})
    assert result["review"].route == ("escalate",)
    assert result["ship"].status is StageStatus.SKIPPED
    (prompt,) = router.prompts
    assert "Pick a team." in prompt
    assert "ship, fix, escalate" in prompt
    assert "looks good" in prompt
    assert result["review"].usage.total_tokens == 52  # the classifier's tokens are the stage's


async def test_a_classifier_answer_naming_no_single_candidate_fails_the_stage_quoting_it() -> None:
    router = SimulatedAgent(reply="either ship or fix, hard to say")
    section = {"classifiers": [{"stage": "review", "agent": "router"}]}
    async with engine(section, agents={"router": router}) as e:
        result = await e.run(triage_workflow(), inputs={"ticket": "x"})
    assert result.status is RunStatus.FAILED
    error = result["review"].error
    assert isinstance(error, RoutingError)
    assert "agent 'router' classifying stage 'review' answered 'either ship or fix, hard to say'" in str(
        error
    )


async def test_rules_take_precedence_over_the_classifier() -> None:
    router = SimulatedAgent(reply="fix")
    section = {
        "rules": [{"stage": "review", "to": "ship"}],
        "classifiers": [{"stage": "review", "agent": "router"}],
    }
    async with engine(section, agents={"router": router}) as e:
        result = await e.run(triage_workflow(), inputs={"ticket": "x"})
    assert result["review"].route == ("ship",)
    assert router.calls == 0


@pytest.mark.parametrize(
    ("answer", "choice"),
    [
        ("fix", "fix"),
        ("FIX.", "fix"),
        ("I would pick `ship`.", "ship"),
        ("fix-up", None),
        ("ship or fix", None),
    ],
)
def test_parse_choice_accepts_one_named_candidate_only(answer: str, choice: str | None) -> None:
    assert podium_conditional.classifier.parse_choice(answer, ["ship", "fix"]) == choice
