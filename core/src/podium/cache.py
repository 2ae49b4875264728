"""Caching by input hash: stable keys, one cache API for stages and agent calls, tools.

The pieces, from the bottom up:

- :func:`canonical` and :func:`digest` turn inputs into a stable hash (never pickle bytes).
- :func:`cache_key` lays keys out as ``podium:<namespace>:<kind>:<sha256>``, safe for every
  backend; :func:`stage_key` and :func:`agent_key` are the two kinds Podium uses.
- :class:`ResultCache` (``engine.cache``) looks keys up, coalesces identical calls in flight
  (:class:`SingleFlight`), stores fresh values with the usage they cost, and degrades to
  no cache with a warning when its backend is down or slow.
- :func:`cache_stats` and :func:`clear` back ``podium cache stats`` and ``podium cache clear``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import hashlib
import json
import math
import pathlib
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from podium.cache_backends import (
    CacheBackendError,
    backend_kind,
    backend_stats,
    clear_backend,
    open_backend,
)
from podium.config import Secret, redact_url
from podium.errors import CacheKeyError
from podium.result_cache import CacheCounters, Outcome, ResultCache
from podium.singleflight import SingleFlight

if TYPE_CHECKING:
    from aiocache.base import BaseCache

    from podium.config import Config
    from podium.definition import Stage
    from podium.engine import Engine
    from podium.scheduler import Run

#: Every key Podium writes starts with this, so clearing never touches anything else.
KEY_PREFIX = "podium:"
#: Where the command line keeps its cache unless ``cache`` is configured.
CLI_DEFAULT_CACHE_URL = "sqlite:///.podium/cache.sqlite3"
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
    decimals, UUIDs, paths, attrs and dataclass instances, and objects with
    ``model_dump`` (pydantic). Mappings and containers are tagged, so a dict can never
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


def cache_key(kind: str, namespace: str, *material: Any) -> str:
    """A key ``podium:<namespace>:<kind>:<sha256 of material>``; ``material`` must be canonical."""
    return f"{namespace_prefix(namespace)}{kind}:{digest(kind, *material)}"


def stage_key(stage: Stage, kwargs: Mapping[str, Any], run: Run) -> str:
    """The built-in stage key: workflow, stage, version, namespace and canonical inputs.

    Raises :class:`CacheKeyError` naming the stage and parameter when an input cannot be
    keyed, or when ``CachePolicy.key`` fails.
    """
    policy = stage.cache
    if policy is None:
        raise CacheKeyError(f"stage {stage.name!r} has no CachePolicy, so it has no cache key")
    if policy.key is not None:
        try:
            chosen = policy.key(**kwargs)
        except Exception as error:
            raise CacheKeyError(
                f"stage {stage.name!r}: its CachePolicy(key=...) function raised {error!r}; it is called "
                f"with the keyword arguments {sorted(kwargs)}"
            ) from error
        material = canonical(chosen, f"stage {stage.name!r}: the result of CachePolicy(key=...)")
    else:
        material = {
            name: canonical(value, f"stage {stage.name!r} parameter {name!r}")
            for name, value in kwargs.items()
        }
    version = policy.version or stage.version
    return cache_key("stage", policy.namespace, run.workflow.name, stage.name, version, material)


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


def _cache_of(target: Engine | ResultCache | BaseCache) -> tuple[ResultCache | None, BaseCache | None]:
    if isinstance(target, ResultCache):
        return target, target.backend
    cache = getattr(target, "cache", None)
    if isinstance(cache, ResultCache):  # an Engine
        return cache, cache.backend
    return None, target


async def cache_stats(target: Engine | ResultCache | BaseCache) -> dict[str, Any]:
    """What a cache holds, and (for an engine or cache) this process's hits and savings.

    Returns a JSON-ready dict: ``backend``, ``url`` (password masked), ``serializer``,
    ``entries`` and ``bytes`` (``None`` where the backend cannot tell),
    ``namespaces`` (``{namespace: {kind: entries}}``), backend-specific ``server`` figures,
    and ``session`` counters (hits, misses, coalesced, writes, errors, saved tokens and
    cost) when given an engine or a :class:`ResultCache`. Raises :class:`CacheBackendError`
    when the backend cannot be reached.
    """
    cache, backend = _cache_of(target)
    if backend is None:
        stats: dict[str, Any] = {"backend": None, "url": None, "entries": 0, "bytes": 0, "namespaces": {}}
    else:
        stats = {
            "backend": backend_kind(backend),
            "url": redact_url(cache.url) if cache is not None else None,
            "serializer": type(backend.serializer).__name__,
            **await backend_stats(backend, KEY_PREFIX),
        }
    if cache is not None:
        stats["session"] = cache.counters.as_dict()
    return stats


async def clear(target: Engine | ResultCache | BaseCache, namespace: str | None = None) -> int | None:
    """Delete Podium's entries: all of them, or one namespace's (``""`` is the default one).

    Returns how many entries were deleted, or ``None`` when the backend cannot count
    (memcached, which can only flush the whole server and cannot delete by namespace: a
    namespace there raises :class:`CacheBackendError`). Keys of other applications sharing
    a Redis database or SQLite file are never touched.
    """
    _, backend = _cache_of(target)
    if backend is None:
        return 0
    return await clear_backend(backend, namespace_prefix(namespace), namespace is not None)


def cli_cache_url(config: Config) -> str:
    """The cache URL for the command line: the configured one, else the SQLite file."""
    if "cache" in config.sources:
        return config.settings.cache
    return CLI_DEFAULT_CACHE_URL


__all__ = [
    "CLI_DEFAULT_CACHE_URL",
    "KEY_PREFIX",
    "CacheBackendError",
    "CacheCounters",
    "Outcome",
    "ResultCache",
    "SingleFlight",
    "agent_key",
    "cache_key",
    "cache_stats",
    "canonical",
    "check_namespace",
    "clear",
    "cli_cache_url",
    "digest",
    "namespace_prefix",
    "open_backend",
    "redact_url",
    "stage_key",
]
