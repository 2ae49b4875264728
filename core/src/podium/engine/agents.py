"""How an engine assembles its agents: declarations, providers, policies, meters.

Agents come from three places with one model: ``[agents.<name>]`` tables (built by their
provider's factory), ``Engine(agents={name: Agent | AgentSpec})``, and plugins'
``podium_register_agents``. A table named like an agent registered in code sets that
agent's policies. Every mistake is reported at once, with its path, before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from podium.definition.agents import AgentPolicy, check_declarations, raise_errors
from podium.foundation.errors import ConfigError, PodiumError, suggest
from podium.foundation.redaction import redact_url
from podium.running.agents import Agent
from podium.running.agents.limiter import Limiter, LimitsBackend, Meter, meters_of
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
    errors = check_declarations(
        declared, in_code=set(engine.agents), providers=providers, origin=config.origin
    )
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
        factory = engine.providers[spec.provider]
        try:
            agent = factory(spec, config)
        except PodiumError:
            raise
        except Exception as error:
            raise ConfigError(
                f"agents.{name}: provider {spec.provider!r} could not build the agent: {error}"
            ) from error
        if not isinstance(agent, Agent):
            raise ConfigError(
                f"agents.{name}: provider {spec.provider!r} returned {agent!r}, not a podium.Agent"
            )
        engine.agents.register(name, agent)
        options[name] = spec.options
    chosen = dict(policies)
    chosen.update({name: table.policy() for name, table in declared.items()})
    return chosen, options


def meters(
    engine: Engine, policies: Mapping[str, AgentPolicy]
) -> tuple[dict[str, tuple[Meter, ...]], dict[str, tuple[Meter, ...]]]:
    """The meters of every agent's own limits, and of every provider key's."""
    own = {name: meters_of(f"agent:{name}", policy.limits) for name, policy in policies.items()}
    keys = {key: meters_of(f"key:{key}", limits) for key, limits in engine.config.settings.limits.items()}
    return own, keys


def open_limits(engine: Engine, url: str, needed: bool) -> Limiter:
    """The limiter over the configured ``limits_backend`` (memory unless meters must be shared)."""
    from podium.running.agents.limiter import MemoryLimits

    if not needed or url.startswith("memory://"):
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
    own, keys = meters(engine, chosen)
    needed = any(own.values()) or any(keys.values())
    limiter = open_limits(engine, engine.config.settings.limits_backend, needed)
    engine.agents.manage(limiter, chosen, keys, own, options)
    return limiter


__all__ = ["assemble", "declare_agents", "open_limits"]
