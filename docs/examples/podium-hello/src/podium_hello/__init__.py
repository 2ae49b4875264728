"""An example Podium plugin: a greeting agent, its configuration, and a stage counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

import podium


@attrs.define
class HelloSettings:
    """The ``[plugins.hello]`` configuration section."""

    greeting: str = "Hello"


class HelloAgent:
    """Answers every prompt with a greeting; costs one token per word."""

    provider = "hello"
    model = "hello-1"

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    async def complete(self, prompt: str, **options: Any) -> podium.AgentReply:
        text = f"{self.greeting}, {prompt}!"
        usage = podium.Usage(input_tokens=len(prompt.split()), output_tokens=len(text.split()), requests=1)
        return podium.AgentReply(text, usage, self.model)


#: Stages that succeeded, per workflow name, across the runs of this process.
succeeded: dict[str, int] = {}


@podium.hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register("hello", HelloSettings)


@podium.hookimpl
def podium_register_agents(register: Callable[[str, podium.Agent], None], config: podium.Config) -> None:
    settings: HelloSettings = config.section("hello")
    register("hello", HelloAgent(settings.greeting))


@podium.hookimpl
def podium_stage_ended(run: podium.RunState, result: podium.StageResult) -> None:
    if result.ok:
        succeeded[run.workflow.name] = succeeded.get(run.workflow.name, 0) + 1
