"""Structuring configuration and TOML workflows with cattrs: strict types, path-precise errors.

Values are taken as their declared type says, never guessed: a number where a number is
declared, a list (not a string split into characters) where a list is, and durations
(``"30s"``, ``"5m"``) only in fields declared :data:`Duration`.
"""

from __future__ import annotations

import contextlib
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any

import attrs
import cattrs
import cattrs.cols
from cattrs.preconf.tomllib import make_converter

from podium.foundation.errors import ConfigError
from podium.foundation.redaction import Secret
from podium.values.units import Duration as Duration  # declared there: values use it too


@attrs.frozen
class Check:
    """Metadata of an ``Annotated`` field type: a function that checks the structured value
    (a ``ValueError`` is reported at the field's own path) and returns it, maybe normalized::

        log_level: Annotated[str, Check(known_level)] = "WARNING"
    """

    fn: Callable[[Any], Any]


def _is_checked(type_: Any) -> bool:
    return typing.get_origin(type_) is Annotated and any(isinstance(m, Check) for m in type_.__metadata__)


def _checked_factory(type_: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    checks = [m.fn for m in type_.__metadata__ if isinstance(m, Check)]
    others = tuple(m for m in type_.__metadata__ if not isinstance(m, Check))
    base: Any = Annotated[(type_.__origin__, *others)] if others else type_.__origin__  # e.g. a Duration

    def structure_checked(value: Any, _: Any) -> Any:
        value = converter.structure(value, base)
        for check in checks:
            value = check(value)
        return value

    return structure_checked


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``"30s"``, ``"5m"``, ``"250ms"``."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
        else:
            with contextlib.suppress(ValueError):
                seconds = float(value)
    if seconds is None:
        raise ValueError(f"expected seconds or a duration like '30s' or '5m', got {value!r}")
    if seconds < 0 or seconds != seconds:  # NaN is not a duration either
        raise ValueError(f"expected a duration of 0 seconds or more, got {value!r}")
    return seconds


def parse_bool(value: Any, _: Any = bool) -> bool:
    """``True``/``False`` from a bool or from ``1/0``, ``true/false``, ``yes/no``, ``on/off``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _number(value: Any, type_: type) -> float:
    if type_ is not float:
        return type_(value)  # type: ignore[no-any-return]  # a float subclass: by value, as cattrs does
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"expected a number, got {value!r}")


def _integer(value: Any, type_: type) -> int:
    if type_ is not int:
        return type_(value)  # type: ignore[no-any-return]  # an IntEnum: by value, as cattrs does
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"expected an integer, got {value!r}")


def _string(value: Any, type_: type) -> str:
    if type_ is not str:
        return type_(value)  # type: ignore[no-any-return]  # a StrEnum: by value, as cattrs does
    # A number is its text (an environment variable, ``name = 3``); nothing else is a string.
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def _is_list(type_: Any) -> bool:
    return type_ is list or typing.get_origin(type_) is list


def _list_factory(type_: Any, converter: cattrs.Converter) -> Callable[[Any, Any], list[Any]]:
    structure_items = cattrs.cols.list_structure_factory(type_, converter)

    def structure_list(value: Any, target: Any) -> list[Any]:
        if isinstance(value, str):
            raise ValueError(f"expected a list, got the string {value!r} (write [{value!r}] for one item)")
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        items: list[Any] = structure_items(value, target)
        return items

    return structure_list


def make_config_converter() -> cattrs.Converter:
    """The converter used for configuration and TOML workflows (strict, path-precise)."""
    converter = make_converter(forbid_extra_keys=True)
    converter.register_structure_hook_func(lambda t: t == Duration, lambda v, _: parse_duration(v))
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook(int, _integer)
    converter.register_structure_hook(str, _string)
    converter.register_structure_hook(bool, parse_bool)
    converter.register_structure_hook_factory(_is_list, _list_factory)
    converter.register_structure_hook_factory(_is_checked, _checked_factory)
    converter.register_structure_hook(Secret, lambda v, _: v if isinstance(v, Secret) else Secret(str(v)))
    converter.register_unstructure_hook(Secret, lambda v: "********")
    return converter


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, (ValueError, ConfigError)) and not isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


_PATH_PART = re.compile(r"\.([^.\[]+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def _keys(location: str) -> tuple[str, ...]:
    """``('pricing', 'm', 'input')`` from ``config.pricing['m'].input`` (list indexes dropped)."""
    return tuple(m.group(1) or m.group(2) for m in _PATH_PART.finditer(location) if not m.group(3))


def structure(
    converter: cattrs.Converter,
    data: Any,
    cls: type,
    path: str,
    source: str,
    what: str = "configuration",
    sources: Callable[[tuple[str, ...], bool], str | None] | None = None,
) -> Any:
    """Structure ``data`` into ``cls``; on failure a :class:`ConfigError` listing each path.

    ``path`` prefixes every location (``config.plugins.otel``); an empty one reports
    locations from the document's root (``stages[2].timeout``). ``sources`` names where
    the value at a key path came from, when that is not ``source`` itself (with ``True``:
    or where every value below it came from).
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
        if sources is not None:
            lines = [_with_source(line, sources) for line in lines]
        body = "\n".join(f"  - {line}" for line in lines)
        header = f"{source}: invalid {what}" if source else f"invalid {what}"
        raise ConfigError(f"{header}:\n{body}") from None


def _with_source(line: str, sources: Callable[[tuple[str, ...], bool], str | None]) -> str:
    location = line.rpartition(" @ ")[2]
    keys = _keys(location)
    for n in range(len(keys), 0, -1):
        # The location itself may be a table whose values came from one place (an error
        # about a whole plugin section); a parent only counts as the value's own source.
        origin = sources(keys[:n], n == len(keys))
        if origin is not None:
            return f"{line} ({origin})"
    return line
