"""Built-in agents: the ``simulated`` provider, a deterministic stand-in for an LLM."""

from __future__ import annotations

from collections.abc import Callable

from podium.definition.config import Config
from podium.foundation.errors import ConfigError
from podium.foundation.markers import hookimpl
from podium.running.agents import Agent, ProviderFactory, SimulatedAgent
from podium.values.providers import AgentSpec


def simulated(spec: AgentSpec, config: Config) -> Agent:
    """A :class:`podium.SimulatedAgent` with the spec's model; options are its parameters."""
    try:
        return SimulatedAgent(model=spec.model, **dict(spec.options))
    except TypeError as error:
        raise ConfigError(f"agents.{spec.name}: bad option for the simulated provider: {error}") from None


@hookimpl(trylast=True)
def podium_register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register("simulated", simulated)
