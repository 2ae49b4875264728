"""Run handles: a run started in its own task, which can be cancelled with a result."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.running.scheduler import RunState
    from podium.values.model import RunResult


class RunHandle:
    """A run started with :meth:`podium.Engine.submit`: cancel it, or await its result.

    Unlike cancelling a task that awaits :meth:`podium.Engine.run` (which must propagate
    :class:`asyncio.CancelledError`), :meth:`cancel` ends the run *with a result*: status
    ``cancelled``, every finished stage's result kept, running ones reported cancelled.
    """

    def __init__(self, run: RunState, task: asyncio.Task[RunResult]) -> None:
        self.run = run
        self.task = task

    def __repr__(self) -> str:
        return f"<RunHandle {self.run.id} {'done' if self.task.done() else 'running'}>"

    @property
    def id(self) -> str:
        return self.run.id

    def done(self) -> bool:
        return self.task.done()

    def cancel(self, reason: str = "cancelled by the caller") -> None:
        """Cancel the run's running stages and start no more (a queued run leaves the queue);
        :meth:`result` still answers."""
        self.run.cancel(reason)
        if not self.run.started:
            self.task.cancel()

    async def result(self) -> RunResult:
        """Wait for the run to end and return its result (also when it was cancelled)."""
        try:
            return await asyncio.shield(self.task)
        except asyncio.CancelledError:
            if not self.task.cancelled():
                raise  # it is the caller who is being cancelled
            # The run's own task was cancelled: the run still has a result, even when the
            # task was cancelled before it could start the run.
            return self.run.result or self.run.finish_unstarted("the run was cancelled before it started")

    def __await__(self) -> Generator[Any, None, RunResult]:
        return self.result().__await__()
