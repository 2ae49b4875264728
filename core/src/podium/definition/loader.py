"""Finding workflows: in a ``.py`` file, at ``module:attribute``, or declared in a TOML file.

A TOML workflow names its stage functions as ``module:function``; the file is checked
entirely (structure, then every reference) and every error is reported with its path
before anything runs::

    [workflow]
    name = "feature"
    strategy = "sequential"
    timeout = "2m"
    budget = { tokens = 200000, cost_usd = 2.0 }

    [[stages]]
    name = "spec"
    run = "feature_pipeline:spec"
    timeout = "30s"
    retry = { attempts = 3, delay = 0.5 }
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any, TypeVar, cast

import attrs

from podium.definition.converter import Duration, make_config_converter, structure
from podium.definition.importing import import_file, import_module
from podium.definition.workflow import Workflow
from podium.foundation.errors import ConfigError, DefinitionError, DefinitionErrors
from podium.values.model import Budget, CachePolicy, Retry

T = TypeVar("T")
_MISSING: Any = object()


@attrs.define
class RetrySpec:
    attempts: int = 3
    delay: Duration = 0.5
    backoff: float = 2.0
    max_delay: Duration = 30.0
    jitter: bool = True


@attrs.define
class CacheSpec:
    ttl: Duration | None = None
    version: str | None = None
    namespace: str = ""
    read: bool = True
    write: bool = True
    refresh: bool = False


@attrs.define
class BudgetSpec:
    tokens: int | None = None
    cost_usd: float | None = None
    duration_s: Duration | None = None


#: A TOML route: a ``module:function`` reference, or a table from value to stage.
TomlRoute = str | dict[str, str] | None


@attrs.define
class StageSpec:
    """One ``[[stages]]`` table: ``run`` names the function, every other key is a stage
    option (:class:`podium.StageOptions`), references given as ``module:function``."""

    run: str
    name: str | None = None
    description: str | None = None
    needs: list[str] = attrs.field(factory=list)
    needs_any: list[str] = attrs.field(factory=list)
    map: str | None = None
    partial: bool | None = None
    timeout: Duration | None = None
    retry: RetrySpec | None = None
    cache: CacheSpec | bool | None = None
    route: TomlRoute = None
    on_error: str | None = None
    fallback: Any = None
    version: str | None = None
    executor: str | None = None
    executor_options: dict[str, Any] | None = None
    estimate: Duration | None = None
    max_visits: int | None = None
    agents: list[str] | None = None


@attrs.define
class WorkflowSpec:
    name: str
    strategy: str | None = None
    max_concurrency: int | None = None
    timeout: Duration | None = None
    fail_fast: bool = False
    inputs: list[str] | None = None
    defaults: dict[str, Any] = attrs.field(factory=dict)
    description: str = ""
    budget: BudgetSpec | None = None
    executor: str | None = None
    plugins: list[str] = attrs.field(factory=list)


@attrs.define
class WorkflowFile:
    workflow: WorkflowSpec
    stages: list[StageSpec]


@attrs.frozen
class Target:
    """A loaded workflow and the modules beside it that implement hooks (registered as plugins).

    Like a ``conftest.py``, a workflow file may implement ``podium_*`` hooks, e.g. to
    register the agents its stages use.
    """

    workflow: Workflow
    plugins: tuple[Any, ...] = ()


def _hook_modules(*modules: Any) -> tuple[Any, ...]:
    return tuple(m for m in modules if any(name.startswith("podium_") for name in vars(m)))


def load_target(target: str) -> Target:
    """The workflow named by ``target``: ``file.py[:NAME]``, ``file.toml`` or ``module:NAME``.

    ``NAME`` is the module attribute holding the workflow (``wf`` in ``wf = Workflow(...)``),
    not the workflow's name; without it, a file's one workflow is taken. The workflow's
    ``source`` is set to the target, with files made absolute, so that it can be loaded
    again from anywhere (``podium resume``).
    """
    loaded = _load_target(target)
    path_part, colon, attribute = target.partition(":")
    if path_part.endswith((".py", ".toml")):
        target = f"{Path(path_part).resolve()}{colon}{attribute}"
    loaded.workflow.source = target
    return loaded


def _load_target(target: str) -> Target:
    if target.endswith(".toml"):
        workflow, modules = _load_toml(target)
        return Target(workflow, _hook_modules(*modules))
    path_part, _, attribute = target.partition(":")
    if path_part.endswith(".py"):
        module = _import_file(Path(path_part))
        return Target(_pick_workflow(module.__dict__, attribute or None, path_part), _hook_modules(module))
    if attribute:
        module = import_module(path_part)
        return Target(_pick_workflow(module.__dict__, attribute, path_part), _hook_modules(module))
    raise DefinitionError(
        f"{target!r} is not a workflow target: give a .py file, a .toml file or module:attribute"
    )


def _import_file(path: Path) -> Any:
    if path.is_file():
        directory = str(path.resolve().parent)
        if directory not in sys.path:
            # Stage functions referenced by module name must import from beside the file.
            sys.path.insert(0, directory)
    return import_file(path, f"podium_target_{path.stem}")


def _pick_workflow(namespace: dict[str, Any], attribute: str | None, where: str) -> Workflow:
    found = {name: value for name, value in namespace.items() if isinstance(value, Workflow)}
    listing = ", ".join(f"{name} (workflow {value.name!r})" for name, value in sorted(found.items()))
    if attribute:
        value = namespace.get(attribute, _MISSING)
        if isinstance(value, Workflow):
            return value
        what = (
            f"{where} has no attribute {attribute!r}"
            if value is _MISSING
            else f"{where}:{attribute} is a {type(value).__name__}, not a podium.Workflow"
        )
        by_name = [name for name, wf in found.items() if wf.name == attribute]
        hint = f"; did you mean {where}:{by_name[0]}?" if by_name else ""
        raise DefinitionError(
            f"{what}: in {where}:NAME, NAME is the variable holding the workflow, not "
            f"the workflow's name{hint} (workflows in {where}: {listing or 'none'})"
        )
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise DefinitionError(f"{where}: defines no podium.Workflow")
    raise DefinitionError(
        f"{where}: defines several workflows ({', '.join(sorted(found))}); name one as {where}:NAME"
    )


def load_toml(path: str | Path) -> Workflow:
    """Build a workflow from a TOML file; every error is reported at once with its path."""
    return _load_toml(path)[0]


def _load_toml(path: str | Path) -> tuple[Workflow, list[Any]]:
    path = Path(path)
    if not path.is_file():
        raise DefinitionError(f"{path}: no such file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        converter = make_config_converter()
        converter.register_structure_hook_func(lambda t: t == TomlRoute, _structure_route)
        spec: WorkflowFile = structure(converter, data, WorkflowFile, "", str(path), "workflow file")
    except ConfigError as exc:
        raise DefinitionError(str(exc)) from None
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    errors: list[str] = []
    workflow, positions, dropped = _build(spec, errors)
    # Everything the workflow can be checked for is listed with the rest, at once; an
    # unknown name that is a stage dropped for its own error is not a second error.
    for problem in workflow.problems():
        if problem.unknown not in dropped and (problem.stage or not dropped):
            where = (
                f"stages[{positions[problem.stage]}].{problem.option}"
                if problem.stage in positions
                else "stages"
            )
            errors.append(f"{problem.message} @ {where}")
    modules = []
    for n, name in enumerate(spec.workflow.plugins):
        try:
            modules.append(import_module(name))
        except DefinitionError as exc:
            errors.append(f"{exc} @ workflow.plugins[{n}]")
    if errors:
        raise DefinitionErrors(errors, source=str(path))
    workflow.plan()  # a cycle: found once everything else is right
    return workflow, modules


def _build(spec: WorkflowFile, errors: list[str]) -> tuple[Workflow, dict[str, int], set[str]]:
    """The workflow of ``spec`` with every stage that could be built; the position of each
    stage's table by name, and the names of the stages left out for their errors."""
    w = spec.workflow
    budget = _policy(Budget, w.budget, "workflow.budget", errors) if w.budget else None
    try:
        workflow = Workflow(
            w.name,
            strategy=w.strategy,
            max_concurrency=w.max_concurrency,
            budget=budget,
            timeout=w.timeout,
            fail_fast=w.fail_fast,
            inputs=w.inputs,
            description=w.description,
            executor=w.executor,
        )
    except DefinitionError as exc:  # the stages are still checked, in a workflow without limits
        errors.append(f"{exc} @ workflow" + (f".{exc.option}" if exc.option else ""))
        workflow = Workflow(w.name or "?", inputs=w.inputs, description=w.description)
    if w.defaults:
        workflow.input_defaults.update(w.defaults)
        workflow.inputs = tuple(dict.fromkeys([*(w.inputs or ()), *w.defaults]))
    positions: dict[str, int] = {}
    dropped: set[str] = set()
    for n, stage in enumerate(spec.stages):
        where = f"stages[{n}]"
        name = stage.name or stage.run.rpartition(":")[2].rpartition(".")[2]
        if name in positions:
            errors.append(
                f"duplicate stage name {name!r} (first at stages[{positions[name]}]) @ {where}.name"
            )
            continue
        positions[name] = n
        # Every key but ``run`` is the option of the same name. TOML has no None, so a
        # key left out is None here and means "not given" (for ``fallback`` too).
        options: dict[str, Any] = {
            key: value for key, value in attrs.asdict(stage, recurse=False).items() if value is not None
        }
        references = {"run": stage.run, "on_error": stage.on_error}
        if isinstance(stage.route, str):
            references["route"] = stage.route
        resolved = {
            key: _resolve(reference, f"{where}.{key}", errors)
            for key, reference in references.items()
            if reference is not None
        }
        if any(value is None for value in resolved.values()):
            dropped.add(name)  # the reference's error is listed
            continue
        options.update(resolved)
        fn = options.pop("run")
        # A bad policy is reported at its own key; the other options are still checked.
        if isinstance(stage.retry, RetrySpec):
            options["retry"] = _policy(Retry, stage.retry, f"{where}.retry", errors)
        if isinstance(stage.cache, CacheSpec):
            options["cache"] = _policy(CachePolicy, stage.cache, f"{where}.cache", errors)
        try:
            added = workflow.add_stage(fn, **options)
        except DefinitionError as exc:
            errors.append(f"{exc} @ {where}" + (f".{exc.option}" if exc.option else ""))
            dropped.add(name)
        else:
            positions.setdefault(added.name, n)  # a function whose __name__ is not its attribute's
    return workflow, positions, dropped


def _policy(cls: type[T], table: attrs.AttrsInstance, where: str, errors: list[str]) -> T | None:
    """``cls`` (an attrs class) built from a TOML table; each bad field is listed at its own key."""
    values = attrs.asdict(table)
    bad = False
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cast(Any, cls))
    for field in fields:
        if field.validator is not None and field.name in values:
            try:
                field.validator(None, field, values[field.name])
            except DefinitionError as exc:
                errors.append(f"{exc} @ {where}.{field.name}")
                bad = True
    if bad:
        return None
    try:
        return cls(**values)
    except DefinitionError as exc:
        errors.append(f"{exc} @ {where}")
        return None


def _structure_route(value: Any, _: Any) -> TomlRoute:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise ValueError(f"expected 'module:function' or a table of value = \"stage\", got {value!r}")


def _resolve(reference: str | None, where: str, errors: list[str]) -> Any:
    if reference is None:
        return None
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        errors.append(f"expected 'module:function', got {reference!r} @ {where}")
        return None
    try:
        module = import_module(module_name)
    except DefinitionError as exc:
        errors.append(f"{exc} @ {where}")
        return None
    value = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            errors.append(f"module {module_name!r} has no attribute {attribute!r} @ {where}")
            return None
        value = getattr(value, part)
    if not callable(value):
        errors.append(f"{reference!r} is not callable @ {where}")
        return None
    return value
