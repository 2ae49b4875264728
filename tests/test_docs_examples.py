"""Every Python example in the documentation runs, so the docs cannot drift from the code."""

from __future__ import annotations

import asyncio
import inspect
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.contract.plugins import create_plugin_manager
from podium.testing import HookRecorder

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def examples() -> list[Any]:
    """Every ```python block of the README and the documentation, exactly as written."""
    found = []
    for path in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for number, match in enumerate(BLOCK.finditer(path.read_text()), start=1):
            found.append(pytest.param(match.group(1), id=f"{path.relative_to(REPO)}#{number}"))
    return found


def fixtures_for_doc_tests() -> dict[str, Any]:
    """What podium.testing's fixtures provide, for test functions shown in the docs."""
    pm = create_plugin_manager()
    return {
        "podium_plugin_manager": pm,
        "podium_hook_recorder": HookRecorder(pm),
        "podium_engine": lambda **kw: podium.Engine(
            config=podium.Config(), plugin_manager=pm, cache_url="memory://", **kw
        ),
    }


@pytest.mark.parametrize("source", examples())
def test_documentation_example_runs(source: str, tmp_path: Path) -> None:
    # Run from a real file, as a reader would: stage versions hash the functions' source.
    script = tmp_path / "docs_example.py"
    script.write_text(source)
    namespace = runpy.run_path(str(script), run_name="docs_example")
    for name, value in list(namespace.items()):
        if not name.startswith("test_") or not callable(value):
            continue
        if inspect.iscoroutinefunction(value):
            fixtures = fixtures_for_doc_tests()
            wanted = {p: fixtures[p] for p in inspect.signature(value).parameters}
            asyncio.run(value(**wanted))
        else:
            value()  # e.g. a hypothesis test, which supplies its own arguments


def test_there_are_documentation_examples() -> None:
    assert len(examples()) >= 5


def test_the_readme_tour_is_among_the_examples() -> None:
    assert any(param.id == "README.md#1" and "ctx.agent" in param.values[0] for param in examples())
