"""The public boundary is visible and kept: ``podium.__all__`` plus the public submodules that
``podium/__init__.py`` lists, documented on the API page, the only names plugins import,
and the home of every exception the kernel raises.

Expectations are derived from the code (``__all__``, the docstring, the source), so the
tests keep passing as names change and fail only when the boundary leaks.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import podium
from podium.foundation import errors

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "core" / "src"
API_PAGE = REPO / "docs" / "reference" / "api.md"
PLUGIN_SOURCES = sorted([*REPO.glob("plugins/*/src"), *REPO.glob("docs/examples/*/src")])
ERRORS_MODULE = errors.__name__

#: The public submodules, as podium/__init__.py's docstring lists them.
PUBLIC_SUBMODULES = tuple(re.findall(r"^- ``(podium\.[\w.]+)``:", podium.__doc__ or "", re.M))


def test_the_public_submodules_are_listed_and_importable() -> None:
    assert PUBLIC_SUBMODULES, "list the public submodules in podium/__init__.py's docstring"
    for name in PUBLIC_SUBMODULES:
        importlib.import_module(name)


# ----------------------------------------------------------------- (a) the API page


def test_the_api_page_documents_exactly_all() -> None:
    documented = re.findall(r"^::: podium\.(\w+)\s*$", API_PAGE.read_text(), re.M)
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert sorted(set(podium.__all__) - set(documented)) == [], "add these to docs/reference/api.md"
    assert sorted(set(documented) - set(podium.__all__)) == [], "not in podium.__all__"


def test_the_api_page_names_the_public_submodules() -> None:
    text = API_PAGE.read_text()
    assert [name for name in PUBLIC_SUBMODULES if f"`{name}`" not in text] == []


def test_every_name_in_all_exists() -> None:
    assert [name for name in podium.__all__ if not hasattr(podium, name)] == []


# ----------------------------------------------------------------- (b) plugins import the public API


def _allowed(module: str, name: str | None) -> bool:
    """Whether plugins may use ``name`` from ``module`` (``name=None``: the module itself)."""
    if module == "podium":
        return name is None or name in podium.__all__ or f"podium.{name}" in PUBLIC_SUBMODULES
    if module not in PUBLIC_SUBMODULES:
        return False
    exported = getattr(importlib.import_module(module), "__all__", None)
    return name is None or (not name.startswith("_") and (exported is None or name in exported))


def _dotted(node: ast.expr) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def private_uses(path: Path) -> list[str]:
    """Every use of a non-public kernel name in ``path``: imports and ``podium.x.y`` chains."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> the podium module it is bound to

    def check(module: str, name: str | None, line: int) -> None:
        if not _allowed(module, name):
            found.append(f"{path.relative_to(REPO)}:{line}: {module}{'.' + name if name else ''}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "podium":
                    check(alias.name, None, node.lineno)
                    aliases[alias.asname or "podium"] = alias.name if alias.asname else "podium"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "podium":
            for alias in node.names:
                check(node.module, alias.name, node.lineno)
                if f"{node.module}.{alias.name}" in PUBLIC_SUBMODULES:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if chain and chain[0] in aliases:
                module = aliases[chain[0]]
                rest = chain[1:]
                # podium.testing.X: the submodule, then the name in it.
                if module == "podium" and rest and f"podium.{rest[0]}" in PUBLIC_SUBMODULES:
                    module, rest = f"podium.{rest[0]}", rest[1:]
                if rest:
                    check(module, rest[0], node.lineno)
    return sorted(set(found))


def _plugin_files() -> Iterator[Path]:
    for src in PLUGIN_SOURCES:
        yield from sorted(src.rglob("*.py"))


def test_there_are_plugins_to_scan() -> None:
    assert len(list(_plugin_files())) > 10


def test_plugins_import_only_the_public_api() -> None:
    problems = [use for path in _plugin_files() for use in private_uses(path)]
    assert problems == [], "plugins use names outside podium's public API:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "statement",
    [
        "from podium.values.docs import DocSource",
        "from podium import values",
        "import podium.running.scheduler",
        "import podium\nx = podium.values.docs.DocSource",
        "import podium\nx = podium.testing._listener",
        "from podium import NotAPublicName",
    ],
)
def test_the_scan_catches_a_private_use(
    tmp_path: Path, statement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    path = tmp_path / "plugin.py"
    path.write_text(statement + "\n")
    assert private_uses(path)


def test_the_scan_allows_the_public_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    path = tmp_path / "plugin.py"
    public = podium.__all__[0]
    path.write_text(
        f"import podium\nfrom podium import {public}\nfrom podium import testing\nx = podium.{public}\n"
        "from podium.testing import HookRecorder\ny = podium.testing.HookRecorder\n"
    )
    assert private_uses(path) == []


# ----------------------------------------------------------------- (c) exceptions


def kernel_modules() -> list[ModuleType]:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(podium.__path__, prefix="podium.")
        if info.name != "podium.__main__"
    ]


def _in_public_submodule(cls: type) -> bool:
    # A public submodule's own exceptions are its API (e.g. strategy_checks' by-design failure).
    return cls.__module__ in PUBLIC_SUBMODULES and cls.__name__ in vars(sys.modules[cls.__module__])


def kernel_exceptions() -> set[type[BaseException]]:
    return {
        value
        for module in kernel_modules()
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__.split(".")[0] == "podium"
    }


def _raised_expressions(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            yield node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "set_exception"
            and node.args
            and isinstance(node.args[0], ast.Call)
        ):
            yield node.args[0].func  # an exception delivered to a future's awaiters


def raised_exceptions() -> dict[type[BaseException], str]:
    """Every exception class ``raise``d in core/src that resolves at module level, with one place."""
    found: dict[type[BaseException], str] = {}
    for path in sorted((SRC / "podium").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] == "__main__":
            continue
        module: Any = importlib.import_module(".".join(parts))
        for expression in _raised_expressions(ast.parse(path.read_text())):
            chain = _dotted(expression)
            value: Any = module
            for part in chain or ["<expression>"]:
                value = getattr(value, part, getattr(builtins, part, None) if value is module else None)
            if isinstance(value, type) and issubclass(value, BaseException):
                found.setdefault(value, f"{path.relative_to(REPO)}:{expression.lineno}")
    return found


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _exported(cls: type) -> bool:
    return cls.__name__ in podium.__all__ and getattr(podium, cls.__name__) is cls


def test_every_kernel_exception_is_defined_in_the_errors_module() -> None:
    misplaced = sorted(
        _qualified(cls)
        for cls in kernel_exceptions()
        if cls.__module__ != ERRORS_MODULE and not _in_public_submodule(cls)
    )
    assert misplaced == [], f"move these into {ERRORS_MODULE}"


def test_every_exception_in_the_errors_module_is_exported() -> None:
    defined = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and value.__module__ == ERRORS_MODULE
    ]
    assert defined
    assert [cls.__name__ for cls in defined if not _exported(cls)] == []


def test_every_exception_the_kernel_raises_is_exported() -> None:
    raised = raised_exceptions()
    assert len([cls for cls in raised if cls.__module__.startswith("podium")]) >= 5, "the scan finds raises"
    unexported = sorted(
        f"{_qualified(cls)} (raised at {where})"
        for cls, where in raised.items()
        if cls.__module__.split(".")[0] == "podium" and not _exported(cls) and not _in_public_submodule(cls)
    )
    assert unexported == [], "export these from podium:\n" + "\n".join(unexported)


def test_the_raise_scan_finds_raises_and_exceptions_handed_to_futures() -> None:
    tree = ast.parse(
        "raise PluginError('x')\nraise errors.ConfigError\nfuture.set_exception(KeyError('k'))\nraise exc\n"
    )
    names = sorted(ast.unparse(expression) for expression in _raised_expressions(tree))
    assert names == ["KeyError", "PluginError", "errors.ConfigError", "exc"]
