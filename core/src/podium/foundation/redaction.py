"""Secrets stay secret: a masked string type, and URLs and keys fit for logs and messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SECRET_KEY = re.compile(r"(api_?key|secret|password|passwd|(^|_)token$|credential)", re.IGNORECASE)


class Secret:
    """A secret string (an API key): masked in reprs, logs and ``podium config``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:" if parts.username else ":"
    return parts._replace(netloc=f"{user}***@{host}").geturl()


def is_secret_key(key: str) -> bool:
    """Whether a dotted configuration key holds a secret: by its name, or a webhook's URL
    (whoever has a chat tool's webhook URL can post to it)."""
    last = key.rsplit(".", 1)[-1]
    return bool(_SECRET_KEY.search(last)) or (last == "url" and "webhook" in key.lower())
