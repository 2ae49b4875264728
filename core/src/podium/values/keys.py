"""Cache keys by input hash: canonical forms, digests, and the key layout every backend shares.

- :func:`canonical` and :func:`digest` turn inputs into a stable hash (never pickle bytes).
- :func:`cache_key` lays keys out as ``podium:<namespace>:<kind>:<sha256>``, safe for every
  backend; :func:`stage_key` and :func:`agent_key` are the two kinds Podium uses.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import functools
import hashlib
import json
import math
import pathlib
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from podium.foundation.errors import CacheKeyError
from podium.foundation.redaction import Secret
from podium.values.gathered import failure_text, gathered_failures

if TYPE_CHECKING:
    from podium.values.model import CachePolicy

#: Every key Podium writes starts with this, so clearing never touches anything else.
KEY_PREFIX = "podium:"
#: Letters, digits, ``_ . -``; starts with a letter or digit (keys stay memcached-safe).
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: The namespace segment used for ``namespace=""`` (cannot clash: user names start alphanumeric).
DEFAULT_NAMESPACE = "_"


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _json_order(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def canonical(value: Any, where: str = "value") -> Any:
    """A JSON-serializable form of ``value`` that is equal for equal values across processes.

    Handles JSON-like values, bytes (hashed), sets (sorted), tuples, enums, dates,
    decimals, UUIDs, paths, attrs and dataclass instances, objects with ``model_dump``
    (pydantic), and gathered values (as their plain list or dict, plus the failures of a
    partial gather). Mappings and containers are tagged, so a dict can never
    collide with, say, the form of a set. Anything else — and any :class:`podium.Secret`,
    which must never reach a key — raises :class:`CacheKeyError` naming ``where``.
    """
    return _canonical(value, where, set())


def _canonical(value: Any, where: str, active: set[int]) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, Secret):
        raise CacheKeyError(
            f"{where} is a secret, and secrets never go into cache keys: "
            "pass CachePolicy(key=lambda **kwargs: ...) returning the inputs without it"
        )
    marker = id(value)
    if marker in active:
        raise CacheKeyError(f"{where} contains itself (a cycle), so it has no stable cache key")
    active.add(marker)
    try:
        return _container(value, where, active)
    finally:
        active.discard(marker)


def _container(value: Any, where: str, active: set[int]) -> Any:
    failures = gathered_failures(value)
    if failures:  # a partial gather: which items failed, and how, is part of what it is
        plain = list(value) if isinstance(value, list) else dict(value)
        return {
            "gathered": _canonical(plain, where, active),
            "failures": _canonical(
                {k: failure_text(r) for k, r in failures.items()}, f"{where} failures", active
            ),
        }
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{n}]", active) for n, v in enumerate(value)]
    if isinstance(value, Mapping):
        items = [
            (_canonical(k, f"{where} key {k!r}", active), _canonical(v, f"{where}[{k!r}]", active))
            for k, v in value.items()
        ]
        return {"map": sorted(items, key=lambda kv: _json_order(kv[0]))}
    if isinstance(value, (set, frozenset)):
        members = [_canonical(v, f"{where} member", active) for v in value]
        return {"set": sorted(members, key=_json_order)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, enum.Enum):
        return {"enum": _type_name(value), "value": _canonical(value.value, where, active)}
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return {"time": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"timedelta": value.total_seconds()}
    if isinstance(value, (decimal.Decimal, uuid.UUID, pathlib.PurePath)):
        return {_type_name(value): str(value)}
    if attrs.has(type(value)):
        names = [f.name for f in attrs.fields(type(value))]
        return _object(value, names, where, active)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _object(value, [f.name for f in dataclasses.fields(value)], where, active)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return {"object": _type_name(value), "fields": _canonical(model_dump(mode="json"), where, active)}
    raise CacheKeyError(
        f"{where} of type {_type_name(value)} cannot be turned into a stable cache key: "
        "pass CachePolicy(key=lambda **kwargs: ...) returning JSON-like data"
    )


def _object(value: Any, names: list[str], where: str, active: set[int]) -> Any:
    fields = {name: _canonical(getattr(value, name), f"{where}.{name}", active) for name in names}
    return {"object": _type_name(value), "fields": fields}


def digest(*parts: Any) -> str:
    """The SHA-256 hex digest of the canonical JSON of ``parts`` (already canonical values)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is valid (``""`` or :data:`NAMESPACE_PATTERN`), else ``ValueError``."""
    if namespace and not NAMESPACE_PATTERN.match(namespace):
        raise ValueError(
            f"cache namespace {namespace!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return namespace


def namespace_prefix(namespace: str | None = None) -> str:
    """The key prefix of one namespace (``""`` is the default one), or of all with ``None``."""
    if namespace is None:
        return KEY_PREFIX
    return f"{KEY_PREFIX}{check_namespace(namespace) or DEFAULT_NAMESPACE}:"


def namespace_and_kind(key: str) -> tuple[str, str]:
    """The namespace (``""`` for the default one) and kind of a key made by :func:`cache_key`.

    ``"podium:_:stage:<sha256>"`` gives ``("", "stage")``. Keys made by a plugin's own
    ``podium_cache_key`` are split the same way, as far as they follow the layout.
    """
    namespace, _, rest = key.removeprefix(KEY_PREFIX).partition(":")
    return ("" if namespace == DEFAULT_NAMESPACE else namespace), rest.partition(":")[0]


def cache_key(kind: str, namespace: str, *material: Any) -> str:
    """A key ``podium:<namespace>:<kind>:<sha256 of material>``; ``material`` must be canonical."""
    return f"{namespace_prefix(namespace)}{kind}:{digest(kind, *material)}"


def stage_key(
    workflow: str,
    stage: str,
    version: str | None,
    policy: CachePolicy,
    kwargs: Mapping[str, Any],
    item_key: Any = None,
) -> str:
    """The built-in stage key: workflow, stage, version, namespace and canonical inputs.

    ``version`` is the stage's (``policy.version`` wins over it). ``item_key`` is the key
    of an item that came from a mapping (it is part of what the item is); ``None``
    otherwise. Raises :class:`CacheKeyError` naming the stage and parameter when an input
    cannot be keyed, or when ``CachePolicy.key`` fails.
    """
    if policy.key is not None:
        try:
            chosen = policy.key(**kwargs)
        except Exception as error:
            raise CacheKeyError(
                f"stage {stage!r}: its CachePolicy(key=...) function raised {error!r}; it is called "
                f"with the keyword arguments {sorted(kwargs)}"
            ) from error
        material = canonical(chosen, f"stage {stage!r}: the result of CachePolicy(key=...)")
    else:
        material = {
            name: canonical(value, f"stage {stage!r} parameter {name!r}") for name, value in kwargs.items()
        }
    if item_key is not None:
        material = {"item": canonical(item_key, f"stage {stage!r} item key"), "inputs": material}
    prefix, head = _stage_key_head(policy.namespace, workflow, stage, policy.version or version)
    # The digest is that of ``cache_key``'s JSON list; its fixed head is hashed once per stage.
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "]"
    hasher = head.copy()
    hasher.update(text.encode("utf-8", "surrogatepass"))
    return prefix + hasher.hexdigest()


@functools.lru_cache(maxsize=4096)
def _stage_key_head(
    namespace: str, workflow: str, stage: str, version: str | None
) -> tuple[str, hashlib._Hash]:
    """A stage key's prefix, and a hasher fed with the JSON of the list up to its material."""
    head = json.dumps(
        ["stage", workflow, stage, version], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return f"{namespace_prefix(namespace)}stage:", hashlib.sha256(
        head[:-1].encode("utf-8", "surrogatepass") + b","
    )


def agent_key(
    provider: str, model: str, prompt: Any, options: Mapping[str, Any] | None = None, *, namespace: str = ""
) -> str:
    """The agent-call key: provider, model, options and prompt (a string or messages).

    The same prompt to the same model with the same options is one key, whichever stage
    or workflow sends it. Options must not hold secrets (a :class:`podium.Secret` raises).
    """
    material = canonical(
        {"provider": provider, "model": model, "options": dict(options or {}), "prompt": prompt},
        f"agent call to {provider}/{model}",
    )
    return cache_key("agent", namespace, material)


__all__ = [
    "DEFAULT_NAMESPACE",
    "KEY_PREFIX",
    "NAMESPACE_PATTERN",
    "agent_key",
    "cache_key",
    "canonical",
    "check_namespace",
    "digest",
    "namespace_and_kind",
    "namespace_prefix",
    "stage_key",
]
