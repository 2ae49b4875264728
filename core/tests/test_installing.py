"""Installing: core's extras pull Podium's own plugins, a missing strategy says exactly what
to install, and core names its plugins in one hint table only."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import podium
from podium.contract.plugins import create_plugin_manager
from podium.foundation import errors
from podium.foundation.errors import INSTALL_HINTS, StrategyNotFound

REPO = Path(__file__).resolve().parents[2]
CORE = tomllib.loads((REPO / "core" / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = CORE["optional-dependencies"]
PLUGINS = {
    tomllib.loads((path / "pyproject.toml").read_text())["project"]["name"]: path
    for path in sorted((REPO / "plugins").iterdir())
    if (path / "pyproject.toml").is_file() and path.name != "_template"
}


def _distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0)


def bare_workflow(strategy: str | None = None) -> podium.Workflow:
    wf = podium.Workflow("w", strategy=strategy)
    wf.add_stage(lambda: None, name="a")
    return wf


async def test_with_no_strategy_installed_a_run_says_precisely_what_to_install() -> None:
    # Only the built-ins: what `pip install podium` alone gives.
    pm = create_plugin_manager(autoload=False)
    async with podium.Engine(config=podium.Config(), plugin_manager=pm, cache_url=False) as engine:
        with pytest.raises(StrategyNotFound) as info:
            await engine.run(bare_workflow())
    assert str(info.value) == (
        "workflow 'w' uses strategy 'sequential', which no installed plugin provides (installed: none). "
        "Install it with: pip install 'podium[sequential]' (or every Podium plugin: pip install 'podium[all]')"
    )


async def test_a_strategy_podium_does_not_ship_gets_no_install_advice(engine: podium.Engine) -> None:
    with pytest.raises(StrategyNotFound) as info:
        await engine.run(bare_workflow("quantum"))
    assert "installed: " in str(info.value) and "pip install" not in str(info.value)


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_core_has_an_extra_for_each_plugin_naming_its_distribution(plugin: str) -> None:
    version = tomllib.loads((PLUGINS[plugin] / "pyproject.toml").read_text())["project"]["version"]
    minor = ".".join(version.split(".")[:2])
    assert EXTRAS[plugin.removeprefix("podium-")] == [f"{plugin}>={minor}"]


def test_the_all_extra_installs_every_plugin_and_the_dashboard() -> None:
    plugins = [_distribution(r) for r in EXTRAS["all"] if _distribution(r) in PLUGINS]
    others = [r for r in EXTRAS["all"] if _distribution(r) not in PLUGINS]
    assert sorted(plugins) == sorted(PLUGINS)
    assert sorted(others) == sorted(EXTRAS["ui"])


@pytest.mark.parametrize("need", sorted(INSTALL_HINTS))
def test_every_install_hint_is_an_extra_of_core_pulling_a_sibling_plugin(need: str) -> None:
    extra = re.fullmatch(r"podium\[(\w+)\]", INSTALL_HINTS[need])
    assert extra, INSTALL_HINTS[need]
    assert [_distribution(r) for r in EXTRAS[extra.group(1)]] != []
    # `all` also brings the dashboard's libraries.
    assert all(_distribution(r) in PLUGINS or r in EXTRAS["ui"] for r in EXTRAS[extra.group(1)])


def test_core_names_its_plugins_only_in_the_hint_table() -> None:
    names = [*PLUGINS, *(name.replace("-", "_") for name in PLUGINS)]
    extras = [
        f"podium[{extra}]" for extra in EXTRAS if any(_distribution(r) in PLUGINS for r in EXTRAS[extra])
    ]
    found = []
    for path in sorted((REPO / "core" / "src").rglob("*.py")):
        text = path.read_text()
        found += [f"{path.relative_to(REPO)}: {name}" for name in names if name in text]
        if path != Path(errors.__file__):
            found += [f"{path.relative_to(REPO)}: {extra}" for extra in extras if extra in text]
    assert found == []
