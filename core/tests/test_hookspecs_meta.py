"""The hook specifications stay an honest public contract: documented, tested, callable."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from podium.contract import hookspecs
from podium.contract.plugins import PodiumPluginManager

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted(name for name, fn in vars(hookspecs).items() if name.startswith("podium_") and callable(fn))
TEST_NAMES = [
    name
    for folder in ("core/tests", "plugins", "tests")
    for path in (REPO / folder).rglob("test_*.py")
    for name in re.findall(r"def (test_\w+)", path.read_text())
]


def test_there_are_hooks_for_every_concern() -> None:
    for hook in (
        "podium_execute_stage",
        "podium_cache_key",
        "podium_cache_backend",
        "podium_route",
        "podium_fetch_docs",
        "podium_alert_raised",
        "podium_register_alert_sinks",
    ):
        assert hook in SPECS


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_is_documented_with_its_call_semantics(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    summary = doc.split("\n", 1)[0]
    assert summary.endswith("."), f"{name}: the first line must be a one-sentence summary"
    semantics = (
        "Stops at the first non-None result",
        "Return value ignored",
        "All implementations are called",
    )
    assert any(s in doc for s in semantics), f"{name}: say how results are combined"


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_parameter_is_documented_or_self_evident(name: str) -> None:
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    for parameter in inspect.signature(spec).parameters:
        assert f":param {parameter}:" in doc or parameter in (
            "run",
            "stage",
            "result",
            "ctx",
            "engine",
            "config",
            "register",
            "alert",
        ), (name, parameter)


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_has_a_test_named_after_it(name: str) -> None:
    assert any(name in test for test in TEST_NAMES), f"add a test whose name mentions {name}"


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_can_be_called_on_a_bare_manager(name: str) -> None:
    pm = PodiumPluginManager()
    caller = getattr(pm.hook, name)
    kwargs = dict.fromkeys(inspect.signature(getattr(hookspecs, name)).parameters)
    outcome = caller(**kwargs)
    assert outcome in (None, [])
