"""Scheduling properties of the parallel strategy on random workflows."""

from __future__ import annotations

from hypothesis import given

import podium_parallel
import podium_sequential
from podium import strategy_checks as checks


@checks.PROFILE
@given(checks.workflows())
def test_random_workflows_respect_dependencies_cap_and_skips(spec: object) -> None:
    checks.check_run(spec, "parallel", [podium_parallel], cap=spec.cap, routes=False)  # type: ignore[attr-defined]


@checks.PROFILE
@given(checks.workflows())
def test_fail_fast_cancels_what_runs_and_starts_nothing_more(spec: object) -> None:
    checks.check_fail_fast(spec, "parallel", [podium_parallel])


@checks.PROFILE
@given(checks.workflows())
def test_results_equal_sequential_value_for_value(spec: object) -> None:
    sequential = checks.check_run(spec, "sequential", [podium_sequential], cap=1, routes=False)
    parallel = checks.check_run(spec, "parallel", [podium_parallel], cap=spec.cap, routes=False)  # type: ignore[attr-defined]
    assert {n: (r.status, r.value) for n, r in parallel.items()} == {
        n: (r.status, r.value) for n, r in sequential.items()
    }


@checks.PROFILE
@given(checks.workflows(maps=True))
def test_random_workflows_with_mapped_stages_keep_items_dependencies_cap_and_gathers(spec: object) -> None:
    checks.check_run(spec, "parallel", [podium_parallel], cap=spec.cap, routes=False)  # type: ignore[attr-defined]


@checks.PROFILE
@given(checks.workflows(maps=True))
def test_fail_fast_cancels_running_items_and_starts_nothing_more(spec: object) -> None:
    checks.check_fail_fast(spec, "parallel", [podium_parallel])


@checks.PROFILE
@given(checks.workflows(maps=True))
def test_mapped_results_equal_sequential_value_for_value(spec: object) -> None:
    sequential = checks.check_run(spec, "sequential", [podium_sequential], cap=1, routes=False)
    parallel = checks.check_run(spec, "parallel", [podium_parallel], cap=spec.cap, routes=False)  # type: ignore[attr-defined]
    assert {n: (r.status, r.value) for n, r in parallel.items()} == {
        n: (r.status, r.value) for n, r in sequential.items()
    }
