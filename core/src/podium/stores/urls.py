"""Opening the built-in run store from its URL: ``sqlite:///relative/path``, ``sqlite:////absolute/path``.

``sqlite://`` alone is the command line's default file, ``.podium/runs.sqlite3``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from podium.stores.sqlite import DEFAULT_PATH, SQLiteRunStore
from podium.values.records import RunStoreSettings


def store_path(url: str) -> Path:
    """The file of a ``sqlite://`` URL: three slashes relative, four absolute, none the default."""
    rest = url[len("sqlite://") :].split("?", 1)[0]
    if rest.startswith("/"):
        rest = rest[1:]
    return Path(unquote(rest)) if rest else DEFAULT_PATH


def open_run_store(url: str, settings: RunStoreSettings) -> SQLiteRunStore | None:
    """A run store for ``url``, not opened yet; ``None`` when the scheme is not ``sqlite``."""
    if not url.lower().startswith("sqlite://"):
        return None
    return SQLiteRunStore(store_path(url), settings)


__all__ = ["open_run_store", "store_path"]
