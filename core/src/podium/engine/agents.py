"""How an engine assembles its agents: declarations, providers, policies, meters.

Agents come from three places with one model: ``[agents.<name>]`` tables (built by their
provider's factory), ``Engine(agents={name: Agent | AgentSpec})``, and plugins'
``podium_register_agents``. A table named like an agent registered in code sets that
agent's policies. Every mistake is reported at once, with its path, before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.definition.agents import AgentDeclaration, AgentPolicy, check_declarations, raise_errors
from podium.definition.converter import structure
from podium.foundation.errors import ConfigError, PodiumError, suggest
from podium.foundation.redaction import redact_url
from podium.running.agents import Agent
from podium.running.agents.limiter import Limiter, LimitsBackend, MemoryLimits, Meter, meters_of
from podium.values.providers import AgentSpec

if TYPE_CHECKING:
    from podium.engine.engine import Engine


def declare_agents(
    engine: Engine, specs: Mapping[str, AgentSpec], policies: Mapping[str, AgentPolicy]
) -> tuple[dict[str, AgentPolicy], dict[str, Mapping[str, Any]]]:
    """Build the declared agents into ``engine.agents``; returns each agent's policy and options."""
    config = engine.config
    declared = config.settings.agents
    providers = set(engine.providers)
    errors = check_declarations(declared, in_code=set(engine.agents), providers=providers)
    for name, spec in specs.items():
        if spec.provider not in providers:
            errors.append(
                f"Engine(agents=...)[{name!r}]: no provider named {spec.provider!r}"
                f"{suggest(spec.provider, sorted(providers))}; "
                f"registered: {', '.join(sorted(providers)) or 'none'}"
            )
    known = set(engine.agents) | set(declared) | set(specs)
    given: Mapping[str, object] = policies  # from callers who may pass anything
    for name, policy in given.items():
        if not isinstance(policy, AgentPolicy):
            errors.append(f"Engine(policies=...)[{name!r}]: expected a podium.AgentPolicy, got {policy!r}")
            continue
        if name not in known:
            errors.append(f"Engine(policies=...)[{name!r}]: no agent named {name!r}")
        if policy.fallback is not None and policy.fallback not in known:
            errors.append(f"Engine(policies=...)[{name!r}].fallback: no agent named {policy.fallback!r}")
    raise_errors(errors, config.origin)

    options: dict[str, Mapping[str, Any]] = {}
    to_build = dict(specs)
    for name, table in declared.items():
        if name not in engine.agents:
            assert table.provider is not None and table.model is not None  # checked above
            to_build[name] = AgentSpec(name, table.provider, table.model, table.secret_options())
    for name, spec in to_build.items():
        engine.agents.register(name, build(engine, spec))
        options[name] = spec.options
    chosen = dict(policies)
    chosen.update({name: table.policy() for name, table in declared.items()})
    return chosen, options


def build(engine: Engine, spec: AgentSpec) -> Agent:
    """The agent ``spec`` declares, built by its (registered) provider."""
    try:
        agent = engine.providers[spec.provider](spec, engine.config)
    except PodiumError:
        raise
    except Exception as error:
        raise ConfigError(
            f"agents.{spec.name}: provider {spec.provider!r} could not build the agent: {error}"
        ) from error
    if not isinstance(agent, Agent):
        raise ConfigError(
            f"agents.{spec.name}: provider {spec.provider!r} returned {agent!r}, not a podium.Agent"
        )
    return agent


def add_declared(engine: Engine, tables: Mapping[str, Mapping[str, Any]], source: str) -> None:
    """Build agents from ``[agents.<name>]``-shaped tables (an agent profile) into a started
    engine, each with its policies, replacing the agents of those names."""
    declared: dict[str, AgentDeclaration] = structure(
        engine.config.converter, dict(tables), dict[str, AgentDeclaration], "agents", source, "agents"
    )
    raise_errors(check_declarations(declared, in_code=set(), providers=set(engine.providers)), source)
    for name, table in declared.items():
        assert table.provider is not None and table.model is not None
        spec = AgentSpec(name, table.provider, table.model, table.secret_options())
        engine.agents.add(name, build(engine, spec), table.policy(), spec.options)


def key_meters(engine: Engine) -> dict[str, tuple[Meter, ...]]:
    """The meters of every provider key's shared limits (``[limits.<key>]``)."""
    return {key: meters_of(f"key:{key}", limits) for key, limits in engine.config.settings.limits.items()}


def open_limits(engine: Engine, url: str) -> Limiter:
    """The limiter over the configured ``limits_backend``."""
    if url.startswith("memory://"):
        return Limiter(MemoryLimits())
    backend: LimitsBackend | None = engine.hook.podium_limits_backend(url=url, config=engine.config)
    if backend is None:
        raise ConfigError(
            f"limits_backend: no installed plugin keeps rate limits at {redact_url(url)!r} "
            "(built in: memory://, redis://host:port/db)"
        )
    return Limiter(backend)


def assemble(engine: Engine, specs: Mapping[str, AgentSpec], policies: Mapping[str, AgentPolicy]) -> Limiter:
    """Declare, meter and manage every agent of ``engine``; returns the limiter they share."""
    chosen, options = declare_agents(engine, specs, policies)
    limiter = open_limits(engine, engine.config.settings.limits_backend)
    engine.agents.manage(limiter, chosen, key_meters(engine), options)
    return limiter


__all__ = ["add_declared", "assemble", "build", "declare_agents", "open_limits"]
