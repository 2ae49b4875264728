"""Configuration: one place, one precedence, every value traceable to where it came from.

Precedence, highest first: explicit overrides (CLI flags) > ``PODIUM_*`` environment
variables > a config file (``--config FILE``, else ``podium.toml`` in the working
directory, else ``[tool.podium]`` in ``pyproject.toml``) > defaults. Each plugin owns a
section ``[plugins.<name>]`` structured by the attrs class it registers.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.preconf.tomllib import make_converter

from podium.foundation.errors import ConfigError
from podium.foundation.redaction import Secret, is_secret_key, redact_url
from podium.values.alert_rules import AlertRules, Limit, TokenLimit
from podium.values.costs import CostSettings
from podium.values.kpis import SloTargets
from podium.values.pricing import ModelPrice
from podium.values.records import RunStoreSettings

#: The top-level ``store``: a run store URL, ``false`` for none, ``true`` (or left out,
#: on the command line) for the default file.
StoreSetting = str | bool | None


@attrs.define
class Settings:
    """The kernel's own settings (the top level of the configuration)."""

    strategy: str = "sequential"
    cache_url: str = "memory://"
    cache_timeout: float = 2.0
    disable: list[str] = attrs.field(factory=list)
    load_plugins: list[str] | None = None
    autoload: bool = True
    required_plugins: list[str] = attrs.field(factory=list)
    log_level: str = "WARNING"
    pricing: dict[str, ModelPrice] = attrs.field(factory=dict)
    plugins: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    store: StoreSetting = None
    run_store: RunStoreSettings = attrs.field(factory=RunStoreSettings)
    alerts: AlertRules = attrs.field(factory=AlertRules)
    slo: SloTargets = attrs.field(factory=SloTargets)
    cost: CostSettings = attrs.field(factory=CostSettings)


#: Top-level keys renamed since an earlier release, old → new. A configuration still using
#: an old key fails with a message naming the new one (a bare "extra field" would not say).
RENAMED = {"cache": "cache_url"}

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_LIST_KEYS = {"disable", "load_plugins", "required_plugins"}
#: Top-level tables, which environment variables do not set.
_TABLE_KEYS = {"plugins", "pricing", "run_store", "alerts", "slo", "cost"}
_FALSE = {"0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on"}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``"30s"``, ``"5m"``, ``"250ms"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number of seconds, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"expected seconds or a duration like '30s' or '5m', got {value!r}")


def _bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _limit(value: Any, _: type) -> float | None:
    if value is False:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number, or false to turn the rule off; got true")
    return parse_duration(value)


def _token_limit(value: Any, _: type) -> bool | int:
    if isinstance(value, bool) or (isinstance(value, int) and value > 0):
        return value
    raise ValueError(f"expected true (the workflow's budget), false or a number of tokens, got {value!r}")


def _store(value: Any, _: type) -> str | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        word = value.strip().lower()
        return False if word in _FALSE else True if word in _TRUE else value.strip()
    raise ValueError(
        f"expected a run store URL such as 'sqlite:///.podium/runs.sqlite3', or false; got {value!r}"
    )


def make_config_converter() -> cattrs.Converter:
    """The converter used for configuration and TOML workflows (strict, path-precise)."""
    converter = make_converter(forbid_extra_keys=True)
    converter.register_structure_hook(float, lambda v, _: parse_duration(v))
    converter.register_structure_hook(bool, _bool)
    converter.register_structure_hook(Limit, _limit)
    converter.register_structure_hook_func(lambda t: t == TokenLimit, _token_limit)
    converter.register_structure_hook_func(lambda t: t == StoreSetting, _store)
    converter.register_structure_hook(Secret, lambda v, _: v if isinstance(v, Secret) else Secret(str(v)))
    converter.register_unstructure_hook(Secret, lambda v: "********")
    return converter


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, (ValueError, ConfigError)) and not isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def structure(
    converter: cattrs.Converter, data: Any, cls: type, path: str, source: str, what: str = "configuration"
) -> Any:
    """Structure ``data`` into ``cls``; on failure a :class:`ConfigError` listing each path.

    ``path`` prefixes every location (``config.plugins.otel``); an empty one reports
    locations from the document's root (``stages[2].timeout``).
    """
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        root = path or "$"
        if isinstance(exc, cattrs.BaseValidationError):
            lines = cattrs.transform_error(exc, path=root, format_exception=_format_exception)
        else:
            lines = [f"{exc} @ {root}"]
        if not path:
            lines = [line.replace("@ $.", "@ ").replace("@ $", "@ top level") for line in lines]
        body = "\n".join(f"  - {line}" for line in lines)
        raise ConfigError(f"{source}: invalid {what}:\n{body}") from None


class Config:
    """The effective configuration: core :class:`Settings`, plugin sections, provenance."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        sources: Mapping[str, str] | None = None,
        origin: str = "configuration",
    ) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.sources: dict[str, str] = dict(sources or {})
        self.origin = origin
        self.converter = make_config_converter()
        _refuse_renamed(self.data, self.sources, origin)
        self.settings: Settings = structure(self.converter, self.data, Settings, "config", origin)
        self._section_types: dict[str, type] = {}
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
        layers: list[tuple[str, dict[str, Any]]] = []
        path = Path(file) if file is not None else _find_file(Path(cwd or os.getcwd()))
        if path is not None:
            layers.append((str(path), _read_file(path, explicit=file is not None)))
        layers.append(("environment", _from_env(env)))
        if overrides:
            flags: dict[str, Any] = {}
            for key, value in overrides.items():
                if value is not None:
                    _assign(flags, tuple(key.split(".")), value)
            layers.append(("command line", flags))
        data: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for source, layer in layers:
            for path_, value in _flatten(layer).items():
                _assign(data, path_, value)
                sources[dotted(path_)] = source
        return cls(data, sources, origin=str(path) if path else "defaults")

    # ---------------------------------------------------------------- plugin sections

    def register_section(self, name: str, cls: type) -> None:
        self._section_types[name] = cls
        self._sections.pop(name, None)

    def section(self, name: str) -> Any:
        """The structured ``[plugins.<name>]`` section (a dict when no class was registered)."""
        if name not in self._sections:
            raw = self.settings.plugins.get(name, {})
            cls = self._section_types.get(name)
            self._sections[name] = (
                dict(raw)
                if cls is None
                else structure(self.converter, raw, cls, f"config.plugins.{name}", self.origin)
            )
        return self._sections[name]

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
        for path_, value in _flatten(self.data).items():
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
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror}") from None


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    if explicit and not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    data = _load_toml(path)
    if path.name == "pyproject.toml":
        return dict(data.get("tool", {}).get("podium", {}))
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    core = {f.name for f in attrs.fields(Settings)} - _TABLE_KEYS - {"autoload"}
    for name, raw in env.items():
        if not name.startswith("PODIUM_"):
            continue
        key = name[len("PODIUM_") :].lower()
        if key == "disable_plugin_autoload":
            out["autoload"] = not _bool(raw, bool) if raw else True
        elif key in core or key in RENAMED:  # a renamed one, to be refused with its new name
            out[key] = [p.strip() for p in raw.split(",") if p.strip()] if key in _LIST_KEYS else raw
        elif key.startswith("plugins__"):
            parts = key.split("__")
            if len(parts) >= 3:
                _assign(out, tuple(parts), _env_value(raw))
    return out


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
