"""Built-in caching: canonical input-hash keys, and backends for memory, SQLite, Redis, memcached URLs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiocache.base import BaseCache

from podium.backends.urls import open_backend
from podium.definition.config import Config
from podium.definition.workflow import Stage
from podium.foundation.markers import hookimpl
from podium.running.scheduler import RunState
from podium.values.keys import stage_key
from podium.values.model import CachePolicy


@hookimpl(trylast=True)
def podium_cache_key(
    stage: Stage, kwargs: Mapping[str, Any], policy: CachePolicy, run: RunState, item_key: Any
) -> str:
    return stage_key(run.workflow.name, stage.name, stage.version, policy, kwargs, item_key)


@hookimpl(trylast=True)
def podium_cache_backend(url: str, config: Config) -> BaseCache | None:
    return open_backend(url, timeout=config.settings.cache_timeout)
