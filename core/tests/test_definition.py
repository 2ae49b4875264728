"""Workflow definitions are checked before anything runs, with messages naming the culprit."""

from __future__ import annotations

import functools

import pytest

import podium
from podium.foundation.errors import DefinitionError, DefinitionErrors


async def noop() -> None:
    return None


def test_a_cycle_names_its_stages() -> None:
    wf = podium.Workflow("w")

    @wf.stage(needs=["c"])
    async def a() -> None: ...

    @wf.stage(needs=["a"])
    async def b() -> None: ...

    @wf.stage(needs=["b"])
    async def c() -> None: ...

    with pytest.raises(DefinitionErrors, match=r"cycle in needs: a -> b -> c -> a"):
        wf.plan()


def test_an_unknown_dependency_suggests_the_closest_name() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(noop, name="implement")
    wf.add_stage(noop, name="review", needs=["implment"])
    with pytest.raises(
        DefinitionErrors,
        match=r"stage 'review' needs unknown stage 'implment' \(did you mean 'implement'\?\)",
    ):
        wf.plan()


def test_duplicate_stage_names_are_refused() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(noop, name="a")
    with pytest.raises(DefinitionError, match="duplicate stage name 'a'"):
        wf.add_stage(noop, name="a")


def test_a_parameter_matching_no_input_or_dependency_is_reported_with_a_suggestion() -> None:
    wf = podium.Workflow("w")

    @wf.stage
    async def spec(ticket: str) -> str:
        return ticket

    with pytest.raises(
        DefinitionErrors,
        match=r"parameter 'ticket' matches no workflow input or dependency \(did you mean 'tiket'\?\)",
    ):
        wf.validate({"tiket": "x"})
    wf.validate({"ticket": "x"})


def test_a_parameter_naming_a_stage_without_needs_says_to_add_it() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(noop, name="spec")

    @wf.stage
    async def implement(spec: str) -> str:
        return spec

    with pytest.raises(DefinitionErrors, match=r"add needs=\['spec'\]"):
        wf.plan()


def test_every_error_is_listed_at_once() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(noop, name="a", needs=["x"])
    wf.add_stage(noop, name="b", needs=["y"])
    with pytest.raises(DefinitionErrors) as info:
        wf.plan()
    assert len(info.value.errors) == 2


def test_a_cached_lambda_needs_an_explicit_version() -> None:
    wf = podium.Workflow("w")
    with pytest.raises(DefinitionError, match="pass version="):
        wf.add_stage(lambda: 1, name="l", cache=podium.CachePolicy())
    stage = wf.add_stage(lambda: 1, name="l", cache=podium.CachePolicy(), version="1")
    assert stage.version == "1"


def test_cached_stage_version_defaults_to_a_hash_of_its_source() -> None:
    wf = podium.Workflow("w")
    stage = wf.add_stage(noop, cache=True)
    assert stage.version is not None and len(stage.version) == 16


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be > 0"),
        ({"timeout": "30s"}, "stage 'noop': timeout must be a number of seconds, got '30s'"),
        ({"estimate": -1}, "estimate must be >= 0"),
        ({"max_visits": 0}, "max_visits must be an integer >= 1"),
        ({"retry": 3}, "retry must be a podium.Retry"),
        ({"cache": "yes"}, "cache must be a podium.CachePolicy"),
        ({"route": "ship"}, "route must be a function or a mapping"),
        ({"on_error": "log"}, "on_error must be a function of the error"),
        ({"description": 3}, "description must be a string"),
        ({"need": ["a"]}, r"unknown option 'need' \(did you mean 'needs'\?\); the options are name, "),
    ],
)
def test_bad_stage_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        podium.Workflow("w").add_stage(noop, **kwargs)  # type: ignore[arg-type]


def test_policies_validate_their_numbers() -> None:
    with pytest.raises(DefinitionError, match="attempts must be > 0"):
        podium.Retry(attempts=0)
    with pytest.raises(DefinitionError, match="tokens must be > 0"):
        podium.Budget(tokens=-1)


def test_the_decorator_returns_the_function_unchanged() -> None:
    wf = podium.Workflow("w")

    async def body(ctx: podium.Context, x: int) -> int:
        return x

    assert wf.stage(body) is body
    stage = wf.stages["body"]
    assert stage.context_parameter == "ctx"
    assert list(stage.parameters) == ["x"]


def test_variadic_positional_parameters_are_refused() -> None:
    async def body(*args: object) -> None: ...

    with pytest.raises(DefinitionError, match=r"parameter \*args is not supported; .*\*\*args receives"):
        podium.Workflow("w").add_stage(body)


def test_a_cycle_in_a_long_chain_is_found_without_exhausting_the_stack() -> None:
    wf = podium.Workflow("long")
    wf.add_stage(noop, name="s0", needs=["s4999"])
    for n in range(1, 5000):
        wf.add_stage(noop, name=f"s{n}", needs=[f"s{n - 1}"])
    with pytest.raises(DefinitionErrors, match=r"cycle in needs: s0 -> s1 -> .* -> s4999 -> s0"):
        wf.plan()


async def _async_items():
    yield 1


def _items():
    yield 1


class _AsyncItems:
    async def __call__(self):
        yield 1


@pytest.mark.parametrize(
    ("fn", "kind"),
    [
        (_async_items, "an async generator"),
        (_items, "a generator"),
        (functools.partial(_items), "a generator"),
        (_AsyncItems(), "an async generator"),
    ],
    ids=["async-generator", "generator", "partial", "callable-object"],
)
def test_a_generator_is_refused_as_a_stage_at_definition_time(fn: object, kind: str) -> None:
    wf = podium.Workflow("w")
    with pytest.raises(DefinitionError, match=rf"stage 'items' is {kind} function \(it yields\)") as info:
        wf.add_stage(fn, name="items")
    assert "return it (a list of the items, say) instead of yielding" in str(info.value)
    assert not wf.stages
