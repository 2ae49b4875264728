"""``podium run --agents PROFILE``: run a workflow on agents declared in a TOML file.

A profile is a file of ``[agents.<name>]`` tables, each with a ``provider`` (a registered
provider: ``simulated`` built in, ``anthropic``, ``openai``, ...), a ``model``, that
provider's options and the agent's policies (``pool``, ``rpm``, ``tpm``, ``breaker``, ...),
as in the configuration. ``PROFILE`` is a path, or a name ``NAME`` for ``agents.NAME.toml``
beside the workflow file. Its agents are built through the providers once the engine has
started and replace the workflow's own agents of the same names, so one workflow runs
offline on simulated agents and, with a profile, on real models.

Stage results are cached by their inputs, not by the agents that produced them, so a
profile's runs keep their own default cache file (``.podium/cache.agents.NAME.sqlite3``):
simulated answers never stand in for a real model's, nor the other way round.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from podium.engine.agents import add_declared
from podium.engine.engine import Engine
from podium.foundation.errors import ConfigError, install_hint
from podium.values.providers import AgentSpec


def profile_path(profile: str, target: str) -> Path:
    """The file ``profile`` names: itself when it is a TOML path, else ``agents.NAME.toml``
    beside the workflow file ``target``."""
    if profile.endswith(".toml") or "/" in profile:
        path = Path(profile)
    else:
        where = Path(target.split(":", 1)[0]).resolve().parent
        path = where / f"agents.{profile}.toml"
        if not path.is_file():
            known = sorted(
                p.name.removeprefix("agents.").removesuffix(".toml") for p in where.glob("agents.*.toml")
            )
            close = difflib.get_close_matches(profile, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"--agents {profile}: no agent profile {path.name} beside the workflow in {where}{hint}; "
                f"profiles there: {', '.join(known) or 'none'}"
            )
    if not path.is_file():
        raise ConfigError(f"--agents {profile}: agent profile {path} not found")
    return path


def profile_cache_url(path: Path) -> str:
    """The command line's default cache for runs on the profile at ``path``."""
    return f"sqlite:///.podium/cache.{path.stem}.sqlite3"


def load_profile(path: Path) -> list[AgentSpec]:
    """The agents a profile file declares; every mistake in it is reported at once, with its key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the agent profile: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    problems = [
        f"unknown top-level key {key!r} (a profile holds [agents.<name>] tables)"
        for key in data
        if key != "agents"
    ]
    tables: Any = data.get("agents")
    if not isinstance(tables, dict) or not tables:
        problems.append("no [agents.<name>] table")
        tables = {}
    specs: list[AgentSpec] = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            problems.append(f"agents.{name}: expected a table, got {table!r}")
            continue
        options = dict(table)
        provider, model = options.pop("provider", None), options.pop("model", None)
        for key, value in (("provider", provider), ("model", model)):
            if not isinstance(value, str) or not value:
                problems.append(f"agents.{name}.{key}: required, a non-empty string")
        if not problems:
            specs.append(AgentSpec(name, str(provider), str(model), options))
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise ConfigError(f"{path}: invalid agent profile:\n{listed}")
    return specs


def register_profile(engine: Engine, specs: list[AgentSpec]) -> None:
    """Build each declared agent through its provider and register it under its name, with
    the policies its table declares (``pool``, ``rpm``, ``tpm``, ``breaker``, ...)."""
    for spec in specs:
        if spec.provider not in engine.providers:
            installed = ", ".join(sorted(engine.providers)) or "none"
            command = install_hint(f"provider {spec.provider}")
            install = f"; install it with: {command}" if command else ""
            raise ConfigError(
                f"agents.{spec.name}: no provider {spec.provider!r} is installed "
                f"(installed: {installed}){install}"
            )
    tables = {spec.name: {"provider": spec.provider, "model": spec.model, **spec.options} for spec in specs}
    add_declared(engine, tables, "agent profile")
