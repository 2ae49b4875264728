"""The ``dask`` executor: each attempt of a stage body becomes one Dask task.

Only the body travels. The scheduling loop, caching, budgets, events, alerts and stage
spans stay in the driver, which submits an attempt when Podium's strategy starts the
stage, with the strategy's priority (so critical-path-first still holds when the cluster
is saturated), the stage's resources and annotations, and its trace context.
"""

from __future__ import annotations

import asyncio
import difflib
import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import podium
from podium_dask.cluster import Cluster
from podium_dask.context import replace_context, settle
from podium_dask.errors import NotSerializable, WorkerLost
from podium_dask.pickling import for_workers, unpicklable
from podium_dask.remote import call_async, call_async_with_context, call_sync, call_sync_with_context
from podium_dask.settings import DaskSettings
from podium_dask.tracing import current_carrier

if TYPE_CHECKING:
    from distributed import Client, Future

# Dask itself (distributed, a third of a second to import) is imported by the first stage
# that runs on it, so that an engine that never uses it pays nothing for it.

#: What a stage's ``executor_options`` may hold, with the type each takes (Dask's names).
OPTIONS = {
    "resources": "a table of resource names to amounts, e.g. {'GPU': 1}",
    "annotations": "a table of Dask annotations",
    "priority": "an integer added to the strategy's priority (higher runs first)",
    "workers": "a worker address or name, or a list of them",
    "allow_other_workers": "true or false: whether other workers may run it when those are busy",
}

# Dask keys must be unique per task: a counter keeps them short and cheap to make.
_sequence = itertools.count()


class DaskExecutor:
    """Runs stage bodies on the workers of an engine's Dask cluster."""

    def __init__(self, settings: DaskSettings | None = None) -> None:
        self.cluster = Cluster(settings or DaskSettings())

    def __repr__(self) -> str:
        return f"<DaskExecutor {self.cluster!r}>"

    # ------------------------------------------------------------------ checks

    def check(self, stage: podium.Stage) -> Iterable[str]:
        """Definition errors of a stage this executor cannot run (before the run starts)."""
        errors = []
        for key, value in stage.executor_options.items():
            problem = _option_problem(key, value)
            if problem is not None:
                errors.append(f"stage {stage.name!r}: executor_options {problem}")
        return errors

    # ------------------------------------------------------------------ running

    def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
        """Run ``fn(**kwargs)`` on a worker (without a stage: no options, priority 0)."""
        name = getattr(fn, "__name__", "call")
        key = f"{name}-{next(_sequence)}"
        return self._run(fn, kwargs, asyncio.iscoroutinefunction(fn), name, key, 0, {}, None)

    def submit_call(self, call: podium.StageCall) -> Awaitable[Any]:
        key = f"{call.stage}-{call.run_id}-{next(_sequence)}"
        kwargs, context = call.kwargs, None
        if call.context_parameter is not None:
            # The run stays here; the body gets a WorkerContext, whose usage comes back.
            kwargs, ctx = replace_context(call.kwargs, call.context_parameter, call)
            context = (call.context_parameter, ctx)
        return self._run(
            call.fn, kwargs, call.is_async, call.stage, key, call.priority, call.options, context
        )

    async def _run(
        self,
        fn: Callable[..., Any],
        kwargs: Mapping[str, Any],
        is_async: bool,
        stage: str,
        key: str,
        priority: int,
        options: Mapping[str, Any],
        context: tuple[str, podium.Context] | None,
    ) -> Any:
        from dask.base import annotate
        from distributed.scheduler import KilledWorker

        client = self.cluster.client or await self.cluster.connect()
        # Captured here, in the stage's task: the stage span is the current one.
        carrier = current_carrier()
        args: tuple[Any, ...] = (carrier,)
        if context is None:
            remote: Callable[..., Any] = call_async if is_async else call_sync
        else:
            remote = call_async_with_context if is_async else call_sync_with_context
            args = (carrier, context[0])
        try:
            sent_fn, sent_kwargs = for_workers(fn, kwargs)
            if options.get("annotations"):
                with annotate(**options["annotations"]):
                    future = _submit(client, remote, sent_fn, sent_kwargs, args, key, priority, options)
            else:
                future = _submit(client, remote, sent_fn, sent_kwargs, args, key, priority, options)
        except Exception as error:
            problem = unpicklable(fn, kwargs)
            if problem is None:
                raise
            raise NotSerializable(
                f"stage {stage!r} cannot be sent to a Dask worker: {problem}. Dask pickles a "
                "stage's function and arguments; define the function at module level (installed "
                "on the workers) or pass what it needs as picklable values"
            ) from error
        try:
            value = await future
        except TypeError as error:
            if not str(error).startswith("Could not serialize object"):
                raise
            kind = str(error).split("\n", 1)[0].removeprefix("Could not serialize object of type ")
            raise NotSerializable(
                f"stage {stage!r}: its value (a {kind}) could not be sent back from the Dask worker, "
                "which pickles it: return a picklable value"
            ) from None
        except KilledWorker as error:
            raise WorkerLost(
                f"stage {stage!r}: the Dask worker running it died ({error.last_worker.address}); "
                "see that worker's log (killed, out of memory, or its machine lost)"
            ) from None
        except asyncio.CancelledError:
            await _cancel(client, future)
            raise
        return value if context is None else settle(value, context[1])


def _submit(
    client: Client,
    remote: Callable[..., Any],
    fn: Any,
    kwargs: Any,
    args: tuple[Any, ...],
    key: str,
    priority: int,
    options: Mapping[str, Any],
) -> Future[Any]:
    future: Future[Any] = client.submit(
        remote,
        fn,
        kwargs,
        *args,
        key=key,
        pure=False,
        # Podium's Retry re-runs an attempt; Dask's own retries stay off so they never multiply.
        retries=0,
        priority=priority + options.get("priority", 0),
        resources=options.get("resources"),
        workers=options.get("workers"),
        allow_other_workers=options.get("allow_other_workers", False),
    )
    return future


async def _cancel(client: Client, future: Future[Any]) -> None:
    """Ask the scheduler to drop a task whose stage was cancelled (timeout, fail_fast, caller)."""
    try:
        await asyncio.wait_for(client.cancel([future]), timeout=5)
    except Exception:  # the cluster is going away: nothing left to cancel
        return


def _option_problem(key: str, value: Any) -> str | None:
    if key not in OPTIONS:
        close = difflib.get_close_matches(key, OPTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{key!r} is not a Dask option{hint} (the options are {', '.join(OPTIONS)})"
    valid = {
        "resources": isinstance(value, Mapping)
        and all(isinstance(k, str) and _number(v) for k, v in value.items()),
        "annotations": isinstance(value, Mapping) and all(isinstance(k, str) for k in value),
        "priority": isinstance(value, int) and not isinstance(value, bool),
        "workers": isinstance(value, str)
        or (isinstance(value, list | tuple) and all(isinstance(w, str) for w in value)),
        "allow_other_workers": isinstance(value, bool),
    }[key]
    return None if valid else f"{key!r} must be {OPTIONS[key]}, got {value!r}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
