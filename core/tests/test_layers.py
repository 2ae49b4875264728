"""The kernel's layers stay visible and one-way: a module imports only its own layer or below.

The layer of a module is the folder it lives in (docs/concepts.md, "How the kernel is
built"). Imports are read from the source with ``ast``, so a function-level import counts
as much as one at the top; only imports under ``if TYPE_CHECKING:`` are type-only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "podium"

#: Layers, lowest first. A module's layer is the first folder under ``podium/``; the
#: modules directly in ``podium/`` (the public API and the faces beside it) are the top.
LAYERS = ("foundation", "values", "definition", "contract", "running", "engine", "faces")
FOLDERS = {
    "foundation": "foundation",
    "values": "values",
    "definition": "definition",
    "contract": "contract",
    "running": "running",
    "engine": "engine",
    # Cache backends and run stores sit beside the engine: reached only from the built-ins and the CLI.
    "backends": "engine",
    "stores": "engine",
    "cli": "faces",
    "testing": "faces",
    # Run reports and the dashboard: faces like the command line.
    "report": "faces",
    "ui": "faces",
}
#: Who may import the backends and stores folders at run time.
BACKEND_USERS = ("podium.backends", "podium.engine.defaults", "podium.cli")
STORE_USERS = ("podium.stores", "podium.engine.defaults", "podium.cli")
#: Modules whose type-only references may point upward (as pytest's hookspec module does).
TYPE_ONLY_UPWARD = ("podium.running", "podium.contract.hookspecs")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in FOLDERS:
        return "faces"
    return FOLDERS[parts[1]]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(node: ast.ImportFrom | ast.Import) -> list[str]:
    """The podium modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "podium"]
    if node.module is None or node.module.split(".")[0] != "podium":
        return []
    found = []
    for alias in node.names:
        candidate = f"{node.module}.{alias.name}"
        path = SRC.joinpath(*candidate.split("."))
        found.append(candidate if path.with_suffix(".py").is_file() or path.is_dir() else node.module)
    return found


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported podium module, line, type-only) for every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend((module, node.lineno, type_only) for module in dict.fromkeys(_resolve(node)))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(tree, False)
    return found


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        rank = LAYERS.index(layer_of(source))
        for target, line, type_only in imports(path):
            where = f"{path.relative_to(SRC)}:{line}: {source} imports {target}"
            if (
                target.startswith("podium.backends")
                and not type_only
                and not source.startswith(BACKEND_USERS)
            ):
                problems.append(f"{where} (backends are reached only from the built-ins and the CLI)")
                continue
            if target.startswith("podium.stores") and not type_only and not source.startswith(STORE_USERS):
                problems.append(f"{where} (run stores are reached only from the built-ins and the CLI)")
                continue
            target_rank = LAYERS.index(layer_of(target))
            if target_rank <= rank:
                continue
            if type_only and source.startswith(TYPE_ONLY_UPWARD):
                continue
            kind = "a type-only reference" if type_only else "an import"
            problems.append(f"{where} ({kind} from {layer_of(source)} up to {layer_of(target)})")
    return problems


def test_every_module_imports_only_its_own_layer_or_below() -> None:
    problems = violations()
    assert not problems, "imports that go up a layer:\n" + "\n".join(problems)


def test_every_kernel_module_belongs_to_a_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders <= set(FOLDERS), f"folders without a layer: {sorted(folders - set(FOLDERS))}"


@pytest.mark.parametrize(
    ("source", "statement"),
    [
        ("values/fake.py", "from podium.running.scheduler import RunState"),
        ("values/fake.py", "def f():\n    from podium.engine.engine import Engine"),
        ("running/fake.py", "from podium.backends.urls import open_backend"),
        ("engine/fake.py", "from podium.stores.sqlite import SQLiteRunStore"),
        (
            "definition/fake.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from podium.engine import engine",
        ),
    ],
)
def test_the_scan_catches_an_upward_import(
    tmp_path: Path, source: str, statement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_src = tmp_path / "src"
    target = fake_src / "podium" / source
    target.parent.mkdir(parents=True)
    target.write_text(statement + "\n")
    for folder in ("running", "engine", "backends", "stores"):
        (fake_src / "podium" / folder).mkdir(exist_ok=True)
    (fake_src / "podium" / "engine" / "engine.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake_src)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake_src / "podium")
    assert violations()
