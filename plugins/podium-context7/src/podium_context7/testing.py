"""A fake Context7 for tests and offline demos: an HTTP server on 127.0.0.1 speaking its protocol.

It implements ``/v2/libs/search``, ``/v2/context`` (``type=json`` and ``type=txt``) and the
v1 endpoints, the documented errors with their headers, redirects and "not finalized"
answers, and counts every request. Scripted replies make any endpoint fail on demand::

    with FakeContext7([make_library("/tiangolo/fastapi", "FastAPI")]) as fake:
        fake.script(Reply(429, "rate_limit_exceeded", headers={"Retry-After": "1"}))
        ...  # point base_url at fake.url
        assert fake.count("/v2/context") == 2
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from podium_context7.config import is_library_id
from podium_context7.snippets import SEPARATOR, code_snippet, estimate_tokens, info_snippet

_WORDS = [
    "session",
    "engine",
    "request",
    "response",
    "async",
    "await",
    "dependency",
    "router",
    "model",
    "schema",
    "query",
    "transaction",
    "fixture",
    "client",
    "server",
    "middleware",
    "config",
    "token",
    "cache",
    "index",
    "migration",
    "validation",
    "error",
    "handler",
    "parameter",
    "decorator",
    "context",
    "lifecycle",
    "connection",
    "pool",
]


@attrs.define
class FakeLibrary:
    """A library the fake knows: search metadata and its snippets (in JSON form)."""

    id: str
    title: str
    state: str = "finalized"
    trust: float = 9.0
    benchmark: float = 80.0
    code: list[dict[str, Any]] = attrs.field(factory=list)
    info: list[dict[str, Any]] = attrs.field(factory=list)
    _ranked: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    _texts: dict[tuple[str, int | None], str] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def search_result(self) -> dict[str, Any]:
        tokens = sum(s["codeTokens"] for s in self.code) + sum(s["contentTokens"] for s in self.info)
        return {
            "id": self.id,
            "title": self.title,
            "description": f"Documentation of {self.title}",
            "branch": "main",
            "lastUpdateDate": "2026-08-01T00:00:00.000Z",
            "state": self.state,
            "totalTokens": tokens,
            "totalSnippets": len(self.code) + len(self.info),
            "stars": 1000,
            "trustScore": self.trust,
            "benchmarkScore": self.benchmark,
            "versions": [],
        }

    def ranked(self, query: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Snippets ordered by a deterministic relevance to ``query``, as the service ranks."""
        cached = self._ranked.get(query)
        if cached is not None:
            return cached
        words = set(query.lower().split())

        def key(item: tuple[int, dict[str, Any]]) -> tuple[int, float]:
            text = json.dumps(item[1]).lower()
            tiebreak = random.Random(f"{query}|{self.id}|{item[0]}").random()
            return (-sum(w in text for w in words), tiebreak)

        ranked = (
            [s for _, s in sorted(enumerate(self.code), key=key)],
            [s for _, s in sorted(enumerate(self.info), key=key)],
        )
        self._ranked[query] = ranked
        return ranked

    def text(self, query: str, tokens: int | None = None) -> str:
        """The ``type=txt`` body: every snippet (or the first ``tokens`` worth), 32-dash separated."""
        cached = self._texts.get((query, tokens))
        if cached is not None:
            return cached
        code, info = self.ranked(query)
        parts = [code_snippet(s) for s in code] + [info_snippet(s) for s in info]
        out: list[str] = []
        used = 0
        for part in parts:
            if tokens is not None and out and used + part.tokens > tokens:
                break
            out.append(part.text)
            used += part.tokens
        text = self._texts[(query, tokens)] = SEPARATOR.join(out)
        return text


def _sentence(rng: random.Random, title: str, words: int) -> str:
    return " ".join([title, *rng.choices(_WORDS, k=words)]).capitalize() + "."


def make_library(
    library_id: str,
    title: str,
    *,
    total_tokens: int = 5000,
    state: str = "finalized",
    trust: float = 9.0,
    benchmark: float = 80.0,
    seed: int | str | None = None,
) -> FakeLibrary:
    """A library whose snippets add up to about ``total_tokens`` with realistic sizes.

    Code snippets run from about 80 to 450 tokens, info snippets from 60 to 300, three
    code snippets to one info snippet; each snippet's token count is that of its text.
    """
    rng = random.Random(seed if seed is not None else library_id)
    library = FakeLibrary(library_id, title, state, trust, benchmark)
    used = n = 0
    while used < total_tokens:
        n += 1
        if n % 4:
            lines = rng.randint(4, 40)
            code = "\n".join(
                f"{rng.choice(_WORDS)}_{i} = {title.lower()}.{rng.choice(_WORDS)}({rng.choice(_WORDS)}=True)"
                for i in range(lines)
            )
            snippet: dict[str, Any] = {
                "codeTitle": f"{title}: {' '.join(rng.choices(_WORDS, k=3))}",
                "codeDescription": _sentence(rng, title, rng.randint(8, 30)),
                "codeLanguage": "python",
                "codeTokens": 0,
                "codeId": f"https://github.com{library_id}/blob/main/docs/guide.md#_snippet_{n}",
                "pageTitle": f"{title} guide",
                "codeList": [{"language": "python", "code": code}],
            }
            snippet["codeTokens"] = estimate_tokens(code_snippet(snippet).text)
            library.code.append(snippet)
            used += snippet["codeTokens"]
        else:
            content = " ".join(_sentence(rng, title, rng.randint(10, 25)) for _ in range(rng.randint(2, 10)))
            info: dict[str, Any] = {
                "pageId": f"https://github.com{library_id}/blob/main/docs/concepts.md",
                "breadcrumb": f"{title} > Concepts > {rng.choice(_WORDS)}",
                "content": content,
                "contentTokens": 0,
            }
            info["contentTokens"] = estimate_tokens(info_snippet(info).text)
            library.info.append(info)
            used += info["contentTokens"]
    return library


@attrs.define
class Reply:
    """A scripted answer: a status with the service's error body, headers, or a raw body."""

    status: int
    error: str | None = None
    message: str = "scripted failure"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: str | None = None
    delay: float = 0.0
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.define
class Seen:
    """A request the fake received."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float


@attrs.define
class _Rule:
    reply: Reply
    path: str | None
    library: str | None
    times: int


class FakeContext7:
    """The fake service. Use as a context manager; ``url`` is its base URL."""

    def __init__(self, libraries: Iterable[FakeLibrary] = (), *, api_key: str | None = None) -> None:
        self.libraries: dict[str, FakeLibrary] = {lib.id: lib for lib in libraries}
        self.api_key = api_key
        self.redirects: dict[str, str] = {}
        self.empty: set[str] = set()
        self.delay = 0.0
        self.requests: list[Seen] = []
        self.active = 0
        self.peak = 0
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def __enter__(self) -> FakeContext7:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, library: FakeLibrary) -> FakeLibrary:
        self.libraries[library.id] = library
        return library

    def script(
        self, reply: Reply, *, path: str | None = None, library: str | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` matching requests with ``reply`` (``path`` prefix, library id/name)."""
        with self._lock:
            self._rules.append(_Rule(reply, path, library, times))

    def count(self, path: str = "", library: str | None = None) -> int:
        """Requests received whose path starts with ``path`` (and that concern ``library``)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path.startswith(path) and _concerns(r, library))

    # ------------------------------------------------------------------ answering

    def _scripted(self, seen: Seen) -> Reply | None:
        with self._lock:
            for rule in self._rules:
                path_matches = rule.path is None or seen.path.startswith(rule.path)
                if rule.times > 0 and path_matches and _concerns(seen, rule.library):
                    rule.times -= 1
                    return rule.reply
        return None

    def answer(self, seen: Seen) -> Reply:
        if self.api_key is not None and seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, "invalid_api_key", "Invalid API key. API keys start with 'ctx7sk'.")
        scripted = self._scripted(seen)
        if scripted is not None:
            return scripted
        path, params = seen.path, seen.params
        if path == "/v2/libs/search":
            name, query = params.get("libraryName", ""), params.get("query", "")
            if not (0 < len(name) <= 500 and 0 < len(query) <= 500):
                return Reply(400, "validation_error", "libraryName and query are required (1-500 chars)")
            return _json(200, {"results": self._search(name), "searchFilterApplied": False})
        if path == "/v2/context":
            library_id, query = params.get("libraryId", ""), params.get("query", "")
            if not is_library_id(library_id):
                return Reply(400, "invalid_library_id", f"Invalid library ID: {library_id}")
            if not 0 < len(query) <= 500:
                return Reply(400, "validation_error", "query is required (1-500 chars)")
            return self._context(library_id, query, params.get("type", "txt"), None)
        if path == "/v1/search":
            return _json(200, {"results": self._search(params.get("query", ""))})
        if path.startswith("/v1/"):
            library_id = path[len("/v1") :]
            tokens = max(1000, int(params.get("tokens", "5000") or 5000))
            return self._context(library_id, params.get("topic", ""), "txt", tokens)
        return Reply(404, "not_found", f"no route {path}")

    def _search(self, name: str) -> list[dict[str, Any]]:
        wanted = re.sub(r"[^a-z0-9]", "", name.lower())
        return [
            lib.search_result()
            for lib in self.libraries.values()
            if wanted and wanted in re.sub(r"[^a-z0-9]", "", f"{lib.id} {lib.title}".lower())
        ]

    def _context(self, library_id: str, query: str, kind: str, tokens: int | None) -> Reply:
        if library_id in self.redirects:
            target = self.redirects[library_id]
            message = f"Library {library_id} has moved to {target}"
            return Reply(301, "library_redirected", message, extra={"redirectUrl": target})
        library = self.libraries.get(library_id)
        if library is None:
            return Reply(404, "library_not_found", f"Library {library_id} not found")
        if library.state != "finalized":
            return Reply(202, "library_not_finalized", f"Library {library_id} is still being processed")
        if library_id in self.empty:
            return Reply(200, body="")
        if kind == "json":
            code, info = library.ranked(query)
            return _json(200, {"codeSnippets": code, "infoSnippets": info})
        return Reply(200, body=library.text(query, tokens), headers={"Content-Type": "text/plain"})


def _json(status: int, body: Any) -> Reply:
    return Reply(status, body=json.dumps(body), headers={"Content-Type": "application/json"})


def _concerns(seen: Seen, library: str | None) -> bool:
    if library is None:
        return True
    params = seen.params
    return library in (params.get("libraryId"), params.get("libraryName")) or seen.path == f"/v1{library}"


def _handler(fake: FakeContext7) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, keep-alive clients stall ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: tests read counters, not access logs."""

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path[len("/api") :] if parts.path.startswith("/api/") else parts.path
            params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen(path, params, headers, time.monotonic())
            with fake._lock:
                fake.requests.append(seen)
                fake.active += 1
                fake.peak = max(fake.peak, fake.active)
            try:
                reply = fake.answer(seen)
                if reply.delay or fake.delay:
                    time.sleep(reply.delay or fake.delay)
                self._send(reply)
            finally:
                with fake._lock:
                    fake.active -= 1

        def _send(self, reply: Reply) -> None:
            if reply.body is not None:
                body = reply.body
            else:
                body = json.dumps({"error": reply.error, "message": reply.message, **reply.extra})
            data = body.encode()
            try:
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

    return Handler


__all__ = ["FakeContext7", "FakeLibrary", "Reply", "Seen", "make_library"]
