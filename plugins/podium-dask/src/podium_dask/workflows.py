"""Whole workflows on the workers, for the throughput of many runs (:func:`cluster_runs`).

Each run is one Dask task: a worker runs the whole workflow on an engine of its own,
built once per worker from the driver's configuration and the installed plugins, so
budgets, timeouts, alerts and events apply per run on its worker. What runs share must
then live outside any one process: the cache is refused unless every worker can reach it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import cloudpickle
from distributed import Client, Future, get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

import podium
from podium_dask.cluster import scheduler_address
from podium_dask.pickling import ByValue, is_local, unwrapped
from podium_dask.tracing import Carrier, attached, current_carrier
from podium_dask.worker import WorkerSide

_WORKER_PLUGIN = "podium-worker-engines"


@attrs.frozen
class EngineRecipe:
    """What a worker needs to build the engine its runs use (pickled once per batch)."""

    config: Mapping[str, Any]
    cache_url: str | bool
    plugins: tuple[object, ...]
    #: Identifies the recipe among a worker's engines.
    fingerprint: str


class ClusterRuns:
    """Runs whole workflows on the workers of an engine's Dask cluster.

    Made by :func:`cluster_runs`; the engine (driver) validates each workflow and its
    inputs before anything is submitted, the workers run them.
    """

    def __init__(self, engine: podium.Engine, client: Client, recipe: EngineRecipe) -> None:
        self.engine = engine
        self.client = client
        self.recipe = recipe
        self._registered = False

    def __repr__(self) -> str:
        return f"<ClusterRuns on {scheduler_address(self.client)}>"

    async def run(
        self, workflow: podium.Workflow, inputs: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> podium.RunResult:
        """Run ``workflow`` on a worker and return its result (see :meth:`map`)."""
        if inputs is not None and not isinstance(inputs, Mapping):
            raise podium.DefinitionError(f"run: inputs must map input names to values, got {inputs!r}")
        (result,) = await self.map(workflow, [inputs or {}], run_ids=[run_id] if run_id else None)
        return result

    async def map(
        self,
        workflow: podium.Workflow,
        inputs: Iterable[Mapping[str, Any]],
        *,
        run_ids: Sequence[str] | None = None,
    ) -> list[podium.RunResult]:
        """Run ``workflow`` once per inputs, spread over the workers; results in input order.

        Definition and input errors raise here, before anything is submitted. A run whose
        worker died, or whose task failed outside the run, gets a ``failed`` result whose
        ``error`` and ``reason`` say so; the other runs keep theirs.
        """
        if isinstance(inputs, Mapping | str):
            raise podium.DefinitionError(
                f"map: give a list of inputs, one mapping per run (got {type(inputs).__name__}); "
                "for one run use run(workflow, inputs)"
            )
        batch = []
        for n, values in enumerate(inputs):
            if not isinstance(values, Mapping):
                raise podium.DefinitionError(
                    f"map: inputs[{n}] must map input names to values, got {values!r}"
                )
            batch.append({**workflow.input_defaults, **values})
        ids = list(run_ids) if run_ids is not None else [secrets.token_hex(8) for _ in batch]
        if len(ids) != len(batch):
            raise podium.DefinitionError(f"map: {len(batch)} inputs but {len(ids)} run ids")
        strategy = self.engine.strategy_for(workflow)
        for values in batch:
            plan = workflow.validate(values)
            errors = list(strategy.check(workflow, plan))
            if errors:
                raise podium.DefinitionErrors(errors, source=f"workflow {workflow.name!r}")
        if not batch:
            return []
        await self._register_worker_plugin()
        client = self.client
        # A workflow whose stages come from a file loaded by path travels whole (ByValue).
        local = any(is_local(stage.fn) for stage in workflow.stages.values())
        sent = ByValue(workflow) if local else workflow
        # Sent once, not once per run.
        shared_workflow, shared_recipe = await client.scatter([sent, self.recipe], hash=False)
        carrier = current_carrier()
        futures = [
            client.submit(
                run_on_worker,
                shared_workflow,
                values,
                run_id,
                shared_recipe,
                carrier,
                key=f"workflow-{workflow.name}-{run_id}",
                pure=False,
            )
            for values, run_id in zip(batch, ids, strict=True)
        ]
        try:
            outcomes = await asyncio.gather(*(_outcome(f) for f in futures))
        except asyncio.CancelledError:
            await client.cancel(futures)
            raise
        return [
            outcome if isinstance(outcome, podium.RunResult) else _lost(workflow, run_id, outcome)
            for outcome, run_id in zip(outcomes, ids, strict=True)
        ]

    async def _register_worker_plugin(self) -> None:
        if not self._registered:
            await self.client.register_plugin(WorkerEngines(), name=_WORKER_PLUGIN)
            self._registered = True


async def _outcome(future: Future[Any]) -> podium.RunResult | BaseException:
    try:
        result: podium.RunResult = await future
    except Exception as error:
        return error
    return result


def _lost(workflow: podium.Workflow, run_id: str, error: BaseException) -> podium.RunResult:
    now = datetime.now(UTC)
    if isinstance(error, KilledWorker):
        reason = f"the Dask worker running it died ({error.last_worker.address}); run it again"
    else:
        reason = f"it could not run on a worker: {error!r}"
    return podium.RunResult(
        run_id=run_id,
        workflow=workflow.name,
        status=podium.RunStatus.FAILED,
        stages={},
        started_at=now,
        finished_at=now,
        duration_s=0.0,
        error=error,
        reason=reason,
    )


def cluster_runs(engine: podium.Engine, *, plugins: Iterable[object] = ()) -> ClusterRuns:
    """Whole-workflow mode on ``engine``'s Dask cluster (the engine must have started).

    :param plugins: Plugin objects the workers' engines register besides the installed
        ones (modules or instances that pickle, importable on the workers).
    :raises podium.ConfigError: the engine's cache is ``memory://``, which every worker
        would hold for itself.
    """
    from podium_dask import executor_for

    executor = executor_for(engine)
    client = None if executor is None else executor.cluster.client
    if client is None:
        raise podium.PodiumError(
            "whole-workflow mode needs a started engine connected to a Dask cluster: use it inside "
            "`async with podium.Engine() as engine:` with [plugins.dask] configured"
        )
    cache = engine.result_cache
    if cache.enabled and cache.url.startswith("memory:"):
        raise podium.ConfigError(
            "whole-workflow mode runs each workflow on a worker, where a memory:// cache would be that "
            "worker's own: nothing would be shared between runs. Set cache_url to a backend every worker "
            "reaches (redis://host:6379/0, memcached://host:11211, or sqlite:////shared/podium.db on a "
            "filesystem they all mount), or switch the cache off"
        )
    data = dict(engine.config.data)
    # The workers' engines run the bodies of dask stages themselves (see WorkerSide).
    data["disable"] = sorted({*data.get("disable", ()), "dask"})
    plugin_objects = tuple(plugins)
    cache_url: str | bool = cache.url if cache.enabled else False
    fingerprint = hashlib.sha256(cloudpickle.dumps((data, cache_url, plugin_objects))).hexdigest()[:16]
    return ClusterRuns(engine, client, EngineRecipe(data, cache_url, plugin_objects, fingerprint))


# ----------------------------------------------------------------------------- on the worker

_engines: dict[tuple[str, str], asyncio.Task[podium.Engine]] = {}


async def run_on_worker(
    workflow: podium.Workflow,
    inputs: Mapping[str, Any],
    run_id: str,
    recipe: EngineRecipe,
    carrier: Carrier | None,
) -> podium.RunResult:
    """One whole run on this worker's engine for ``recipe`` (started on first use)."""
    engine = await _engine(recipe)
    detach = attached(carrier)
    try:
        return await engine.run(unwrapped(workflow), inputs, run_id=run_id)
    finally:
        detach()


def _engine(recipe: EngineRecipe) -> asyncio.Future[podium.Engine]:
    key = (get_worker().address, recipe.fingerprint)
    task = _engines.get(key)
    if task is None or (task.done() and task.exception() is not None):
        task = _engines[key] = asyncio.get_running_loop().create_task(_start_engine(recipe))
    return asyncio.shield(task)


async def _start_engine(recipe: EngineRecipe) -> podium.Engine:
    cache_url: str | bool = recipe.cache_url
    engine = podium.Engine(
        config=podium.Config(recipe.config, origin="the driver's configuration"),
        plugins=[WorkerSide(), *recipe.plugins],
        cache_url=cache_url if isinstance(cache_url, str) else False,
    )
    await engine.start()
    return engine


class WorkerEngines(WorkerPlugin):
    """Stops a worker's engines when the worker closes (flushing caches and exporters)."""

    async def teardown(self, worker: Any) -> None:
        for key in [key for key in _engines if key[0] == worker.address]:
            task = _engines.pop(key)
            if task.done() and task.exception() is None:
                await task.result().stop()
