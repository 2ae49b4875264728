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
    """``url`` with any password replaced by ``***``, fit for logs and messages.

    Works on any text, a malformed URL too (a bad port, a stray bracket): the URLs
    shown are often the ones being reported as wrong.
    """
    scheme, separator, rest = url.partition("://")
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not separator or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}{rest[end:]}"


def url_port(url: str) -> int | None:
    """The port ``url`` names (``None`` when it names none).

    :raises ValueError: naming the URL, password masked, when the port is not a number
        from 0 to 65535.
    """
    try:
        return urlsplit(url).port
    except ValueError as exc:
        if "port" not in str(exc).lower():
            raise ValueError(f"{redact_url(url)!r}: {exc}") from None
        port = url.partition("://")[2].split("/", 1)[0].rpartition("@")[2].rpartition(":")[2]
        raise ValueError(
            f"{redact_url(url)!r}: the port must be a number from 0 to 65535, got {port!r}"
        ) from None


def is_secret_key(key: str) -> bool:
    """Whether a dotted configuration key holds a secret: by its name, or a webhook's URL
    (whoever has a chat tool's webhook URL can post to it)."""
    last = key.rsplit(".", 1)[-1]
    return bool(_SECRET_KEY.search(last)) or (last == "url" and "webhook" in key.lower())
