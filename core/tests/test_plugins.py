"""Plugin discovery: entry points, allow and block lists, broken plugins isolated."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import podium
from podium.contract.plugins import DEFAULT_PLUGINS, create_plugin_manager
from podium.foundation.errors import PluginError

GOOD = """
import podium

@podium.hookimpl
def podium_register_agents(register):
    register("greeter", podium.SimulatedAgent("hello from a plugin"))
"""


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two installed distributions: one with a working plugin, one whose import raises."""
    (tmp_path / "good_plugin.py").write_text(GOOD)
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('missing dependency: frobnicate')\n")
    for dist, name, module in (
        ("podium-good", "good", "good_plugin"),
        ("podium-broken", "broken", "broken_plugin"),
    ):
        info = tmp_path / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[podium]\n{name} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for module in ("good_plugin", "broken_plugin"):
        sys.modules.pop(module, None)


def test_builtins_are_registered_as_ordinary_plugins() -> None:
    pm = create_plugin_manager(autoload=False, env={})
    assert all(pm.has_plugin(name) for name in DEFAULT_PLUGINS)
    assert pm.infos["podium.engine.defaults.execution"].builtin


def test_an_installed_plugin_is_discovered_with_its_distribution_and_version(installed: Path) -> None:
    with pytest.warns(RuntimeWarning):
        pm = create_plugin_manager(env={})
    info = pm.infos["good"]
    assert (info.distribution, info.version, info.status) == ("podium-good", "1.2.3", "loaded")
    assert pm.plugin_hooks("good") == ["podium_register_agents"]


def test_a_plugin_whose_import_raises_is_reported_and_the_others_load(installed: Path) -> None:
    with pytest.warns(
        RuntimeWarning, match="'broken' .*failed to load and is skipped: ImportError: missing dependency"
    ):
        pm = create_plugin_manager(env={})
    assert pm.infos["broken"].status == "failed"
    assert pm.has_plugin("good")


def test_a_required_plugin_that_fails_is_fatal(installed: Path) -> None:
    with pytest.raises(PluginError, match=r"required plugin 'broken' .*failed to load"):
        create_plugin_manager(env={}, required=["broken"])


def test_the_allow_list_loads_only_the_named_plugins(installed: Path) -> None:
    pm = create_plugin_manager(env={"PODIUM_LOAD_PLUGINS": "good"})
    assert pm.has_plugin("good")
    assert "broken" not in pm.infos


def test_a_disabled_plugin_is_never_imported(installed: Path) -> None:
    create_plugin_manager(env={}, disable=["broken", "good"])
    assert "broken_plugin" not in sys.modules
    assert "good_plugin" not in sys.modules


def test_autoload_can_be_switched_off_by_environment(installed: Path) -> None:
    pm = create_plugin_manager(env={"PODIUM_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "good" not in pm.infos


async def test_a_discovered_plugins_hooks_are_called(installed: Path) -> None:
    pm = create_plugin_manager(env={"PODIUM_LOAD_PLUGINS": "good,sequential"})
    wf = podium.Workflow("w", strategy="sequential")

    @wf.stage
    async def greet(ctx: podium.Context) -> str:
        return (await ctx.agent("greeter").complete("hi")).text

    async with podium.Engine(config=podium.Config(), plugin_manager=pm) as engine:
        assert (await engine.run(wf))["greet"].value == "hello from a plugin"


def test_two_plugins_registering_one_strategy_name_is_an_error() -> None:
    class Twin(podium.Strategy):
        name = "sequential"

    class Plugin:
        @podium.hookimpl
        def podium_register_strategies(self, register: object) -> None:
            register(Twin())  # type: ignore[operator]

    engine = podium.Engine(config=podium.Config(), plugins=[Plugin()], cache_url=False)
    with pytest.raises(PluginError, match="two plugins register the strategy 'sequential'"):
        engine.register_plugins()
