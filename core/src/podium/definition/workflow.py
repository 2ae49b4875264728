"""The definition API: :class:`Workflow`, its stages, and their validation."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, Unpack, overload

import attrs

from podium.definition.options import NOTSET, RouteSpec, StageOptions, resolve_options, stage_names
from podium.definition.plan import Plan, Problem, build_plan, dependency_errors, mapping_errors
from podium.foundation.errors import DefinitionError, DefinitionErrors, suggest
from podium.values.model import Budget, CachePolicy, Retry

#: Parameter names through which a stage body receives its :class:`podium.Context`.
CONTEXT_PARAMETERS = frozenset({"ctx", "context"})

#: Fields of :class:`Stage` that no option sets: they are read from the function and the
#: workflow. Every other field is an option of :class:`~podium.StageOptions`.
DERIVED_FIELDS = ("fn", "index", "context_parameter", "parameters", "var_keyword", "is_async")

F = TypeVar("F", bound=Callable[..., Any])


@attrs.define(eq=False, repr=False)
class Stage:
    """One step of a workflow: an async (or plain) function and how it is run.

    Built by :meth:`Workflow.stage` (or :meth:`Workflow.add_stage`), which take one
    keyword per option field; the fields are read by strategies and plugins.
    """

    name: str
    fn: Callable[..., Any]
    description: str = ""
    needs: tuple[str, ...] = ()
    needs_any: tuple[str, ...] = ()
    map: str | None = None
    partial: bool = False
    timeout: float | None = None
    retry: Retry | None = None
    cache: CachePolicy | None = None
    route: RouteSpec | None = None
    on_error: Callable[[BaseException], Any] | None = None
    fallback: Any = NOTSET
    version: str | None = None
    #: ``None``: the run's default (see :func:`podium.running.stage_path.executor_of`).
    executor: str | None = None
    executor_options: Mapping[str, Any] = attrs.field(factory=dict)
    estimate: float | None = None
    max_visits: int = 1
    #: The agents it declares (``None``: those its source names, see ``podium.definition.agent_names``).
    agents: tuple[str, ...] | None = None
    #: Position in declaration order; ties in scheduling are broken by it.
    index: int = -1
    #: Name of the parameter receiving the Context, if the body takes one.
    context_parameter: str | None = None
    #: Parameters filled from workflow inputs or upstream results, with their defaults.
    parameters: dict[str, Any] = attrs.field(factory=dict)
    #: Name of the ``**parameter`` receiving the upstream values no named parameter takes.
    var_keyword: str | None = None
    #: Whether ``fn`` is a coroutine function (else it runs on the ``thread`` executor).
    is_async: bool = True

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.needs + self.needs_any

    @property
    def has_fallback(self) -> bool:
        return self.fallback is not NOTSET or self.on_error is not None

    @property
    def route_targets(self) -> frozenset[str] | None:
        """The targets a mapping route can name, known at definition time; else ``None``."""
        if isinstance(self.route, Mapping):
            targets: set[str] = set()
            for target in self.route.values():
                targets.update(stage_names(target, "route", self.name))
            return frozenset(targets)
        return None

    def __repr__(self) -> str:
        mapped = f" map={self.map!r}" if self.map is not None else ""
        return f"<Stage {self.name!r} needs={list(self.dependencies)}{mapped}>"


def _inspect_parameters(
    stage_name: str, fn: Callable[..., Any]
) -> tuple[str | None, dict[str, Any], str | None]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"stage {stage_name!r}: cannot read the signature of {fn!r}") from exc
    context_parameter = var_keyword = None
    parameters: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            var_keyword = parameter.name  # receives every upstream value not named
            continue
        if parameter.kind is parameter.VAR_POSITIONAL:
            raise DefinitionError(
                f"stage {stage_name!r}: parameter *{parameter.name} is not supported; stage "
                f"arguments are passed by name (**{parameter.name} receives the upstream values)"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise DefinitionError(
                f"stage {stage_name!r}: positional-only parameter {parameter.name!r}; "
                "stage arguments are passed by name"
            )
        annotation = parameter.annotation
        is_context = (
            parameter.name in CONTEXT_PARAMETERS
            or (isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "Context")
            or getattr(annotation, "__name__", None) == "Context"
        )
        if is_context and context_parameter is None:
            context_parameter = parameter.name
            continue
        parameters[parameter.name] = NOTSET if parameter.default is parameter.empty else parameter.default
    return context_parameter, parameters, var_keyword


def has_default(value: Any) -> bool:
    return value is not NOTSET


class Workflow:
    """A named set of stages with dependencies, run by a strategy plugin.

    :param name: Identifies the workflow in results, cache keys, metrics and the run store.
    :param strategy: Name of a registered strategy (``sequential``, ``parallel``,
        ``conditional``, ...); ``None`` takes the configured default.
    :param max_concurrency: At most this many stages run at once (``None``: no limit).
    :param budget: Soft limits on tokens, cost and wall time.
    :param timeout: Hard limit in seconds on the whole run; running stages are cancelled.
    :param fail_fast: On the first failure, cancel running stages and start no others.
    :param inputs: The inputs the workflow expects, checked before a run starts: names, or
        a mapping of names to default values (used when a run does not give them).
    :param executor: Where the bodies of stages that name no ``executor=`` run (``None``:
        the configured ``executor``, else ``inline`` for ``async def``, ``thread`` otherwise).
    """

    def __init__(
        self,
        name: str,
        *,
        strategy: str | None = None,
        max_concurrency: int | None = None,
        budget: Budget | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        inputs: Iterable[str] | Mapping[str, Any] | None = None,
        description: str = "",
        executor: str | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise DefinitionError(f"a workflow needs a non-empty name, got {name!r}")
        if executor is not None and (not isinstance(executor, str) or not executor):
            raise DefinitionError(
                f"workflow {name!r}: executor must name an executor, got {executor!r}", option="executor"
            )
        if max_concurrency is not None and max_concurrency < 1:
            raise DefinitionError(
                f"workflow {name!r}: max_concurrency must be >= 1, got {max_concurrency}",
                option="max_concurrency",
            )
        if timeout is not None and timeout <= 0:
            raise DefinitionError(f"workflow {name!r}: timeout must be > 0, got {timeout}", option="timeout")
        self.name = name
        self.strategy = strategy
        self.max_concurrency = max_concurrency
        self.budget = budget
        self.timeout = timeout
        self.fail_fast = fail_fast
        self.inputs = tuple(inputs) if inputs is not None else None
        self.input_defaults: dict[str, Any] = dict(inputs) if isinstance(inputs, Mapping) else {}
        self.description = description
        self.executor = executor
        #: Where the workflow was loaded from (a ``podium run`` TARGET), if it was: the run
        #: store records it, so ``podium resume`` can load the workflow again.
        self.source: str | None = None
        self.stages: dict[str, Stage] = {}
        self._plan: Plan | None = None
        # Input name sets already checked against this plan (a run re-checks nothing).
        self._valid_inputs: set[frozenset[str]] = set()

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} stages={list(self.stages)} strategy={self.strategy!r}>"

    @overload
    def stage(self, fn: F, /) -> F: ...

    @overload
    def stage(self, /, **options: Unpack[StageOptions]) -> Callable[[F], F]: ...

    def stage(self, fn: F | None = None, /, **options: Unpack[StageOptions]) -> F | Callable[[F], F]:
        """Declare a stage; usable bare (``@wf.stage``) or with options (``@wf.stage(needs=...)``).

        The options are those of :meth:`add_stage`. The decorated function is returned
        unchanged, so it stays callable and testable.
        """
        if fn is not None:
            self.add_stage(fn, **options)
            return fn

        def decorate(fn: F) -> F:
            self.add_stage(fn, **options)
            return fn

        return decorate

    def add_stage(self, fn: Callable[..., Any], /, **options: Unpack[StageOptions]) -> Stage:
        """Add a stage running ``fn`` (the decorator and the TOML loader use this).

        :param fn: The stage body: an ``async def`` (or a plain function, run in a thread).
        :param options: Any of the stage options, :class:`podium.StageOptions`.
        """
        fields = resolve_options(fn, options, workflow=self.name)
        name = fields["name"]
        if name in self.stages:
            raise DefinitionError(f"workflow {self.name!r}: duplicate stage name {name!r}")
        context_parameter, parameters, var_keyword = _inspect_parameters(name, fn)
        stage = Stage(
            fn=fn,
            **fields,
            index=len(self.stages),
            context_parameter=context_parameter,
            parameters=parameters,
            var_keyword=var_keyword,
            is_async=inspect.iscoroutinefunction(fn),
        )
        self.stages[name] = stage
        self._plan = None
        self._valid_inputs.clear()
        return stage

    # ----------------------------------------------------------------- validation

    def plan(self) -> Plan:
        """The validated graph; raises :class:`DefinitionErrors` listing every problem."""
        if self._plan is None:
            self._plan = self._build_plan()
        return self._plan

    def validate(self, inputs: Mapping[str, Any] | Iterable[str] | None = None) -> Plan:
        """Check the definition (and, when given, that ``inputs`` cover every parameter)."""
        plan = self.plan()
        available = (
            set(inputs) if inputs is not None else (set(self.inputs) if self.inputs is not None else None)
        )
        if available is not None:
            key = frozenset(available)
            if key not in self._valid_inputs:
                errors = self._parameter_errors(available)
                if errors:
                    raise DefinitionErrors([e.message for e in errors], source=f"workflow {self.name!r}")
                self._valid_inputs.add(key)
        return plan

    def problems(self) -> list[Problem]:
        """Every definition error a plan can be checked for without being built, at once:
        dependencies and routes that name no stage, maps that cannot work, parameters that
        match nothing."""
        stages = list(self.stages.values())
        if not stages:
            return [Problem("", "", "it has no stages")]
        return (
            dependency_errors(stages, self.inputs or ())
            + mapping_errors(stages)
            + self._parameter_errors(None)
        )

    def _build_plan(self) -> Plan:
        source = f"workflow {self.name!r}"
        errors = self.problems()
        if errors:
            raise DefinitionErrors([problem.message for problem in errors], source=source)
        plan = build_plan(list(self.stages.values()))
        if not isinstance(plan, Plan):
            raise DefinitionErrors([f"cycle in needs: {' -> '.join(plan)}"], source=source)
        return plan

    def _parameter_errors(self, inputs: set[str] | None) -> list[Problem]:
        errors = []
        for stage in self.stages.values():
            if stage.map is not None and stage.map not in self.stages:
                continue  # what it maps over is unknown: that one error says it all
            deps = set(stage.dependencies)
            root = self._collection_of(stage)
            if root is not None:
                deps.add(root)  # a per-item step receives its item by the collection's name
            for parameter, default in stage.parameters.items():
                if parameter in deps or has_default(default):
                    continue
                if parameter in self.stages:
                    message = (
                        f"stage {stage.name!r} takes parameter {parameter!r}, the name of a stage it "
                        f"does not depend on: add needs=[{parameter!r}]"
                    )
                elif inputs is not None and parameter not in inputs:
                    known = sorted(inputs | deps)
                    message = (
                        f"stage {stage.name!r} parameter {parameter!r} matches no workflow input or "
                        f"dependency{suggest(parameter, known)} (inputs: {sorted(inputs) or 'none'})"
                    )
                else:
                    continue
                errors.append(Problem(stage.name, "run", message))
        return errors

    def _collection_of(self, stage: Stage) -> str | None:
        """The stage whose value holds the items a mapped stage runs for (through a chain of
        maps), or ``None`` when ``stage`` is not mapped."""
        seen = set()
        while stage.map is not None and stage.map in self.stages and stage.name not in seen:
            seen.add(stage.name)
            stage = self.stages[stage.map]
        return stage.name if seen else None
