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

    def mask(self, text: str) -> str:
        """``text`` with the secret replaced by ``********`` (an API may quote a key it refused)."""
        return text.replace(self._value, "********") if self._value else text

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
    return bool(_SECRET_KEY.search(key.rsplit(".", 1)[-1]))
