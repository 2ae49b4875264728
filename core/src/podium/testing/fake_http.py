"""A scripted HTTP server on 127.0.0.1: the base of the fake services plugins ship for tests.

A fake of a real service (an LLM provider, a documentation service) subclasses
:class:`FakeHTTPServer` and implements :meth:`~FakeHTTPServer.answer`, building its bodies
from the service's own types; the real client code then talks to it over real HTTP.
Replies can be scripted ahead (:meth:`~FakeHTTPServer.script`), delayed (a hung server),
or streamed as server-sent events, and every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import attrs

__all__ = ["FakeHTTPServer", "HTTPReply", "MinuteQuota", "QuotaState", "SeenRequest"]


@attrs.frozen
class SeenRequest:
    """One request the fake received: header names lower-cased, the body decoded from JSON,
    and when it arrived (``time.monotonic()``), to check the waits between attempts."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    at: float = attrs.field(factory=time.monotonic)


@attrs.frozen
class HTTPReply:
    """What the fake answers: a status, headers and a JSON body, or a stream of events.

    :param delay: Seconds to wait before answering (longer than the client's timeout: a hung server).
    :param events: Server-sent events ``(name, data)`` sent after the headers instead of ``body``.
    :param stall_after: With ``events``: send this many, then hang until the server closes (a
        stream that stops mid-way).
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    events: Sequence[tuple[str, Any]] | None = None
    stall_after: int | None = None


@attrs.frozen
class QuotaState:
    """What a quota said about one request: admitted or not, what the minute has used
    (counting it when admitted), ``reset_s``: seconds until the quota is fully replenished
    (the newest use leaves the window: what providers' ``-reset`` headers report), and
    ``retry_after_s``: seconds until this request would fit (0 when admitted)."""

    admitted: bool
    requests: int
    tokens: int
    reset_s: float
    retry_after_s: float = 0.0


class MinuteQuota:
    """A provider's per-minute request and token quota over a sliding minute, as a fake
    enforces it (429 past it) and reports it (rate-limit headers). Thread-safe.

    :param window_s: The length of its "minute": tests that must see the quota refill
        shorten it (``MinuteQuota(window_s=2)``), and wait seconds instead of a minute.

    ``refused`` counts the requests it refused (the 429s it made the fake send).
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, window_s: float = 60.0) -> None:
        self.clock = clock
        self.window_s = window_s
        self.refused = 0
        self._spent: deque[tuple[float, int]] = deque()
        self._tokens = 0
        self._lock = threading.Lock()

    def admit(self, tokens: int, *, requests_per_minute: int, tokens_per_minute: int) -> QuotaState:
        """Count a request of ``tokens`` if both limits allow it."""
        with self._lock:
            now = self.clock()
            window = self.window_s
            spent = self._spent
            while spent and spent[0][0] <= now - window:
                self._tokens -= spent.popleft()[1]
            admitted = len(spent) < requests_per_minute and self._tokens + tokens <= tokens_per_minute
            wait = 0.0
            if admitted:
                spent.append((now, tokens))
                self._tokens += tokens
            else:
                self.refused += 1
                wait = self._fits_in(now, tokens, requests_per_minute, tokens_per_minute)
            reset = (spent[-1][0] + window - now) if spent else 0.0
            return QuotaState(admitted, len(spent), self._tokens, reset, wait)

    def _fits_in(self, now: float, tokens: int, requests_per_minute: int, tokens_per_minute: int) -> float:
        # Seconds until enough earlier uses leave the window for one more request of ``tokens``.
        wait = 0.0
        requests_over = len(self._spent) - requests_per_minute + 1
        tokens_over = self._tokens + tokens - tokens_per_minute
        for at, amount in self._spent:
            if requests_over <= 0 and tokens_over <= 0:
                break
            wait = at + self.window_s - now
            requests_over -= 1
            tokens_over -= amount
        return wait if tokens <= tokens_per_minute else self.window_s


class FakeHTTPServer:
    """A threaded HTTP server on 127.0.0.1 answering with :meth:`answer` or scripted replies.

    Use it as a context manager; :attr:`url` is its root. Scripted replies are used first,
    in order, each for one request; then :meth:`answer` decides. :attr:`requests` holds
    every request received and :attr:`statuses` the statuses answered, in the order they were decided.
    """

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.statuses: list[int] = []
        self._scripted: deque[HTTPReply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started: use it in a 'with' block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        server.block_on_close = False  # a hung reply must not hold up the test's exit
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def script(self, *replies: HTTPReply) -> None:
        """Answer the next requests with ``replies``, one each, before :meth:`answer` takes over."""
        with self._lock:
            self._scripted.extend(replies)

    def count(self, path: str = "") -> int:
        """How many requests were received (whose path starts with ``path``)."""
        return sum(1 for seen in self.requests if seen.path.startswith(path))

    def answer(self, seen: SeenRequest) -> HTTPReply:
        """The reply to a request that no script answers; subclasses speak their protocol here."""
        return HTTPReply(404, {"error": f"no route for {seen.method} {seen.path}"})

    def _reply_to(self, seen: SeenRequest) -> HTTPReply:
        with self._lock:
            self.requests.append(seen)
            scripted = self._scripted.popleft() if self._scripted else None
        reply = scripted if scripted is not None else self.answer(seen)
        with self._lock:
            self.statuses.append(reply.status)
        return reply


def _handler(fake: FakeHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK hold each keep-alive response back by some 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return None  # the test's output is not the place for access logs

        def do_GET(self) -> None:
            self._serve(None)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            self._serve(body)

        def _serve(self, body: Any) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = fake._reply_to(SeenRequest(self.command, self.path, headers, body))
            if reply.delay and fake._closing.wait(reply.delay):
                return
            if reply.events is not None:
                self._stream(reply)
                return
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            if not any(name.lower() == "content-type" for name in reply.headers):
                self.send_header("content-type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, reply: HTTPReply) -> None:
            self.send_response(reply.status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.close_connection = True
            for sent, (event, data) in enumerate(reply.events or ()):
                if sent == reply.stall_after:
                    fake._closing.wait()
                    return
                payload = data if isinstance(data, str) else json.dumps(data)
                prefix = f"event: {event}\n" if event else ""
                self.wfile.write(f"{prefix}data: {payload}\n\n".encode())
                self.wfile.flush()

    return Handler
