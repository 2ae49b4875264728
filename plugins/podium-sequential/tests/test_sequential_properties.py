"""Scheduling properties of the sequential strategy on random workflows."""

from __future__ import annotations

from hypothesis import given

import podium_sequential
from podium import strategy_checks as checks


@checks.PROFILE
@given(checks.workflows())
def test_random_workflows_run_one_stage_at_a_time_in_dependency_order(spec: object) -> None:
    checks.check_run(spec, "sequential", [podium_sequential], cap=1, routes=False)


@checks.PROFILE
@given(checks.workflows())
def test_fail_fast_stops_at_the_first_failure_and_explains_the_rest(spec: object) -> None:
    checks.check_fail_fast(spec, "sequential", [podium_sequential])


@checks.PROFILE
@given(checks.workflows(maps=True))
def test_random_workflows_with_mapped_stages_run_one_item_at_a_time(spec: object) -> None:
    checks.check_run(spec, "sequential", [podium_sequential], cap=1, routes=False)


@checks.PROFILE
@given(checks.workflows(maps=True))
def test_fail_fast_stops_at_the_first_failed_item_and_explains_the_rest(spec: object) -> None:
    checks.check_fail_fast(spec, "sequential", [podium_sequential])
