"""Built-in caching: canonical input-hash keys, and backends for memory, SQLite, Redis, memcached URLs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiocache.base import BaseCache

from podium.cache import open_backend, stage_key
from podium.config import Config
from podium.definition import Stage
from podium.markers import hookimpl
from podium.model import CachePolicy
from podium.scheduler import Run


@hookimpl(trylast=True)
def podium_cache_key(stage: Stage, kwargs: Mapping[str, Any], policy: CachePolicy, run: Run) -> str:
    return stage_key(stage, kwargs, run)


@hookimpl(trylast=True)
def podium_cache_backend(url: str, config: Config) -> BaseCache | None:
    return open_backend(url, timeout=config.settings.cache_timeout)
