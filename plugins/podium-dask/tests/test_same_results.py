"""Results on the dask executor equal the event loop's, on the same random workflows
(podium.strategy_checks: every scheduling promise is checked too)."""

from __future__ import annotations

from distributed import LocalCluster
from hypothesis import given, settings

import podium
import podium_dask
import podium_parallel
import podium_sequential
from podium import strategy_checks as checks

# A cluster per example is the cost of an example: fewer than a strategy's own checks.
THREADS = podium.Config({"plugins": {"dask": {"processes": False, "workers": 2, "threads_per_worker": 2}}})


def _same_as_inline(
    spec: checks.WorkflowSpec, strategy: str, plugins: list[object], config: podium.Config
) -> None:
    on_dask = checks.check_run(spec, strategy, plugins, cap=spec.cap, executor="dask", config=config)
    inline = checks.check_run(spec, strategy, plugins, cap=spec.cap)
    # Skip reasons are checked by check_run: with two failed dependencies, either may be
    # the one named, depending on which failed first.
    assert {name: (r.status, r.value) for name, r in on_dask.items()} == {
        name: (r.status, r.value) for name, r in inline.items()
    }


@settings(checks.PROFILE, max_examples=min(checks.PROFILE.max_examples, 25))
@given(checks.workflows())
def test_parallel_on_dask_threads_gives_the_inline_results(spec: checks.WorkflowSpec) -> None:
    _same_as_inline(spec, "parallel", [podium_parallel, podium_dask], THREADS)


@settings(checks.PROFILE, max_examples=min(checks.PROFILE.max_examples, 25))
@given(checks.workflows(maps=True))
def test_mapped_items_on_dask_threads_give_the_inline_results(spec: checks.WorkflowSpec) -> None:
    _same_as_inline(spec, "parallel", [podium_parallel, podium_dask], THREADS)


@settings(checks.PROFILE, max_examples=min(checks.PROFILE.max_examples, 25))
@given(spec=checks.workflows(max_stages=6))
def test_sequential_on_dask_processes_gives_the_inline_results(
    spec: checks.WorkflowSpec, process_cluster: LocalCluster
) -> None:
    config = podium.Config({"plugins": {"dask": {"address": process_cluster.scheduler_address}}})
    _same_as_inline(spec, "sequential", [podium_sequential, podium_dask], config)
