"""Stage values and workflow inputs as the run store keeps them: JSON, safely, and back.

:func:`encode` turns a value into tagged JSON text that :func:`decode` turns back into an
equal value: JSON-like data, tuples, sets, bytes, dates, decimals, UUIDs, paths, enums,
and attrs, dataclass and pydantic instances. Decoding never imports a module and never
runs code a value names: a class is looked up among the modules already imported, and
only if it is an enum, an attrs or dataclass class, or a pydantic model. So a store
written by someone else can give wrong values, never run code. Pickle is used only when a
store is configured for it (``serializer = "pickle"``), for stores only trusted processes
write.

A value that cannot be kept (an open file, a lambda, a :class:`podium.Secret`, which is
never stored) is recorded as unserializable with the reason; a resumed run re-runs
that stage.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import decimal
import enum
import json
import math
import pathlib
import pickle
import sys
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from podium.foundation.redaction import Secret

#: How a value is kept: tagged JSON, pickle (opted in), or not at all (with the reason).
Format = Literal["json", "pickle", "unserializable"]
SERIALIZERS = ("json", "pickle")

_TAG = "$"  # objects whose only key starts with this are tagged values
_TIME_TYPES: dict[str, Any] = {"datetime": _dt.datetime, "date": _dt.date, "time": _dt.time}


@attrs.frozen
class StoredValue:
    """A value as stored: its format and payload (for ``unserializable``, the reason)."""

    format: Format
    payload: str | bytes


def encode(value: Any, serializer: str = "json", where: str = "value") -> StoredValue:
    """``value`` as the store keeps it; never raises (an unkeepable value says why)."""
    try:
        text = json.dumps(_to_json(value, where, set()), ensure_ascii=False, separators=(",", ":"))
        return StoredValue("json", text)
    except (TypeError, ValueError, RecursionError) as error:
        # TypeError: a part without a JSON form (the message names it); others: a broken value.
        reason = str(error) if isinstance(error, TypeError) else f"{where}: {error!r}"
        if serializer != "pickle" or _holds_secret(value):
            return StoredValue("unserializable", reason)
    try:
        return StoredValue("pickle", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as error:
        return StoredValue("unserializable", f"{where} cannot be pickled: {error!r}")


def decode(encoded: StoredValue, *, allow_pickle: bool = False) -> Any:
    """The value back; raises ``ValueError`` saying why when it cannot be had here."""
    if encoded.format == "json":
        try:
            return _from_json(json.loads(encoded.payload))
        except ValueError:
            raise
        except Exception as error:  # a damaged payload: KeyError, TypeError, ...
            raise ValueError(f"the stored JSON value is damaged: {error!r}") from None
    if encoded.format == "pickle":
        if not allow_pickle:
            raise ValueError(
                "the value was stored with pickle, and this store is not configured for pickle "
                '(run_store.serializer = "pickle"): only trusted stores may be unpickled'
            )
        try:
            # The store was configured as trusted for pickle: that is the point of opting in.
            return pickle.loads(
                bytes(encoded.payload, "latin-1") if isinstance(encoded.payload, str) else encoded.payload
            )
        except Exception as error:
            raise ValueError(f"the pickled value cannot be loaded here: {error!r}") from None
    raise ValueError(f"the value was not stored: {encoded.payload!s}")


# ------------------------------------------------------------------ encoding


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _holds_secret(value: Any) -> bool:
    try:
        _to_json(value, "value", set())
    except TypeError as error:
        return "podium.Secret" in str(error)
    return False


def _to_json(value: Any, where: str, active: set[int]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if isinstance(value, float) and type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, Secret):
        raise TypeError(f"{where} is a podium.Secret, and secrets are never stored")
    marker = id(value)
    if marker in active:
        raise TypeError(f"{where} contains itself (a cycle)")
    active.add(marker)
    try:
        return _container(value, where, active)
    finally:
        active.discard(marker)


def _container(value: Any, where: str, active: set[int]) -> Any:
    if type(value) is list:
        return [_to_json(v, f"{where}[{n}]", active) for n, v in enumerate(value)]
    if type(value) is tuple:
        return {"$tuple": [_to_json(v, f"{where}[{n}]", active) for n, v in enumerate(value)]}
    if type(value) is dict:
        if all(isinstance(k, str) and not k.startswith(_TAG) for k in value):
            return {k: _to_json(v, f"{where}[{k!r}]", active) for k, v in value.items()}
        return {
            "$map": [
                [_to_json(k, f"{where} key {k!r}", active), _to_json(v, f"{where}[{k!r}]", active)]
                for k, v in value.items()
            ]
        }
    if type(value) in (set, frozenset):
        tag = "$set" if type(value) is set else "$frozenset"
        members = [_to_json(v, f"{where} member", active) for v in value]
        return {tag: sorted(members, key=lambda m: json.dumps(m, sort_keys=True))}
    if type(value) in (bytes, bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii"), "mutable": type(value) is bytearray}
    if isinstance(value, enum.Enum):
        return {"$enum": _type_name(type(value)), "name": value.name}
    for name, cls in _TIME_TYPES.items():
        if type(value) is cls:
            return {f"${name}": value.isoformat()}
    if type(value) is _dt.timedelta:
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if type(value) is decimal.Decimal:
        return {"$decimal": str(value)}
    if type(value) is uuid.UUID:
        return {"$uuid": str(value)}
    if isinstance(value, pathlib.PurePath):
        return {"$path": str(value), "type": _type_name(type(value))}
    if attrs.has(type(value)):
        names = [f.name for f in attrs.fields(type(value))]
        return _object(value, names, where, active)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _object(value, [f.name for f in dataclasses.fields(value)], where, active)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and hasattr(type(value), "model_validate"):
        return {"$pydantic": _type_name(type(value)), "data": _to_json(model_dump(), where, active)}
    raise TypeError(
        f"{where} of type {type(value).__module__}.{type(value).__qualname__} has no JSON form "
        "(values of built-in types and of attrs, dataclass or pydantic classes have one; "
        'run_store.serializer = "pickle" keeps others)'
    )


def _object(value: Any, names: list[str], where: str, active: set[int]) -> Any:
    fields = {name: _to_json(getattr(value, name), f"{where}.{name}", active) for name in names}
    return {"$object": _type_name(type(value)), "fields": fields}


# ------------------------------------------------------------------ decoding


def _from_json(data: Any) -> Any:
    if isinstance(data, list):
        return [_from_json(v) for v in data]
    if not isinstance(data, dict):
        return data
    tag = next((k for k in data if k.startswith(_TAG)), None)
    if tag is None:
        return {k: _from_json(v) for k, v in data.items()}
    body = data[tag]
    if tag == "$tuple":
        return tuple(_from_json(v) for v in body)
    if tag == "$map":
        return {_hashable(_from_json(k)): _from_json(v) for k, v in body}
    if tag in ("$set", "$frozenset"):
        members = [_hashable(_from_json(v)) for v in body]
        return set(members) if tag == "$set" else frozenset(members)
    if tag == "$bytes":
        raw = base64.b64decode(body)
        return bytearray(raw) if data.get("mutable") else raw
    if tag == "$float":
        return float(body)
    if tag[1:] in _TIME_TYPES:
        return _TIME_TYPES[tag[1:]].fromisoformat(body)
    if tag == "$timedelta":
        return _dt.timedelta(days=body[0], seconds=body[1], microseconds=body[2])
    if tag == "$decimal":
        return decimal.Decimal(body)
    if tag == "$uuid":
        return uuid.UUID(body)
    if tag == "$path":
        cls = _known_class(data["type"], lambda c: issubclass(c, pathlib.PurePath))
        return cls(body)
    if tag == "$enum":
        return _known_class(body, lambda c: issubclass(c, enum.Enum))[data["name"]]
    if tag == "$object":
        return _rebuild(body, {k: _from_json(v) for k, v in data["fields"].items()})
    if tag == "$pydantic":
        cls = _known_class(body, lambda c: hasattr(c, "model_validate") and hasattr(c, "model_dump"))
        return cls.model_validate(_from_json(data["data"]))
    raise ValueError(f"unknown tag {tag!r} in a stored value")


def _hashable(value: Any) -> Any:
    # Mapping keys and set members were hashable when stored; lists stand for tuples there.
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _known_class(name: str, kind: Any) -> Any:
    """The class ``module:qualname`` among the modules already imported, if it is of ``kind``."""
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        raise ValueError(
            f"the value is a {qualname} from module {module_name!r}, which is not imported here "
            "(values never import modules)"
        )
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not isinstance(found, type) or not kind(found):
        raise ValueError(f"{name} is no longer a class that stored values can be rebuilt as")
    return found


def _rebuild(name: str, fields: Mapping[str, Any]) -> Any:
    cls = _known_class(name, lambda c: attrs.has(c) or dataclasses.is_dataclass(c))
    try:
        if attrs.has(cls):
            init = {
                f.alias or f.name: fields[f.name] for f in attrs.fields(cls) if f.init and f.name in fields
            }
            instance = cls(**init)
            rest = [f.name for f in attrs.fields(cls) if not f.init and f.name in fields]
        else:
            init = {f.name: fields[f.name] for f in dataclasses.fields(cls) if f.init and f.name in fields}
            instance = cls(**init)
            rest = [f.name for f in dataclasses.fields(cls) if not f.init and f.name in fields]
        for field_name in rest:
            object.__setattr__(instance, field_name, fields[field_name])
    except Exception as error:
        raise ValueError(f"cannot rebuild a {name} from its stored fields: {error!r}") from None
    return instance


__all__ = [
    "SERIALIZERS",
    "Format",
    "StoredValue",
    "decode",
    "encode",
]
