"""Importing a user's code: a module that fails to import is a :class:`DefinitionError`
naming the file and line, the error's type and message — never a traceback.

Used for workflow files (``file.py``), ``module:attribute`` targets, and the modules a
TOML workflow names.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import sysconfig
import traceback
from pathlib import Path
from types import ModuleType

from podium.foundation.errors import DefinitionError, PodiumError

_PODIUM_DIR = str(Path(__file__).resolve().parents[1])
#: Where the standard library and installed packages live: not the user's own lines.
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")})


def import_file(path: Path, module_name: str) -> ModuleType:
    """Execute the Python file ``path`` as the module ``module_name``."""
    if not path.is_file():
        raise DefinitionError(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise DefinitionError(import_failure(exc, f"the workflow file {display(path)}", path)) from None
    return module


def import_module(name: str) -> ModuleType:
    """Import the module ``name``; a failure is a :class:`DefinitionError` saying where and why."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise DefinitionError(f"cannot import module {name!r}: {exc}") from None
        raise DefinitionError(import_failure(exc, f"module {name!r}")) from None
    except Exception as exc:
        raise DefinitionError(import_failure(exc, f"module {name!r}")) from None


def import_failure(exc: BaseException, importing: str, origin: Path | None = None) -> str:
    """``file:line: Type: message (while importing ...)`` for an error raised by an import.

    When the line is in another file than ``origin`` (the file being imported), the line
    of ``origin`` that led there is named too.
    """
    if isinstance(exc, SyntaxError) and not isinstance(exc, PodiumError):
        where = f"{display(exc.filename or '?')}:{exc.lineno or '?'}: "
        return f"{where}{type(exc).__name__}: {exc.msg} (while importing {importing})"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen") and not frame.filename.startswith(_PODIUM_DIR)
    ]
    # Point at the user's own line: the deepest frame outside the libraries, else any.
    own = [f for f in frames if not f.filename.startswith(_LIBRARY_DIRS)] or frames
    where = f"{display(own[-1].filename)}:{own[-1].lineno}: " if own else ""
    what = str(exc) if isinstance(exc, PodiumError) else _error_text(exc)
    if origin is not None and own:
        mine = [f for f in frames if Path(f.filename).resolve() == origin.resolve()]
        if mine and mine[-1] is not own[-1]:
            importing = f"{importing}, at line {mine[-1].lineno}"
    return f"{where}{what} (while importing {importing})"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def display(filename: str | os.PathLike[str]) -> str:
    """A file name for people: relative to the working directory when it is below it."""
    name = os.fspath(filename)
    try:
        relative = os.path.relpath(name)
    except ValueError:  # another drive on Windows
        return name
    return name if relative.startswith("..") else relative
