"""Serving the dashboard with uvicorn: in the foreground (``podium ui``) or in a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

#: Where the dashboard listens unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def serve(app: Starlette, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve ``app`` until interrupted."""
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


class BackgroundServer:
    """Serves an app from a thread (``with BackgroundServer(app) as server: server.url``);
    port 0 picks a free one. For applications that serve their own dashboard, and tests."""

    def __init__(self, app: Starlette, host: str = DEFAULT_HOST, port: int = 0) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False)
        self._server = uvicorn.Server(config)
        self._where = f"{host}:{port}"
        self._thread = threading.Thread(target=self._serve, name="podium-ui", daemon=True)
        self.url = ""

    def _serve(self) -> None:
        # uvicorn exits when it cannot bind; __enter__ sees the thread end and says so.
        with contextlib.suppress(SystemExit):
            self._server.run()

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard could not listen on {self._where} (is the port in use?)")
            time.sleep(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
