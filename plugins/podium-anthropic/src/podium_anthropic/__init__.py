"""podium-anthropic: Claude models as Podium agents, through the official ``anthropic`` SDK.

Declare an agent with ``provider = "anthropic"``; provider-wide settings live in
``[plugins.anthropic]``. Each call is one request (the SDK's retries are off): usage with
cache reads and writes, the stop reason, the model, the ``anthropic-ratelimit-*`` state
and mapped errors come back to the agent policies. See ``docs/anthropic.md``.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from podium import AgentSpec, Config, Engine, ProviderFactory, hookimpl

from .agent import NONSTREAMING_MAX_TOKENS, AnthropicAgent
from .config import (
    CALL_OPTIONS,
    CLIENT_OPTIONS,
    PROVIDER,
    AgentOptions,
    AnthropicConfig,
    ClientSettings,
    structure_options,
)

__version__ = "0.1.0"

#: The agents built for each engine's configuration, closed when that engine stops.
_built: weakref.WeakKeyDictionary[Config, list[AnthropicAgent]] = weakref.WeakKeyDictionary()


def build_agent(spec: AgentSpec, config: Config) -> AnthropicAgent:
    """The provider's factory: an :class:`AnthropicAgent` from a declaration and the configuration.

    Every bad option, and a missing API key, is a :class:`podium.ConfigError` naming the
    agent and the key, raised here, before any request.
    """
    where = f"agents.{spec.name}"
    section: AnthropicConfig = config.section(PROVIDER)
    declared = structure_options(config.converter, spec.options, where, (*CLIENT_OPTIONS, *CALL_OPTIONS))
    defaults = AgentOptions(
        max_tokens=section.max_tokens, stream=section.stream, cache_system=section.cache_system
    )
    options = declared.over(defaults)
    client = ClientSettings.resolve(section, options, where)
    agent = AnthropicAgent(spec.name, spec.model, client, options, config.converter)
    _built.setdefault(config, []).append(agent)
    return agent


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register(PROVIDER, AnthropicConfig)


@hookimpl
def podium_register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register(PROVIDER, build_agent)


@hookimpl
def podium_engine_stopping(engine: Engine) -> Awaitable[None] | None:
    agents = _built.pop(engine.config, [])
    if not agents:
        return None

    async def close() -> None:
        for agent in agents:
            await agent.aclose()

    return close()


__all__ = [
    "NONSTREAMING_MAX_TOKENS",
    "AgentOptions",
    "AnthropicAgent",
    "AnthropicConfig",
    "__version__",
    "build_agent",
]
