"""With everything installed, every plugin is discovered through its real entry point."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import podium
from podium.cli.main import main
from podium.contract.plugins import create_plugin_manager
from podium.foundation.errors import INSTALL_HINTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(
    p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file() and p.name != "_template"
)


def entry_points(package: Path) -> dict[str, str]:
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    return dict(project["entry-points"]["podium"])


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_plugin_package_is_discovered_with_its_distribution_and_version(package: Path) -> None:
    pm = create_plugin_manager(env={})
    distribution = tomllib.loads((package / "pyproject.toml").read_text())["project"]["name"]
    for name in entry_points(package):
        info = pm.infos[name]
        assert info.status == "loaded", info.error
        assert info.distribution == distribution
        assert info.version == importlib.metadata.version(distribution)
        assert pm.plugin_hooks(name), f"{name} implements no hook"


def test_podium_plugins_lists_the_tutorial_plugin_installed_with_pip() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json", "--hook", "podium_register_agents"])
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["hello"]["distribution"] == "podium-hello"
    assert plugins["hello"]["hooks"] == [
        "podium_register_agents",
        "podium_register_config_sections",
        "podium_stage_ended",
    ]


async def test_the_tutorial_plugins_hooks_are_called_with_its_configuration() -> None:
    import podium_hello

    wf = podium.Workflow("greet", strategy="sequential")

    @wf.stage
    async def greet(ctx: podium.Context) -> str:
        return (await ctx.agent("hello").complete("world")).text

    config = podium.Config({"plugins": {"hello": {"greeting": "Bonjour"}}})
    async with podium.Engine(config=config) as engine:
        result = await engine.run(wf)
    assert result["greet"].value == "Bonjour, world!"
    assert result["greet"].usage.total_tokens == 1 + 2
    assert podium_hello.succeeded["greet"] >= 1


CORE_EXTRAS = tomllib.loads((ROOT / "core" / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]
STRATEGY_HINTS = sorted(need for need in INSTALL_HINTS if need.startswith("strategy "))


def _entry_points_of_extra(extra: str) -> list[str]:
    """The podium entry-point names of the distributions a core extra installs."""
    names = []
    for requirement in CORE_EXTRAS[extra]:
        distribution = requirement.split(">")[0].split("=")[0].strip()
        names += [
            ep.name
            for ep in importlib.metadata.distribution(distribution).entry_points
            if ep.group == "podium"
        ]
    return names


@pytest.mark.parametrize("need", STRATEGY_HINTS)
def test_the_extra_a_missing_strategy_names_installs_that_strategy(need: str) -> None:
    extra = INSTALL_HINTS[need].removeprefix("podium[").removesuffix("]")
    pm = create_plugin_manager(allow=_entry_points_of_extra(extra), env={})
    engine = podium.Engine(config=podium.Config(), plugin_manager=pm, cache_url=False)
    engine.register_plugins()
    assert sorted(engine.strategies) == [need.removeprefix("strategy ")]


def test_the_extra_missing_docs_names_installs_a_doc_fetcher() -> None:
    extra = INSTALL_HINTS["docs"].removeprefix("podium[").removesuffix("]")
    plugins = _entry_points_of_extra(extra)
    pm = create_plugin_manager(allow=plugins, env={})
    assert {impl.plugin_name for impl in pm.hook.podium_fetch_docs.get_hookimpls()} & set(plugins)
