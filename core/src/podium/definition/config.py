"""Configuration: one place, one precedence, every value traceable to where it came from.

Precedence, highest first: explicit overrides (CLI flags) > ``PODIUM_*`` environment
variables > a config file (``--config FILE``, else ``podium.toml`` in the working
directory, else ``[tool.podium]`` in ``pyproject.toml``) > defaults. Each plugin owns a
section ``[plugins.<name>]`` structured by the attrs class it registers.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import attrs
import cattrs

from podium.definition.agents import (
    AgentDeclaration,
    RateLimit,
    SchedulerSettings,
    TemplateDeclaration,
    register_agent_hooks,
)
from podium.definition.converter import (
    Check,
    Duration,
    make_config_converter,
    parse_bool,
    parse_duration,
    structure,
)
from podium.foundation.errors import ConfigError
from podium.foundation.redaction import Secret, is_secret_key, redact_url, url_port
from podium.values.alert_rules import AlertRules, Limit, TokenLimit
from podium.values.costs import CostSettings
from podium.values.kpis import SloTargets
from podium.values.pricing import ModelPrice
from podium.values.records import RunStoreSettings

#: The top-level ``store``: a run store URL, or a boolean.
StoreSetting = str | bool | None

#: The values ``log_level`` takes (in any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _positive_seconds(value: float) -> float:
    if value <= 0:
        raise ValueError(f"cache_timeout must be more than 0 seconds, got {value!r}")
    return value


def _known_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)} (any case), got {value!r}")
    return value


def _cache_url(value: str) -> str:
    try:
        url_port(value)  # a port that is not one is an error here, before anything connects
    except ValueError as exc:
        raise ValueError(f"cache_url {exc}") from None
    return value


@attrs.define
class Settings:
    """The kernel's own settings (the top level of the configuration)."""

    strategy: str = "sequential"
    #: Where stage bodies run when neither the stage nor its workflow names an executor
    #: (``None``: ``inline`` for ``async def``, ``thread`` for a plain function).
    executor: str | None = None
    cache_url: Annotated[str, Check(_cache_url)] = "memory://"
    cache_timeout: Annotated[Duration, Check(_positive_seconds)] = 2.0
    disable: list[str] = attrs.field(factory=list)
    load_plugins: list[str] | None = None
    autoload: bool = True
    required_plugins: list[str] = attrs.field(factory=list)
    log_level: Annotated[str, Check(_known_level)] = "WARNING"
    pricing: dict[str, ModelPrice] = attrs.field(factory=dict)
    plugins: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    # Agents and the engine's scheduling (podium.definition.agents).
    agents: dict[str, AgentDeclaration] = attrs.field(factory=dict)
    limits: dict[str, RateLimit] = attrs.field(factory=dict)
    limits_backend: str = "memory://"
    scheduler: SchedulerSettings = attrs.field(factory=SchedulerSettings)
    templates: dict[str, TemplateDeclaration] = attrs.field(factory=dict)
    #: The run store: a URL, ``false`` for none, ``true`` (or, on the command line, left
    #: out) for the default file (see docs/monitoring.md, with the sections below).
    store: StoreSetting = None
    run_store: RunStoreSettings = attrs.field(factory=RunStoreSettings)
    alerts: AlertRules = attrs.field(factory=AlertRules)
    slo: SloTargets = attrs.field(factory=SloTargets)
    cost: CostSettings = attrs.field(factory=CostSettings)


#: Top-level keys renamed since an earlier release, old → new. A configuration still using
#: an old key fails with a message naming the new one (a bare "extra field" would not say).
RENAMED = {"cache": "cache_url"}

_LIST_KEYS = {"disable", "load_plugins", "required_plugins"}
#: Settings that are tables of tables, never set from one environment variable.
_TABLES = ("agents", "limits", "scheduler", "templates", "run_store", "alerts", "slo", "cost")


def _limit(value: Any, _: Any) -> float | None:
    """A rule's threshold: a number or duration, or ``false`` for no rule."""
    if value is False:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number, or false to turn the rule off; got true")
    return parse_duration(value)


def _token_limit(value: Any, _: Any) -> bool | int:
    if isinstance(value, bool) or (isinstance(value, int) and value > 0):
        return value
    raise ValueError(f"expected true (the workflow's budget), false or a number of tokens, got {value!r}")


def _store(value: Any, _: Any) -> str | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return parse_bool(value)  # an environment variable: PODIUM_STORE=false
        except ValueError:
            return value.strip()
    raise ValueError(
        f"expected a run store URL such as 'sqlite:///.podium/runs.sqlite3', or false; got {value!r}"
    )


def settings_converter() -> cattrs.Converter:
    """The configuration converter, with the hooks of the kernel's own setting types."""
    converter = make_config_converter()
    register_agent_hooks(converter)
    converter.register_structure_hook(Limit, _limit)
    converter.register_structure_hook_func(lambda t: t == TokenLimit, _token_limit)
    converter.register_structure_hook_func(lambda t: t == StoreSetting, _store)
    return converter


#: Origins that are not a file (a configuration built in code, or defaults alone).
_NOT_FILES = ("defaults", "configuration")


class Config:
    """The effective configuration: core :class:`Settings`, plugin sections, provenance.

    :param data: The configuration as nested mappings (what a TOML file holds).
    :param sources: Where each value came from, by dotted key (``podium config`` shows it).
    :param origin: The file it was loaded from, or ``"defaults"``.
    :param env: The environment plugin sections read their variables from (default: ``os.environ``).
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        sources: Mapping[str, str] | None = None,
        origin: str = "configuration",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.sources: dict[str, str] = dict(sources or {})
        self.origin = origin
        self.env = os.environ if env is None else env
        self.converter = settings_converter()
        _refuse_renamed(self.data, self.sources, origin)
        self.settings: Settings = self._structure(self.data, Settings, "config")
        self._section_types: dict[str, type] = {}
        self._section_env: dict[str, dict[str, str]] = {}
        self._sections: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Config from {self.origin}>"

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        *,
        file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        cwd: str | Path | None = None,
    ) -> Config:
        """Load defaults < file < environment < ``overrides`` (dotted keys, e.g. ``"cache_url"``)."""
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        sources: dict[str, str] = {}

        def layer(values: dict[str, Any], source: Callable[[tuple[str, ...]], str]) -> None:
            for path_, value in _flatten(values).items():
                _assign(data, path_, value)
                sources[dotted(path_)] = source(path_)

        path = Path(file) if file is not None else _find_file(Path(cwd or os.getcwd()))
        if path is not None:
            layer(_read_file(path, explicit=file is not None), lambda _: str(path))
        from_env, variables = _from_env(env)
        layer(from_env, lambda key: _env_source(key, variables))
        if overrides:
            flags: dict[str, Any] = {}
            for key, value in overrides.items():
                if value is not None:
                    _assign(flags, tuple(key.split(".")), value)
            layer(flags, lambda _: "command line")
        return cls(data, sources, origin=str(path) if path else "defaults", env=env)

    def _structure(self, data: Any, cls: type, path: str) -> Any:
        """``data`` as ``cls``, or a :class:`ConfigError` naming each bad key and where it was set."""
        header = "" if self.origin in _NOT_FILES else self.origin
        return structure(self.converter, data, cls, path, header, sources=self._set_by)

    def _set_by(self, keys: tuple[str, ...], below: bool = False) -> str | None:
        """Where the value at ``keys`` was set, for an error (``None``: the file, or unknown).

        ``below``: for a table, the one place every value in it was set, when there is one.
        """
        key = dotted(keys)
        source = self.sources.get(key)
        if source is None and below:
            inside = {s for k, s in self.sources.items() if k.startswith(f"{key}.")}
            source = inside.pop() if len(inside) == 1 else None
        if source is None or source == self.origin or source == "default":
            return None
        if source.startswith("environment (") and source.endswith(")"):
            return f"set by {source[len('environment (') : -1]}"
        return "set on the command line" if source == "command line" else f"set in {source}"

    # ---------------------------------------------------------------- plugin sections

    def register_section(self, name: str, cls: type, env: Mapping[str, str] | None = None) -> None:
        """Declare the section ``[plugins.<name>]``, structured into the attrs class ``cls``.

        ``env`` maps a field to an environment variable that gives its value when the
        configuration does not (``{"api_key": "CONTEXT7_API_KEY"}``): below the file and
        ``PODIUM_PLUGINS__*`` variables, above the default. ``podium config`` shows the
        value it gave, masked when secret, with the variable as its source.
        """
        self._section_types[name] = cls
        self._section_env[name] = dict(env or {})
        self._sections.pop(name, None)

    def section(self, name: str) -> Any:
        """The structured ``[plugins.<name>]`` section (a dict when no class was registered)."""
        if name not in self._sections:
            raw = self._section_data(name)
            cls = self._section_types.get(name)
            self._sections[name] = raw if cls is None else self._structure(raw, cls, f"config.plugins.{name}")
        return self._sections[name]

    def _section_data(self, name: str) -> dict[str, Any]:
        """The section as configured, with the values its environment variables give."""
        raw = dict(self.settings.plugins.get(name, {}))
        for field, variable in self._section_env.get(name, {}).items():
            value = self.env.get(variable)
            if field not in raw and value:
                raw[field] = _env_value(value)
                self.sources[dotted(("plugins", name, field))] = f"environment ({variable})"
        return raw

    def validate_sections(self) -> None:
        """Structure every registered section now, so errors show before anything runs."""
        for name in self._section_types:
            self.section(name)

    # ---------------------------------------------------------------- display

    def describe(self) -> list[tuple[str, Any, str]]:
        """Every effective value as (dotted key, value with secrets masked, source)."""
        rows: dict[str, tuple[Any, str]] = {}
        for path_, value in _flatten(self.converter.unstructure(Settings())).items():
            rows[dotted(path_)] = (value, "default")
        for name, cls in self._section_types.items():
            if attrs.has(cls):
                try:
                    default = self.converter.unstructure(cls())
                except TypeError:
                    continue
                for path_, value in _flatten(default).items():
                    rows[dotted(("plugins", name, *path_))] = (value, "default")
        effective = {**self.data, "plugins": {**self.settings.plugins}}
        for name in self._section_types:
            effective["plugins"][name] = self._section_data(name)
        for path_, value in _flatten(effective).items():
            key = dotted(path_)
            rows[key] = (value, self.sources.get(key, "default"))
        return [
            (
                key,
                "********"
                if (is_secret_key(key) or isinstance(value, Secret)) and value
                else redact_url(value)
                if isinstance(value, str) and "://" in value
                else value,
                source,
            )
            for key, (value, source) in sorted(rows.items())
        ]


def _refuse_renamed(data: Mapping[str, Any], sources: Mapping[str, str], origin: str) -> None:
    for old, new in RENAMED.items():
        if old in data:
            where = sources.get(old, origin)
            raise ConfigError(
                f"{where}: invalid configuration:\n  - {old!r} is now called {new!r} (environment "
                f"variable PODIUM_{new.upper()} instead of PODIUM_{old.upper()}): rename it @ config.{old}"
            )


def _find_file(cwd: Path) -> Path | None:
    podium = cwd / "podium.toml"
    if podium.is_file():
        return podium
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file() and "podium" in _load_toml(pyproject).get("tool", {}):
        return pyproject
    return None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror}") from None


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    if explicit and not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    data = _load_toml(path)
    if path.name == "pyproject.toml":
        return dict(data.get("tool", {}).get("podium", {}))
    return data


def _from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The ``PODIUM_*`` variables as configuration, and the variable behind each key path."""
    out: dict[str, Any] = {}
    variables: dict[tuple[str, ...], str] = {}
    core = {f.name for f in attrs.fields(Settings)} - {"plugins", "pricing", "autoload", *_TABLES}
    for name, raw in env.items():
        if not name.startswith("PODIUM_"):
            continue
        key = name[len("PODIUM_") :].lower()
        if key == "disable_plugin_autoload":
            try:
                out["autoload"] = not parse_bool(raw) if raw else True
            except ValueError as exc:
                raise ConfigError(
                    f"invalid configuration:\n  - {exc} @ config.autoload (set by {name})"
                ) from None
            variables[("autoload",)] = name
        elif key in core or key in RENAMED:  # a renamed one, to be refused with its new name
            out[key] = [p.strip() for p in raw.split(",") if p.strip()] if key in _LIST_KEYS else raw
            variables[(key,)] = name
        elif key.startswith("plugins__"):
            parts = tuple(key.split("__"))
            if len(parts) >= 3:
                _assign(out, parts, _env_value(raw))
                variables[parts] = name
    return out, variables


def _env_source(path: tuple[str, ...], variables: Mapping[tuple[str, ...], str]) -> str:
    for n in range(len(path), 0, -1):
        if path[:n] in variables:
            return f"environment ({variables[path[:n]]})"
    return "environment"


def _env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def dotted(path: tuple[str, ...]) -> str:
    """A key path for people: ``pricing."gpt-4.1".input`` (parts holding dots are quoted)."""
    return ".".join(f'"{part}"' if "." in part else part for part in path)


def _flatten(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    # Paths are tuples, never dotted strings, so keys such as "gpt-4.1" survive layering.
    out: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _assign(data: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value
