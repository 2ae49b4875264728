"""podium-openai: Chat Completions models as Podium agents, through the official ``openai`` SDK.

Declare an agent with ``provider = "openai"``; provider-wide settings live in
``[plugins.openai]``. ``base_url`` points it at OpenAI or at a server speaking the same
protocol (vLLM, Ollama, llama.cpp's server). Each call is one request (the SDK's retries
are off): usage with cached prompt tokens, the finish reason, the model, the
``x-ratelimit-*`` state and mapped errors come back to the agent policies. See
``docs/openai.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podium import AgentSpec, Config, Engine, ProviderFactory, hookimpl
from podium import provider_kit as kit

from .agent import STOP_REASONS, OpenAIAgent
from .config import PROVIDER, AgentOptions, ClientSettings, OpenAIConfig

__version__ = "0.1.0"

#: The SDK clients of the agents built for each engine, closed when that engine stops.
_clients = kit.Closer()


def build_agent(spec: AgentSpec, config: Config) -> OpenAIAgent:
    """The provider's factory: an :class:`OpenAIAgent` from a declaration and the configuration.

    Every bad option, and a missing API key for OpenAI's own API, is a
    :class:`podium.ConfigError` naming the agent and the key, raised here, before any request.
    """
    where = f"agents.{spec.name}"
    section: OpenAIConfig = config.section(PROVIDER)
    declared = OpenAIAgent.structure(config, spec.options, where)
    defaults = AgentOptions(
        max_tokens=section.max_tokens, max_tokens_field=section.max_tokens_field, stream=section.stream
    )
    options = kit.fill(declared, defaults)
    client = ClientSettings.resolve(section, options, where)
    agent = OpenAIAgent(spec.name, spec.model, client, options, config)
    _clients.track(config, agent.clients)
    return agent


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register(PROVIDER, OpenAIConfig)


@hookimpl
def podium_register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register(PROVIDER, build_agent)


@hookimpl
def podium_engine_stopping(engine: Engine) -> Awaitable[None] | None:
    return _clients.close(engine)


__all__ = ["STOP_REASONS", "AgentOptions", "OpenAIAgent", "OpenAIConfig", "__version__", "build_agent"]
