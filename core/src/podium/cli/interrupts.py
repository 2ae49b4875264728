"""Ctrl-C and SIGTERM during ``podium run``: cancel the run, keep its results, exit 130 / 143.

The engine installs no signal handler (a library must not); the command line does, on
its own event loop, and cancels the run through its handle, so the run still ends with a
result: status ``cancelled``, every finished stage kept (and cached), the running ones
reported cancelled. A second signal, or :data:`GRACE_S` seconds without the run ending,
exits at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from types import TracebackType

import click

from podium.running.handle import RunHandle

#: Seconds the run has, after the first signal, to cancel its stages and end.
GRACE_S = 10.0

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The conventional exit code of a process ended by ``signum``: 128 + its number."""
    return 128 + signum


class Interruptions:
    """SIGINT and SIGTERM handlers on the running loop, for as long as the ``with`` block.

    Use inside a coroutine; :meth:`watch` the run's handle once there is one (a signal
    that arrives before cancels the run as soon as it is watched).
    """

    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        #: The first signal received, if any.
        self.signal: signal.Signals | None = None
        self._handle: RunHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def exit_code(self) -> int | None:
        """128 + the signal's number once one was received, else ``None``."""
        return exit_code(self.signal) if self.signal is not None else None

    @property
    def again(self) -> str:
        """What to send to exit at once: ``Ctrl-C`` after a SIGINT, else the signal's name."""
        if self.signal is None or self.signal is signal.SIGINT:
            return "Ctrl-C"
        return self.signal.name

    def __enter__(self) -> Interruptions:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for signum in _SIGNALS:
            try:
                loop.add_signal_handler(signum, self._received, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                # How asyncio says it cannot: a loop without signal support (Windows:
                # NotImplementedError) or not the main thread (RuntimeError, ValueError).
                # Ctrl-C then stops the command without a result (exit 130), and no
                # handler of ours is left behind.
                for done in installed:
                    loop.remove_signal_handler(done)
                return self
            installed.append(signum)
        self._loop = loop
        return self

    @property
    def installed(self) -> bool:
        """Whether the handlers are in place (not outside the main thread, nor on Windows)."""
        return self._loop is not None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Handlers stay while the loop waits for stage threads to finish: a second
        # signal must still exit at once. Closing the loop removes them.
        if self.signal is None and self._loop is not None:
            for signum in _SIGNALS:
                self._loop.remove_signal_handler(signum)

    def watch(self, handle: RunHandle) -> None:
        """Cancel ``handle``'s run on the first signal (at once, if one already came)."""
        self._handle = handle
        if self.signal is not None:
            handle.cancel(self._reason(self.signal))

    def _reason(self, signum: signal.Signals) -> str:
        return f"interrupted by {signum.name}"

    def _received(self, signum: signal.Signals) -> None:
        if self.signal is not None:
            self._exit_now(f"second {signum.name}")
            return
        self.signal = signum
        click.echo(
            f"podium: {signum.name} received: cancelling the run (finished stages are kept); "
            f"{self.again} again to exit at once",
            err=True,
        )
        if self._handle is not None:
            self._handle.cancel(self._reason(signum))
        assert self._loop is not None
        self._loop.call_later(self.grace_s, self._out_of_time)

    def _out_of_time(self) -> None:
        ended = self._handle is not None and self._handle.done()
        waiting = "stage threads were still running" if ended else "the run had not ended"
        self._exit_now(f"{waiting} {self.grace_s:g}s after the signal")

    def _exit_now(self, why: str) -> None:
        finished = sorted(self._handle.run.results) if self._handle is not None else []
        click.echo(
            f"podium: exiting at once ({why}); stages settled before: {', '.join(finished) or 'none'}",
            err=True,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # Not sys.exit: a stage blocked in a thread would keep the interpreter waiting.
        os._exit(self.exit_code or exit_code(signal.SIGINT))
