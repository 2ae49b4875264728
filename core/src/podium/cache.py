"""The stage cache: stable keys from canonical inputs, stored through an aiocache backend.

A backend that fails or is slow is a warning and an uncached call, never a failed stage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import decimal
import enum
import hashlib
import json
import logging
import math
import pathlib
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from podium.errors import CacheKeyError
from podium.model import ZERO_USAGE, Usage

if TYPE_CHECKING:
    from aiocache.base import BaseCache

    from podium.definition import Stage
    from podium.scheduler import Run

_log = logging.getLogger("podium.cache")


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def canonical(value: Any, where: str = "value") -> Any:
    """A JSON-serializable form of ``value`` that is equal for equal values across processes.

    Handles JSON-like values, bytes, sets (sorted), tuples, enums, dates, decimals, UUIDs,
    paths, attrs and dataclass instances, and objects with ``model_dump`` (pydantic).
    Anything else raises :class:`CacheKeyError` naming ``where``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(v, f"{where}[{n}]") for n, v in enumerate(value)]
    if isinstance(value, Mapping):
        items = [(canonical(k, f"{where} key"), canonical(v, f"{where}[{k!r}]")) for k, v in value.items()]
        return {"map": sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))}
    if isinstance(value, (set, frozenset)):
        members = [canonical(v, f"{where} member") for v in value]
        return {"set": sorted(members, key=lambda m: json.dumps(m, sort_keys=True))}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, enum.Enum):
        return {"enum": _type_name(value), "value": canonical(value.value, where)}
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return {"time": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"timedelta": value.total_seconds()}
    if isinstance(value, (decimal.Decimal, uuid.UUID, pathlib.PurePath)):
        return {_type_name(value): str(value)}
    if attrs.has(type(value)):
        fields = {
            f.name: canonical(getattr(value, f.name), f"{where}.{f.name}") for f in attrs.fields(type(value))
        }
        return {"object": _type_name(value), "fields": fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: canonical(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)
        }
        return {"object": _type_name(value), "fields": fields}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return {"object": _type_name(value), "fields": canonical(model_dump(mode="json"), where)}
    raise CacheKeyError(
        f"{where} of type {_type_name(value)} cannot be turned into a stable cache key: "
        "pass CachePolicy(key=lambda **kwargs: ...) returning JSON-like data"
    )


def digest(*parts: Any) -> str:
    """The SHA-256 hex digest of the canonical JSON of ``parts``."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.define(slots=True)
class CacheEntry:
    """The outcome of a lookup: the key, and on a hit the value and the usage it saves."""

    key: str | None
    hit: bool = False
    value: Any = None
    saved: Usage = ZERO_USAGE


class StageCache:
    """Looks stage results up by key and stores fresh ones; degrades to no cache on errors."""

    def __init__(self, backend: BaseCache | None, *, url: str = "memory://", timeout: float = 2.0) -> None:
        self.backend = backend
        self.url = url
        self.timeout = timeout
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.backend is not None

    def _degrade(self, operation: str, error: BaseException) -> None:
        if not self._warned:
            _log.warning("cache %s failed on %s (%r); running uncached", operation, self.url, error)
            self._warned = True
        else:
            _log.debug("cache %s failed on %s (%r)", operation, self.url, error)

    async def lookup(self, run: Run, stage: Stage, kwargs: Mapping[str, Any]) -> CacheEntry:
        """Compute the key and look it up; raises :class:`CacheKeyError` for unkeyable inputs."""
        policy = stage.cache
        assert policy is not None
        key = run.engine.hook.podium_cache_key(stage=stage, kwargs=kwargs, policy=policy, run=run)
        entry = CacheEntry(key)
        if key is None or self.backend is None or not policy.read or policy.refresh:
            return entry
        try:
            stored = await asyncio.wait_for(self.backend.get(key), self.timeout)
        except Exception as error:
            self._degrade("read", error)
            return entry
        if stored is None:
            run.events.emit("podium_cache_miss", run=run, stage=stage, kind="stage", key=key)
            return entry
        value, saved = stored
        entry.hit, entry.value, entry.saved = True, value, saved
        run.events.emit("podium_cache_hit", run=run, stage=stage, kind="stage", key=key, saved=saved)
        return entry

    async def store(self, run: Run, stage: Stage, entry: CacheEntry, value: Any, usage: Usage) -> None:
        policy = stage.cache
        if entry.key is None or self.backend is None or policy is None or not policy.write:
            return
        try:
            await asyncio.wait_for(self.backend.set(entry.key, (value, usage), ttl=policy.ttl), self.timeout)
        except Exception as error:
            self._degrade("write", error)

    async def close(self) -> None:
        if self.backend is not None:
            try:
                await self.backend.close()
            except Exception as error:
                _log.debug("closing cache %s failed: %r", self.url, error)


def stage_key(stage: Stage, kwargs: Mapping[str, Any], run: Run) -> str:
    """The built-in stage cache key: workflow, stage, version, namespace, canonical inputs."""
    policy = stage.cache
    assert policy is not None
    if policy.key is not None:
        material = canonical(policy.key(**kwargs), f"stage {stage.name!r} CachePolicy.key result")
    else:
        material = {
            name: canonical(value, f"stage {stage.name!r} parameter {name!r}")
            for name, value in kwargs.items()
        }
    version = policy.version or stage.version
    return f"podium:stage:{run.workflow.name}:{stage.name}:" + digest(
        run.workflow.name, stage.name, version, policy.namespace, material
    )
