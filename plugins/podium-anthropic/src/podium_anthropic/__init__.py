"""podium-anthropic: Claude models as Podium agents, through the official ``anthropic`` SDK.

Declare an agent with ``provider = "anthropic"``; provider-wide settings live in
``[plugins.anthropic]``. Each call is one request (the SDK's retries are off): usage with
cache reads and writes, the stop reason, the model, the ``anthropic-ratelimit-*`` state
and mapped errors come back to the agent policies. See ``docs/anthropic.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podium import AgentSpec, Config, Engine, ProviderFactory, hookimpl
from podium import provider_kit as kit

from .agent import NONSTREAMING_MAX_TOKENS, AnthropicAgent
from .config import PROVIDER, AgentOptions, AnthropicConfig, ClientSettings

__version__ = "0.1.0"

#: The SDK clients of the agents built for each engine, closed when that engine stops.
_clients = kit.Closer()


def build_agent(spec: AgentSpec, config: Config) -> AnthropicAgent:
    """The provider's factory: an :class:`AnthropicAgent` from a declaration and the configuration.

    Every bad option, and a missing API key, is a :class:`podium.ConfigError` naming the
    agent and the key, raised here, before any request.
    """
    where = f"agents.{spec.name}"
    section: AnthropicConfig = config.section(PROVIDER)
    declared = AnthropicAgent.structure(config, spec.options, where)
    defaults = AgentOptions(
        max_tokens=section.max_tokens, stream=section.stream, cache_system=section.cache_system
    )
    options = kit.fill(declared, defaults)
    client = ClientSettings.resolve(section, options, where)
    agent = AnthropicAgent(spec.name, spec.model, client, options, config)
    _clients.track(config, agent.clients)
    return agent


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register(PROVIDER, AnthropicConfig)


@hookimpl
def podium_register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register(PROVIDER, build_agent)


@hookimpl
def podium_engine_stopping(engine: Engine) -> Awaitable[None] | None:
    return _clients.close(engine)


__all__ = [
    "NONSTREAMING_MAX_TOKENS",
    "AgentOptions",
    "AnthropicAgent",
    "AnthropicConfig",
    "__version__",
    "build_agent",
]
