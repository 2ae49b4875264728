"""Property checks every strategy must pass (hypothesis), for strategy plugins' test suites.

A random workflow (:func:`workflows`) is a DAG of stages with ``needs`` and ``needs_any``
edges, stages that fail, (for strategies that honour them) routes picking random
subsets of their dependents, and (``maps=True``) stages mapped over items known only at
run time, some of whose items fail by design. :func:`expected` interprets it by the
execution semantics (docs/concepts.md) without any scheduling; :func:`check_run` runs it
on a real engine and compares the outcome with that interpretation while a
:class:`Recorder` watches from inside the stage bodies (dependencies settled at start,
concurrency cap, at most one start per stage or item).

Podium's own strategies are tested with it, and so can yours::

    from hypothesis import given
    from podium import strategy_checks as checks

    @checks.PROFILE
    @given(checks.workflows())
    def test_my_strategy_keeps_every_promise(spec):
        checks.check_run(spec, "mine", [my_plugin], cap=spec.cap)

Needs hypothesis (``pip install 'podium[testing]'``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "podium-strategies",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "podium-strategies-quick", parent=settings.get_profile("podium-strategies"), max_examples=60
)

#: The profile the property tests run under: 500 examples a strategy unless
#: ``PODIUM_HYPOTHESIS_PROFILE=podium-strategies-quick`` asks for a quick local run.
PROFILE = settings.get_profile(os.environ.get("PODIUM_HYPOTHESIS_PROFILE", "podium-strategies"))

# The profiles are registered before the checks are imported: they are what the checks run under.
from podium.strategy_checks.drawing import StageSpec, WorkflowSpec, ancestors, descendants, workflows  # noqa: E402
from podium.strategy_checks.reference import Expected, expected, value_of  # noqa: E402
from podium.strategy_checks.running import (  # noqa: E402
    ANNOUNCED,
    OBSERVER,
    Observer,
    Recorder,
    StageFailure,
    build,
    check_fail_fast,
    check_run,
    engine_for,
    run_spec,
)

__all__ = [
    "ANNOUNCED",
    "OBSERVER",
    "PROFILE",
    "Expected",
    "Observer",
    "Recorder",
    "StageFailure",
    "StageSpec",
    "WorkflowSpec",
    "ancestors",
    "build",
    "check_fail_fast",
    "check_run",
    "descendants",
    "engine_for",
    "expected",
    "run_spec",
    "value_of",
    "workflows",
]
