"""The context a stage body gets on a Dask worker: what can work away from the run.

The run (its results, agents, caches, budget) lives in the engine. On a worker, a body
can log and record usage; the usage travels back with the attempt's outcome, failed or
not, and is recorded on the stage's real context there, priced and checked against the
budget as if the body had recorded it in the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NoReturn

import attrs

import podium

_log = logging.getLogger("podium.stage")


class WorkerContext:
    """``ctx`` for a stage body running on a Dask worker (a subset of :class:`podium.Context`).

    ``run_id``, ``attempt``, ``visit``, ``log`` and ``record_usage`` work as in the engine;
    ``agent``, ``docs`` and ``latest`` need the run and raise :class:`podium.PodiumError`.
    """

    __slots__ = ("_log", "attempt", "recorded", "run_id", "stage_name", "visit", "workflow")

    def __init__(self, stage_name: str, workflow: str, run_id: str, visit: int, attempt: int) -> None:
        self.stage_name = stage_name
        self.workflow = workflow
        self.run_id = run_id
        self.visit = visit
        self.attempt = attempt
        #: Usage recorded so far: (usage, model, cost_usd) each.
        self.recorded: list[tuple[podium.Usage, str | None, float | None]] = []
        self._log: logging.LoggerAdapter[logging.Logger] | None = None

    def __repr__(self) -> str:
        return f"<WorkerContext run={self.run_id} stage={self.stage_name!r} attempt={self.attempt}>"

    def __getstate__(self) -> tuple[str, str, str, int, int]:
        return self.stage_name, self.workflow, self.run_id, self.visit, self.attempt

    def __setstate__(self, state: tuple[str, str, str, int, int]) -> None:
        self.stage_name, self.workflow, self.run_id, self.visit, self.attempt = state
        self.recorded = []
        self._log = None

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry ``run_id``, ``workflow`` and ``stage``, on the worker."""
        if self._log is None:
            extra = {"run_id": self.run_id, "workflow": self.workflow, "stage": self.stage_name}
            self._log = logging.LoggerAdapter(_log, extra)
        return self._log

    def record_usage(
        self,
        usage: podium.Usage | None = None,
        *,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        requests: int = 0,
        cost_usd: float | None = None,
    ) -> podium.Usage:
        """Record tokens (and their cost) spent by this stage, as ``Context.record_usage``
        does; they are priced (for ``model``) and counted against the budget in the engine
        when the attempt ends. Returns the usage, unpriced."""
        if usage is None:
            usage = podium.Usage(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, requests)
        self.recorded.append((usage, model, cost_usd))
        return usage

    def agent(self, name: str) -> NoReturn:
        self._unavailable(f"ctx.agent({name!r})")

    async def docs(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._unavailable("ctx.docs(...)")

    def latest(self, stage: str, default: Any = None) -> NoReturn:
        self._unavailable(f"ctx.latest({stage!r})")

    def _unavailable(self, what: str) -> NoReturn:
        raise podium.PodiumError(
            f"stage {self.stage_name!r}: {what} needs the run, which stays in the engine, and this "
            "body runs on a Dask worker: call agents and fetch docs in a stage on the engine "
            "(executor 'inline') and pass their results to this one"
        )


@attrs.frozen
class Outcome:
    """What an attempt with a context sends back: its value or error, and the usage it recorded."""

    value: Any
    error: BaseException | None
    recorded: list[tuple[podium.Usage, str | None, float | None]]


def replace_context(
    kwargs: Mapping[str, Any], parameter: str, call: podium.StageCall
) -> tuple[dict[str, Any], podium.Context]:
    """``kwargs`` with the engine's context swapped for a :class:`WorkerContext`."""
    ctx: podium.Context = kwargs[parameter]
    worker_ctx = WorkerContext(call.stage, call.workflow, call.run_id, call.visit, call.attempt)
    return {**kwargs, parameter: worker_ctx}, ctx


def settle(outcome: Outcome, ctx: podium.Context) -> Any:
    """Record an outcome's usage on the stage's context, then return its value or raise."""
    for usage, model, cost_usd in outcome.recorded:
        ctx.record_usage(usage, model=model, cost_usd=cost_usd)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value
