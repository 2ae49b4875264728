"""Built-in agents: the ``simulated`` provider, and rate-limit meters in memory or Redis."""

from __future__ import annotations

from collections.abc import Callable

from podium.backends.limits_redis import RedisLimits
from podium.definition.config import Config
from podium.foundation.errors import ConfigError
from podium.foundation.markers import hookimpl
from podium.running.agents import Agent, ProviderFactory, SimulatedAgent
from podium.running.agents.limiter import LimitsBackend, MemoryLimits
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


@hookimpl(trylast=True)
def podium_limits_backend(url: str, config: Config) -> LimitsBackend | None:
    scheme = url.partition("://")[0]
    if scheme == "memory":
        return MemoryLimits()
    if scheme in ("redis", "rediss", "unix"):
        return RedisLimits(url)
    return None
