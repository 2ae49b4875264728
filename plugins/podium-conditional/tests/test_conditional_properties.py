"""Scheduling properties of the conditional strategy on random workflows."""

from __future__ import annotations

from hypothesis import given

import podium_conditional
from podium import strategy_checks as checks


@checks.PROFILE
@given(checks.workflows(routes=True))
def test_random_routes_skip_unpicked_branches_and_respect_everything_else(spec: object) -> None:
    checks.check_run(spec, "conditional", [podium_conditional], cap=spec.cap, routes=True)  # type: ignore[attr-defined]


@checks.PROFILE
@given(checks.workflows())
def test_fail_fast_cancels_what_runs_and_starts_nothing_more(spec: object) -> None:
    checks.check_fail_fast(spec, "conditional", [podium_conditional])


@checks.PROFILE
@given(checks.workflows(loops=True))
def test_random_loops_back_end_with_the_loop_free_results(spec: object) -> None:
    checks.check_run(spec, "conditional", [podium_conditional], cap=spec.cap, routes=False)  # type: ignore[attr-defined]


@checks.PROFILE
@given(checks.workflows(routes=True, maps=True))
def test_random_routes_around_mapped_stages_skip_them_whole_and_keep_their_items(spec: object) -> None:
    checks.check_run(spec, "conditional", [podium_conditional], cap=spec.cap, routes=True)  # type: ignore[attr-defined]
