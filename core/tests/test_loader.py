"""Workflows load from .py files, module:attribute targets and TOML files."""

from __future__ import annotations

from pathlib import Path

import pytest

import podium
from podium.definition.loader import load_target, load_toml
from podium.foundation.errors import DefinitionError

STAGES = """
import podium

async def fetch(url: str) -> str:
    return "page " + url

async def summarize(fetch: str) -> str:
    return fetch.upper()

def pick(value: str) -> str:
    return "a"
"""


@pytest.fixture
def stages_module(tmp_path: Path) -> Path:
    (tmp_path / "toml_stages.py").write_text(STAGES)
    return tmp_path


async def test_a_toml_workflow_runs_its_referenced_functions(stages_module: Path) -> None:
    path = stages_module / "wf.toml"
    path.write_text(
        '[workflow]\nname = "t"\nstrategy = "sequential"\ntimeout = "1m"\n'
        '[[stages]]\nname = "fetch"\nrun = "toml_stages:fetch"\nretry = { attempts = 2, delay = "10ms" }\n'
        '[[stages]]\nname = "summarize"\nrun = "toml_stages:summarize"\nneeds = ["fetch"]\n'
        'cache = { ttl = "1h" }\n'
    )
    wf = load_toml(path)
    assert wf.timeout == 60
    assert wf.stages["fetch"].retry == podium.Retry(attempts=2, delay=0.01)
    assert wf.stages["summarize"].cache == podium.CachePolicy(ttl=3600)
    async with podium.Engine(config=podium.Config()) as engine:
        result = await engine.run(wf, {"url": "x"})
    assert result["summarize"].value == "PAGE X"


def test_every_bad_reference_is_reported_with_its_path(stages_module: Path) -> None:
    path = stages_module / "wf.toml"
    path.write_text(
        '[workflow]\nname = "t"\n'
        '[[stages]]\nname = "a"\nrun = "toml_stages:nope"\n'
        '[[stages]]\nname = "b"\nrun = "no_such_module_x:f"\n'
        '[[stages]]\nname = "c"\nrun = "not-a-reference"\n'
    )
    with pytest.raises(DefinitionError) as info:
        load_toml(path)
    message = str(info.value)
    assert "has no attribute 'nope' @ stages[0].run" in message
    assert "cannot import module 'no_such_module_x'" in message and "@ stages[1].run" in message
    assert "expected 'module:function', got 'not-a-reference' @ stages[2].run" in message


def test_invalid_toml_syntax_is_a_definition_error(tmp_path: Path) -> None:
    path = tmp_path / "wf.toml"
    path.write_text("[workflow\n")
    with pytest.raises(DefinitionError, match="not valid TOML"):
        load_toml(path)


def test_a_py_file_with_several_workflows_needs_a_name(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text("import podium\na = podium.Workflow('a')\nb = podium.Workflow('b')\n")
    with pytest.raises(DefinitionError, match=r"several workflows \(a, b\); name one as .*two.py:NAME"):
        load_target(str(path))
    assert load_target(f"{path}:b").workflow.name == "b"


def test_hook_implementations_beside_a_workflow_become_plugins(tmp_path: Path) -> None:
    path = tmp_path / "with_hooks.py"
    path.write_text(
        "import podium\nwf = podium.Workflow('w')\n@podium.hookimpl\n"
        "def podium_register_agents(register): ...\n"
    )
    target = load_target(str(path))
    assert len(target.plugins) == 1


def test_an_unknown_target_form_is_explained() -> None:
    with pytest.raises(DefinitionError, match=r"give a .py file, a .toml file or module:attribute"):
        load_target("workflow")
