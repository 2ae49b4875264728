"""The hook specifications stay an honest public contract: documented, tested, callable."""

from __future__ import annotations

import inspect
import re
from collections import Counter
from pathlib import Path

import pytest

from podium.contract import hookspecs
from podium.contract.plugins import PodiumPluginManager

REPO = Path(__file__).resolve().parents[2]
HOOKS_PAGE = REPO / "docs" / "reference" / "hooks.md"
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


def _module_sections() -> list[tuple[str, list[str]]]:
    """(section title, specs in order) from the section comments of the spec module."""
    sections: list[tuple[str, list[str]]] = []
    for line in Path(inspect.getfile(hookspecs)).read_text().splitlines():
        if match := re.match(r"^# -{3,} (.+)$", line):
            sections.append((match.group(1).lower(), []))
        elif (match := re.match(r"^def (podium_\w+)", line)) and sections:
            sections[-1][1].append(match.group(1))
    return sections


def _page_sections() -> list[tuple[str, list[str]]]:
    """(section heading, specs rendered in order) from the hook reference page."""
    sections: list[tuple[str, list[str]]] = []
    for line in HOOKS_PAGE.read_text().splitlines():
        if match := re.match(r"^## (.+)$", line):
            sections.append((match.group(1).lower(), []))
        elif (match := re.match(r"^::: podium\.contract\.hookspecs\.(\w+)\s*$", line)) and sections:
            sections[-1][1].append(match.group(1))
    return sections


def test_the_hook_reference_renders_every_spec_exactly_once() -> None:
    rendered = Counter(
        re.findall(r"^::: podium\.contract\.hookspecs\.(\w+)\s*$", HOOKS_PAGE.read_text(), re.M)
    )
    assert sorted(name for name in SPECS if rendered[name] != 1) == [], "render each spec once on the page"
    assert sorted(set(rendered) - set(SPECS)) == [], "the page renders names that are not specs"


def test_every_spec_is_in_a_section_of_the_spec_module() -> None:
    assert sorted(name for _, names in _module_sections() for name in names) == SPECS


def test_the_hook_reference_is_sectioned_and_ordered_as_the_spec_module() -> None:
    assert _page_sections() == _module_sections()


def test_the_kernels_concerns_registration_and_lifecycle_each_have_a_section() -> None:
    titles = [title for title, _ in _module_sections()]
    concerns = ["stage execution", "caching", "routing", "doc fetching", "alerting"]
    assert titles == [*concerns, "registration", "lifecycle"]
