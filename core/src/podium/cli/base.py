"""What every command shares: exit codes, error handling, workflow inputs, configuration."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

import click

from podium.definition.config import Config
from podium.foundation.errors import PodiumError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def errors_exit_2(fn: F) -> F:
    """Turn Podium's own errors into a message on stderr and exit code 2, and a Ctrl-C
    outside a run (while a workflow file imports, say) into exit code 130."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PodiumError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("podium: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def parse_inputs(pairs: Sequence[str]) -> dict[str, Any]:
    """Workflow inputs from ``NAME=VALUE`` pairs; a VALUE that parses as JSON is decoded."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--input")
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[key] = raw
    return inputs


def load_config(ctx: click.Context, **overrides: Any) -> Config:
    """The configuration for a command: the global --config file and --log-level, then its
    own flags (checked like every other setting)."""
    overrides.setdefault("log_level", ctx.obj.get("log_level"))
    return Config.load(file=ctx.obj.get("config_file"), overrides=overrides)


#: ``-i NAME=VALUE``, shared by the commands that take workflow inputs.
input_option = click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A workflow input (VALUE parsed as JSON when it parses). Repeatable.",
)


def check_writable(path: str) -> None:
    """Exit 2 with a message now if ``path`` could not be written later (no such folder, ...)."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    problem = None
    if os.path.isdir(target):
        problem = "it is a directory"
    elif not os.path.isdir(folder):
        problem = f"no such directory {folder}"
    elif not os.access(folder, os.W_OK) or (os.path.exists(target) and not os.access(target, os.W_OK)):
        problem = "permission denied"
    if problem is not None:
        click.echo(f"error: cannot write {path}: {problem}", err=True)
        sys.exit(EXIT_USAGE)


def write_file(path: str, text: str) -> None:
    """Write a command's output file; a path that cannot be written is a usage error (exit 2)."""
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        click.echo(f"error: cannot write {path}: {error.strerror or error}", err=True)
        sys.exit(EXIT_USAGE)
