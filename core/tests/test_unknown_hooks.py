"""An implementation of a hook that does not exist is an error, marked with @hookimpl or not.

Installed plugins with one fail to load like any broken plugin; plugins handed over
explicitly raise PluginError at once.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import podium
from podium.cli.main import main
from podium.contract import hookspecs
from podium.contract.plugins import create_plugin_manager
from podium.foundation.errors import PluginError
from podium.testing import HookRecorder

SPECS = sorted(name for name in vars(hookspecs) if name.startswith("podium_"))


def misspell(name: str) -> str:
    """The hook name with its last two different adjacent letters swapped, as fingers do."""
    i = max(i for i in range(len(name) - 1) if name[i] != name[i + 1])
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def plugin_module(source: str, name: str = "a_plugin") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("spec", SPECS)
def test_a_misspelt_hook_is_refused_naming_the_plugin_and_the_closest_hook(spec: str) -> None:
    typo = misspell(spec)
    module = plugin_module(f"import podium\n@podium.hookimpl\ndef {typo}():\n    pass\n", "typo_plugin")
    expected = f"plugin 'typo_plugin' implements {typo!r}, which is not a Podium hook; did you mean {spec!r}?"
    with pytest.raises(PluginError) as info:
        create_plugin_manager(autoload=False, plugins=[module])
    assert str(info.value) == expected


def test_an_unmarked_podium_function_is_a_hook_implementation_too() -> None:
    typo = misspell(SPECS[0])
    with pytest.raises(PluginError, match=f"implements {typo!r}, which is not a Podium hook"):
        create_plugin_manager(autoload=False, plugins=[plugin_module(f"def {typo}():\n    pass\n")])


async def test_an_unmarked_implementation_of_a_real_hook_is_called() -> None:
    module = plugin_module(
        "import podium\ndef podium_register_agents(register):\n"
        "    register('echo', podium.SimulatedAgent('unmarked and called'))\n"
    )
    wf = podium.Workflow("w", strategy="sequential")

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("echo").complete("hi")).text

    async with podium.Engine(config=podium.Config(), plugins=[module], cache_url=False) as engine:
        assert (await engine.run(wf))["ask"].value == "unmarked and called"


def test_a_name_far_from_every_hook_says_where_the_hooks_are_listed() -> None:
    module = plugin_module("def podium_frobnicate_widgets():\n    pass\n", "far_plugin")
    with pytest.raises(
        PluginError, match=r"'podium_frobnicate_widgets', which is not a Podium hook; see the hook"
    ):
        create_plugin_manager(autoload=False, plugins=[module])


def test_an_instance_is_named_by_its_class() -> None:
    class Observer:
        @podium.hookimpl
        def podium_nothing_at_all(self) -> None: ...

    with pytest.raises(PluginError, match=r"plugin '.*Observer' implements 'podium_nothing_at_all'"):
        create_plugin_manager(autoload=False, plugins=[Observer()])


def test_another_plugins_hook_marked_optional_is_allowed() -> None:
    module = plugin_module(
        "import podium\n@podium.hookimpl(optionalhook=True)\ndef podium_otherplugin_event():\n    pass\n"
    )
    pm = create_plugin_manager(autoload=False, plugins=[module])
    assert pm.is_registered(module)


def test_only_the_unknown_hooks_not_marked_optional_are_named() -> None:
    typo = misspell(SPECS[0])
    module = plugin_module(
        "import podium\n@podium.hookimpl(optionalhook=True)\ndef podium_otherplugin_event():\n    pass\n"
        f"def {typo}():\n    pass\n"
    )
    with pytest.raises(PluginError) as info:
        create_plugin_manager(autoload=False, plugins=[module])
    assert typo in str(info.value) and "podium_otherplugin_event" not in str(info.value)


def test_a_refused_plugin_is_left_unregistered() -> None:
    pm = create_plugin_manager(autoload=False)
    module = plugin_module(f"def {misspell(SPECS[0])}():\n    pass\n")
    with pytest.raises(PluginError):
        pm.register(module)
    assert not pm.is_registered(module)
    pm.check_pending()  # the manager is left clean


def test_an_implementation_with_parameters_the_spec_lacks_is_a_plugin_error() -> None:
    module = plugin_module(
        "import podium\n@podium.hookimpl\ndef podium_alert_raised(alert, colour):\n    pass\n"
    )
    with pytest.raises(PluginError, match=r"(?s)plugin 'a_plugin' for hook 'podium_alert_raised'.*'colour'"):
        create_plugin_manager(autoload=False, plugins=[module])


def test_a_plugin_passed_to_an_engine_is_checked_at_once() -> None:
    module = plugin_module(f"def {misspell(SPECS[-1])}():\n    pass\n")
    with pytest.raises(PluginError, match="which is not a Podium hook"):
        podium.Engine(config=podium.Config(), plugins=[module], cache_url=False)


def test_the_hook_recorder_listens_only_to_real_hooks() -> None:
    pm = create_plugin_manager(autoload=False)
    recorder = HookRecorder(pm)  # registration would raise for an unknown event
    pm.check_pending()
    recorder.stop()


# ----------------------------------------------------------------- installed plugins

TYPO_PLUGIN = "import podium\n@podium.hookimpl\ndef {typo}(register):\n    pass\n"
GOOD_PLUGIN = "import podium\n@podium.hookimpl\ndef podium_register_alert_sinks(register):\n    pass\n"


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Two installed distributions: one plugin with a misspelt hook, one good one."""
    typo = misspell("podium_register_agents")
    modules = {"typo_ep_plugin": TYPO_PLUGIN.format(typo=typo), "good_ep_plugin": GOOD_PLUGIN}
    for dist, name, module in (
        ("podium-typo", "typo", "typo_ep_plugin"),
        ("podium-fine", "fine", "good_ep_plugin"),
    ):
        (tmp_path / f"{module}.py").write_text(modules[module])
        info = tmp_path / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[podium]\n{name} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    importlib.invalidate_caches()
    yield typo
    for module in modules:
        sys.modules.pop(module, None)


def test_an_installed_plugin_with_an_unknown_hook_fails_to_load_and_the_others_load(installed: str) -> None:
    with pytest.warns(RuntimeWarning, match=rf"'typo' .*failed to load and is skipped: .*{installed}"):
        pm = create_plugin_manager(env={})
    assert pm.infos["typo"].status == "failed"
    assert "did you mean 'podium_register_agents'?" in (pm.infos["typo"].error or "")
    assert not pm.has_plugin("typo")
    assert pm.has_plugin("fine")


def test_a_required_plugin_with_an_unknown_hook_is_fatal(installed: str) -> None:
    with pytest.raises(PluginError, match=rf"required plugin 'typo' .*failed to load: .*{installed}"):
        create_plugin_manager(env={}, required=["typo"])


def test_podium_plugins_shows_a_plugin_with_an_unknown_hook_as_failed(installed: str) -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["typo"]["status"] == "failed"
    assert "which is not a Podium hook" in rows["typo"]["error"]
    assert rows["fine"]["status"] == "loaded"


def test_a_workflow_file_with_a_misspelt_hook_exits_2_with_the_message(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.py"
    typo = misspell("podium_register_agents")
    path.write_text(
        "import podium\nwf = podium.Workflow('w', strategy='sequential')\n"
        f"@podium.hookimpl\ndef {typo}(register):\n    pass\n"
        "@wf.stage\nasync def only() -> int:\n    return 1\n"
    )
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress", "--no-cache"])
    assert result.exit_code == 2
    assert f"implements {typo!r}, which is not a Podium hook; did you mean 'podium_register_agents'?" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
