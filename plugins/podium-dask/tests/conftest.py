"""Fixtures: real Dask clusters (threads in this process, or worker processes), engines on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import dask
import pytest
from distributed import LocalCluster

import podium

#: A worker preload: each worker process exports its spans to an in-memory exporter of its
#: own, which the tests read back through ``client.run`` (Dask's way to reach every worker).
WORKER_TRACING = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()


def dask_setup(worker):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
"""


@pytest.fixture(autouse=True)
def stage_functions_travel_by_value(request: pytest.FixtureRequest) -> Iterator[None]:
    """Test modules are not importable on worker processes: pickle their functions by value."""
    module = request.module
    cloudpickle.register_pickle_by_value(module)
    yield
    cloudpickle.unregister_pickle_by_value(module)


def dask_config(**settings: Any) -> podium.Config:
    """A configuration whose ``[plugins.dask]`` section is ``settings``."""
    return podium.Config({"plugins": {"dask": settings}})


#: A LocalCluster of worker threads in this process (starts in a fraction of a second).
THREADS = {"processes": False, "workers": 2, "threads_per_worker": 2}


@pytest.fixture
def threads_engine(podium_engine: Callable[..., podium.Engine]) -> Callable[..., podium.Engine]:
    """Engines on a fresh thread LocalCluster each, with extra ``[plugins.dask]`` keys."""

    def make(cache_url: str | bool = False, **settings: Any) -> podium.Engine:
        return podium_engine(config=dask_config(**{**THREADS, **settings}), cache_url=cache_url)

    return make


@pytest.fixture(scope="session")
def process_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Two worker processes (one thread each) for the whole session, tracing to memory."""
    preload = tmp_path_factory.mktemp("preload") / "podium_dask_worker_tracing.py"
    preload.write_text(WORKER_TRACING)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", preload=[str(preload)]
        )
    yield cluster
    cluster.close()


@pytest.fixture
def process_engine(
    podium_engine: Callable[..., podium.Engine], process_cluster: LocalCluster
) -> Callable[..., podium.Engine]:
    """Engines connected to the session's process cluster by its scheduler address."""

    def make(cache_url: str | bool = False) -> podium.Engine:
        config = dask_config(address=process_cluster.scheduler_address)
        return podium_engine(config=config, cache_url=cache_url)

    return make
