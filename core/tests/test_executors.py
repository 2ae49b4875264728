"""The executor contract: where bodies run by default, StageCall for executors that take
calls (the strategy's priority, the stage's options), and executors' own checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.definition.loader import load_toml


class CallRecorder:
    """Runs bodies on the event loop and records every StageCall; takes only ``label``."""

    def __init__(self) -> None:
        self.calls: list[podium.StageCall] = []

    def submit(self, fn: Callable[..., Any], kwargs: Any) -> Awaitable[Any]:
        raise AssertionError("an executor with submit_call is given calls")

    def submit_call(self, call: podium.StageCall) -> Awaitable[Any]:
        self.calls.append(call)
        result: Awaitable[Any] = call.fn(**call.kwargs)
        return result

    def check(self, stage: podium.Stage) -> Iterable[str]:
        return [
            f"stage {stage.name!r}: no option {key!r}" for key in stage.executor_options if key != "label"
        ]


class LongestFirst(podium.Strategy):
    """Among ready stages, the one expected to take longest starts first."""

    name = "longest-first"

    def priorities(self, plan: podium.Plan, estimates: Any) -> list[float]:
        return [-estimate for estimate in estimates]


class Plugin:
    def __init__(self) -> None:
        self.executor = CallRecorder()

    @podium.hookimpl
    def podium_register_strategies(self, register: Callable[[podium.Strategy], None]) -> None:
        register(LongestFirst())

    @podium.hookimpl
    def podium_register_executors(self, register: Callable[[str, Any], None]) -> None:
        register("recorder", self.executor)


def engine(plugin: Plugin, **settings: Any) -> podium.Engine:
    pm = podium.create_plugin_manager(autoload=False, plugins=[plugin])
    return podium.Engine(config=podium.Config(settings), plugin_manager=pm, cache_url=False)


async def test_an_executor_with_submit_call_receives_the_stage_its_attempt_and_options() -> None:
    plugin = Plugin()
    wf = podium.Workflow("calls", strategy="longest-first")

    @wf.stage(executor="recorder", executor_options={"label": "x"}, retry=podium.Retry(attempts=2, delay=0))
    async def flaky(n: int) -> int:
        if len(plugin.executor.calls) == 1:
            raise ConnectionError("once")
        return n + 1

    async with engine(plugin) as started:
        result = await started.run(wf, {"n": 1}, run_id="r1")
    assert result["flaky"].value == 2
    first, second = plugin.executor.calls
    assert (first.stage, first.workflow, first.run_id, first.attempt, second.attempt) == (
        "flaky",
        "calls",
        "r1",
        1,
        2,
    )
    assert first.options == {"label": "x"} and first.is_async and first.kwargs == {"n": 1}


async def test_a_stage_call_carries_the_strategy_priority_higher_first() -> None:
    plugin = Plugin()
    wf = podium.Workflow("priorities", strategy="longest-first", max_concurrency=1, executor="recorder")
    for name, estimate in (("short", 1.0), ("long", 9.0), ("middle", 4.0)):
        wf.add_stage(_returns(name), name=name, estimate=estimate)
    async with engine(plugin) as started:
        await started.run(wf)
    priorities = {call.stage: call.priority for call in plugin.executor.calls}
    assert priorities["long"] > priorities["middle"] > priorities["short"]


def _returns(value: str) -> Callable[[], Awaitable[str]]:
    async def body() -> str:
        return value

    return body


async def test_a_workflow_executor_is_the_default_of_its_stages_and_a_stage_executor_wins() -> None:
    plugin = Plugin()
    wf = podium.Workflow("defaults", strategy="longest-first", executor="recorder")
    wf.add_stage(_returns("a"), name="a")
    wf.add_stage(_returns("b"), name="b", executor="inline")
    async with engine(plugin) as started:
        result = await started.run(wf)
    assert result.ok and [call.stage for call in plugin.executor.calls] == ["a"]


async def test_the_configured_executor_is_the_default_of_stages_and_workflows_that_name_none() -> None:
    plugin = Plugin()
    wf = podium.Workflow("configured", strategy="longest-first")
    wf.add_stage(_returns("a"), name="a")
    async with engine(plugin, executor="recorder") as started:
        await started.run(wf)
    assert [call.stage for call in plugin.executor.calls] == ["a"]


async def test_an_executor_check_is_a_definition_error_before_the_run() -> None:
    plugin = Plugin()
    wf = podium.Workflow("checked", strategy="longest-first", executor="recorder")
    wf.add_stage(_returns("a"), name="a", executor_options={"colour": "red"})
    wf.add_stage(_returns("b"), name="b", executor="inline", executor_options={"label": "x"})
    async with engine(plugin) as started:
        with pytest.raises(podium.DefinitionErrors) as info:
            await started.run(wf)
    assert plugin.executor.calls == []
    assert "stage 'a': no option 'colour'" in str(info.value)
    assert "stage 'b' gives executor_options ['label'], but executor 'inline' takes none" in str(info.value)


async def test_an_unregistered_plugin_executor_names_the_package_that_provides_it() -> None:
    wf = podium.Workflow("missing", strategy="longest-first", executor="dask")
    wf.add_stage(_returns("a"), name="a")
    async with engine(Plugin()) as started:
        with pytest.raises(podium.DefinitionErrors, match=r"install it with: pip install 'podium\[dask\]'"):
            await started.run(wf)


def test_executor_options_must_be_a_mapping_of_names() -> None:
    wf = podium.Workflow("bad")
    with pytest.raises(podium.DefinitionError, match="executor_options must be a mapping of option names"):
        wf.add_stage(_returns("a"), name="a", executor_options=["GPU"])  # type: ignore[typeddict-item]
    with pytest.raises(podium.DefinitionError, match="executor must name an executor"):
        podium.Workflow("bad", executor="")


def test_a_toml_workflow_takes_a_default_executor_and_stage_executor_options(tmp_path: Path) -> None:
    (tmp_path / "toml_executor_stages.py").write_text("def parse(text: str) -> int:\n    return len(text)\n")
    path = tmp_path / "wf.toml"
    path.write_text(
        '[workflow]\nname = "t"\nexecutor = "dask"\n'
        '[[stages]]\nrun = "toml_executor_stages:parse"\nexecutor_options = { resources = { GPU = 1 } }\n'
    )
    wf = load_toml(path)
    assert wf.executor == "dask"
    assert wf.stages["parse"].executor is None  # the workflow's default applies
    assert wf.stages["parse"].executor_options == {"resources": {"GPU": 1}}


async def test_a_misspelt_executor_is_named_with_the_closest_registered_one() -> None:
    wf = podium.Workflow("typo", strategy="longest-first")
    wf.add_stage(_returns("a"), name="a")
    async with engine(Plugin(), executor="recorer") as started:
        with pytest.raises(podium.DefinitionErrors) as info:
            await started.run(wf)
    assert "stage 'a' uses executor 'recorer' (did you mean 'recorder'?), which is not registered" in str(
        info.value
    )
