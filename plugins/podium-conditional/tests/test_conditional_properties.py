"""Scheduling properties of the conditional strategy on random workflows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from hypothesis import given

import podium_conditional


def _load_checks() -> ModuleType:
    """The shared property checks live in the repository's cross-package tests/ directory."""
    name = "strategy_checks"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[3] / "tests" / "strategy_checks.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


checks = _load_checks()

checks = _load_checks()


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
