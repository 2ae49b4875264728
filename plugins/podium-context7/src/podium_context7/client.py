"""The HTTP side: one pooled httpx client per engine, retries, redirects, the service's errors.

Retry policy (the service's own guide recommends it): a 429 waits for ``Retry-After``
(or ``RateLimit-Reset``) with exponential backoff as the floor; 5xx, timeouts and network
failures back off exponentially; every wait is bounded. 4xx answers are final. A 301
names the id the library moved to (the service follows it once). A 202 or an empty body
means the documentation is not ready.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from podium_context7.config import Settings, is_library_id
from podium_context7.errors import Context7Error
from podium_context7.snippets import Snippet, parse_json, parse_text

__version__ = "0.1.0"

_log = logging.getLogger("podium.context7")

_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_NOT_READY = "not_ready"


class Meter:
    """Counts the HTTP requests one operation sent, retries and redirects included."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        self.made = 0


class Context7Client:
    """Speaks Context7's HTTP API (v2, or v1 as a fallback) for one engine."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        config = settings.config
        self.settings = settings
        self.requests = 0
        headers = {
            "User-Agent": f"podium-context7/{__version__}",
            "X-Context7-Source": "podium",
            "X-Context7-Client-Version": __version__,
        }
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key.reveal()}"
        self._secret = settings.api_key.reveal() if settings.api_key else None
        self._http = httpx.AsyncClient(
            base_url=settings.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(config.timeout),
            limits=httpx.Limits(
                max_connections=config.concurrency, max_keepalive_connections=config.concurrency
            ),
            follow_redirects=False,
            transport=transport,
        )
        self._gate = asyncio.Semaphore(config.concurrency)
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"<Context7Client {self.settings.public_url} requests={self.requests}>"

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ endpoints

    async def search(self, name: str, query: str, meter: Meter) -> list[Any]:
        """Search results for a library name; ``meter`` counts the requests sent."""
        if self.settings.config.api == "v1":
            response = await self._get("v1/search", {"query": name}, name, meter)
        else:
            params = {"libraryName": name, "query": query}
            response = await self._get("v2/libs/search", params, name, meter)
        if response.status_code != 200:
            raise self._unexpected(name, response)
        body = self._json(name, response)
        results = body.get("results") if isinstance(body, Mapping) else None
        return list(results) if isinstance(results, list) else []

    async def context(
        self, library: str, library_id: str, query: str, meter: Meter
    ) -> tuple[list[Snippet], str | None]:
        """A library's snippets for ``query``, or (no snippets and) the id it moved to.

        The service (not this client) follows a redirect, so that a fetch of the new id
        can be shared with one already running or cached.
        """
        response = await self._context_request(library, library_id, query, meter)
        if response.status_code == 301:
            target = self._redirect_target(library, response)
            _log.info("Context7 moved %s to %s", library_id, target)
            return [], target
        if response.status_code == 202:
            error, message = self._error_body(response)
            raise Context7Error(
                library,
                f"documentation of {library_id} is not ready yet: {message or 'not finalized'}",
                status=202,
                code=error or "library_not_finalized",
            )
        if response.status_code != 200:
            raise self._unexpected(library, response)
        if not response.content.strip():
            raise Context7Error(
                library,
                f"no documentation for {library_id} yet (empty answer; the library is not finalized)",
                status=200,
                code=_NOT_READY,
            )
        if self.settings.config.api == "v1":
            return parse_text(response.text), None
        body = self._json(library, response)
        if not isinstance(body, Mapping):
            raise Context7Error(library, "unexpected JSON body", status=200, code="bad_response")
        return parse_json(body), None

    async def _context_request(
        self, library: str, library_id: str, query: str, meter: Meter
    ) -> httpx.Response:
        if self.settings.config.api == "v1":
            tokens = str(max(1000, self.settings.config.default_tokens))
            params = {"tokens": tokens, "topic": query, "type": "txt"}
            return await self._get("v1" + library_id.replace("@", "/"), params, library, meter)
        params = {"libraryId": library_id, "query": query, "type": "json"}
        return await self._get("v2/context", params, library, meter)

    # ------------------------------------------------------------------ one GET, with retries

    async def _get(self, path: str, params: Mapping[str, str], library: str, meter: Meter) -> httpx.Response:
        config = self.settings.config
        for attempt in range(1, config.retries + 2):
            retry_after: float | None = None
            try:
                async with self._gate:
                    meter.made += 1
                    self.requests += 1
                    response = await self._http.get(path, params=params)
            except httpx.TimeoutException:
                failure = Context7Error(
                    library, f"no answer within {config.timeout}s", status=None, code="timeout"
                )
            except httpx.TransportError as exc:
                failure = Context7Error(
                    library,
                    self.scrub(f"network failure: {type(exc).__name__}: {exc}"),
                    code="network_error",
                )
            else:
                if response.status_code < 300 or response.status_code == 301:
                    return response
                failure = self._failure(library, response)
                if response.status_code not in _RETRYABLE:
                    raise failure
                if response.status_code == 429:
                    retry_after = _retry_after(response)
                    if retry_after is not None and retry_after > config.max_retry_after:
                        failure.message += f"; the service asks to wait {retry_after:.0f}s"
                        raise failure
            if attempt > config.retries:
                raise failure
            delay = min(config.max_backoff, config.backoff * 2 ** (attempt - 1))
            delay *= 0.5 + self._random.random() / 2
            if retry_after is not None:
                delay = max(delay, retry_after)
            _log.info(
                "Context7 %s for %r (attempt %d of %d); retrying in %.2fs",
                failure.code or failure.status,
                library,
                attempt,
                config.retries + 1,
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ bodies

    def scrub(self, text: str) -> str:
        """``text`` with the API key masked, for messages that echo what the service said."""
        return text.replace(self._secret, "********") if self._secret else text

    def _error_body(self, response: httpx.Response) -> tuple[str | None, str]:
        text = response.text
        try:
            body = json.loads(text) if text.strip() else {}
        except ValueError:
            return None, self.scrub(text.strip()[:200])
        if not isinstance(body, Mapping):
            return None, ""
        error = body.get("error")
        return (str(error) if error else None), self.scrub(str(body.get("message") or ""))

    def _failure(self, library: str, response: httpx.Response) -> Context7Error:
        error, message = self._error_body(response)
        return Context7Error(
            library,
            message or response.reason_phrase or "request failed",
            status=response.status_code,
            code=error,
        )

    def _unexpected(self, library: str, response: httpx.Response) -> Context7Error:
        failure = self._failure(library, response)
        failure.message = f"unexpected answer: {failure.message}"
        return failure

    def _json(self, library: str, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise Context7Error(
                library,
                "the service answered with invalid JSON",
                status=response.status_code,
                code="bad_response",
            ) from None

    def _redirect_target(self, library: str, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raw = str((body or {}).get("redirectUrl") or response.headers.get("location") or "")
        target = _library_id_from(raw)
        if target is None:
            raise Context7Error(
                library,
                f"redirected to {raw!r}, which names no library",
                status=301,
                code="library_redirected",
            )
        return target


def _library_id_from(raw: str) -> str | None:
    """The library id a ``redirectUrl`` names: an id, a URL with ``libraryId=``, or a URL path."""
    if is_library_id(raw):
        return raw
    parts = urlsplit(raw)
    ids = parse_qs(parts.query).get("libraryId")
    if ids and is_library_id(ids[0]):
        return ids[0]
    path = parts.path
    for prefix in ("/api/v2/context", "/api/v1", "/v1"):
        if path.startswith(prefix + "/"):
            path = path[len(prefix) :]
    return path if is_library_id(path) else None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the service asks to wait: ``Retry-After`` (seconds or a date), else ``RateLimit-Reset``."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = response.headers.get("ratelimit-reset")
    if reset:
        try:
            seconds = float(reset)
        except ValueError:
            return None
        # Unix time per the service; small values are a delta (the IETF draft's reading).
        return max(0.0, seconds - time.time()) if seconds > 1e9 else max(0.0, seconds)
    return None
