"""Scheduling properties of the sequential strategy on random workflows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from hypothesis import given

import podium_sequential


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


@checks.PROFILE
@given(checks.workflows())
def test_random_workflows_run_one_stage_at_a_time_in_dependency_order(spec: object) -> None:
    checks.check_run(spec, "sequential", [podium_sequential], cap=1, routes=False)


@checks.PROFILE
@given(checks.workflows())
def test_fail_fast_stops_at_the_first_failure_and_explains_the_rest(spec: object) -> None:
    checks.check_fail_fast(spec, "sequential", [podium_sequential])
