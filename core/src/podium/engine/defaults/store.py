"""Built-in run store: SQLite files (``sqlite:///relative``, ``sqlite:////absolute``)."""

from __future__ import annotations

from podium.contract.run_store import RunStore
from podium.definition.config import Config
from podium.foundation.markers import hookimpl
from podium.stores.urls import open_run_store


@hookimpl(trylast=True)
def podium_run_store(url: str, config: Config) -> RunStore | None:
    return open_run_store(url, config.settings.run_store)
