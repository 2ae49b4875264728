"""Stage options are defined once (podium.StageOptions) and every way to declare a stage
takes exactly those: the decorator, add_stage, the Stage fields, TOML and the docs table."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import attrs
import pytest

import podium
from podium.definition.loader import CacheSpec, RetrySpec, StageSpec, load_toml
from podium.definition.options import OPTION_NAMES
from podium.definition.workflow import DERIVED_FIELDS, Stage, Workflow

REPO = Path(__file__).resolve().parents[2]
OPTIONS = set(OPTION_NAMES)


def test_the_single_definition_lists_options() -> None:
    assert set(typing.get_type_hints(podium.StageOptions)) == OPTIONS
    assert {"needs", "timeout", "description"} <= OPTIONS


def test_a_stage_has_one_field_per_option_besides_what_it_derives() -> None:
    fields = {field.name for field in attrs.fields(Stage)}
    assert fields - set(DERIVED_FIELDS) == OPTIONS
    assert set(DERIVED_FIELDS) <= fields


def _keyword_options(fn: typing.Callable[..., object]) -> type | None:
    """The TypedDict a function's ``**options`` is typed with, after checking it takes no
    other keyword parameter that could drift."""
    parameters = inspect.signature(fn).parameters.values()
    assert not [p.name for p in parameters if p.kind is p.KEYWORD_ONLY], fn
    hints = typing.get_type_hints(fn)
    if "options" not in hints:
        return None
    assert typing.get_origin(hints["options"]) is typing.Unpack
    options: type = typing.get_args(hints["options"])[0]
    return options


def test_add_stage_takes_exactly_the_options() -> None:
    assert _keyword_options(Workflow.add_stage) is podium.StageOptions


def test_the_decorator_takes_exactly_the_options() -> None:
    overloads = typing.get_overloads(Workflow.stage)
    assert len(overloads) == 2
    assert [_keyword_options(fn) for fn in overloads] == [None, podium.StageOptions]
    assert _keyword_options(Workflow.stage) is podium.StageOptions


def test_a_toml_stage_table_takes_run_and_exactly_the_options() -> None:
    assert {field.name for field in attrs.fields(StageSpec)} == OPTIONS | {"run"}


def test_toml_retry_and_cache_tables_take_every_field_toml_can_express() -> None:
    # Functions (retry_on, key) cannot be written in TOML; every other field can.
    assert {f.name for f in attrs.fields(RetrySpec)} == {f.name for f in attrs.fields(podium.Retry)} - {
        "retry_on"
    }
    assert {f.name for f in attrs.fields(CacheSpec)} == {f.name for f in attrs.fields(podium.CachePolicy)} - {
        "key"
    }


def test_every_option_has_a_row_in_the_concepts_options_table() -> None:
    text = (REPO / "docs" / "concepts.md").read_text()
    table = text[text.index("| option | meaning |") :].split("\n\n", 1)[0]
    documented = {
        name
        for first_cell in re.findall(r"^\| (.*?) \|", table, re.M)
        for name in re.findall(r"`(\w+)=", first_cell)
    }
    assert documented == OPTIONS


async def noop() -> None:
    """Does nothing, politely."""


def test_description_is_an_option_of_the_decorator_and_of_add_stage() -> None:
    wf = podium.Workflow("w")
    decorated = wf.stage(name="a", description="the first")(noop)
    added = wf.add_stage(noop, name="b", description="the second")
    defaulted = wf.add_stage(noop, name="c")
    assert decorated is noop
    assert [wf.stages[n].description for n in "abc"] == ["the first", "the second", "Does nothing, politely."]
    assert added.description == "the second" and defaulted.name == "c"


def test_a_toml_stage_takes_the_same_options_by_the_same_names(tmp_path: Path) -> None:
    (tmp_path / "toml_options_stages.py").write_text(
        "async def review(ticket: str) -> str:\n    return ticket\n"
        "async def ship(review: str) -> str:\n    return review\n"
        "def recover(error: BaseException) -> str:\n    return 'recovered'\n"
    )
    path = tmp_path / "wf.toml"
    path.write_text(
        '[workflow]\nname = "t"\nstrategy = "conditional"\ninputs = ["ticket"]\n'
        '[[stages]]\nrun = "toml_options_stages:review"\ndescription = "look at it"\n'
        'route = { ok = "shipping" }\ncache = true\nestimate = "2s"\nmax_visits = 1\n'
        '[[stages]]\nname = "shipping"\nrun = "toml_options_stages:ship"\nneeds = ["review"]\n'
        'on_error = "toml_options_stages:recover"\nfallback = "none"\nexecutor = "thread"\n'
    )
    wf = load_toml(path)
    review, shipping = wf.stages["review"], wf.stages["shipping"]
    assert review.description == "look at it"
    assert review.route == {"ok": "shipping"}
    assert review.cache == podium.CachePolicy() and review.estimate == 2.0
    assert shipping.needs == ("review",) and shipping.executor == "thread"
    assert shipping.fallback == "none" and shipping.on_error is not None
    assert shipping.on_error(ValueError()) == "recovered"


def test_a_bad_toml_route_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "wf.toml"
    path.write_text('[workflow]\nname = "t"\n[[stages]]\nrun = "m:f"\nroute = 3\n')
    with pytest.raises(
        podium.DefinitionError, match=r"expected 'module:function' or a table .* @ stages\[0\]\.route"
    ):
        load_toml(path)


USER_CODE = """
import podium

wf = podium.Workflow("typed")


@wf.stage
async def spec(ticket: str) -> str:
    return ticket


@wf.stage(needs=["spec"], timeout=3, retry=podium.Retry(attempts=2), description="build it")
async def implement(spec: str) -> str:
    return spec


wf.add_stage(implement, name="again", needs="spec", cache=True)
length: int = len(implement.__name__)
"""


def test_mypy_strict_checks_stage_options_in_user_code(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    good = tmp_path / "good_user_code.py"
    good.write_text(USER_CODE)
    bad = tmp_path / "bad_user_code.py"
    bad.write_text(
        USER_CODE
        + '\n@wf.stage(need=["spec"])\nasync def typo() -> None: ...\n\nwf.add_stage(typo, timeout="3")\n'
    )
    arguments = ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache")]
    out, _, status = api.run([*arguments, str(good)])
    assert status == 0, out
    out, _, status = api.run([*arguments, str(bad)])
    assert status == 1
    assert 'Unexpected keyword argument "need"' in out
    assert 'Argument "timeout" to "add_stage" of "Workflow" has incompatible type "str"' in out


def test_bad_option_values_in_toml_are_reported_with_their_stage(tmp_path: Path) -> None:
    (tmp_path / "toml_bad_values.py").write_text("async def a() -> None: ...\nasync def b() -> None: ...\n")
    path = tmp_path / "wf.toml"
    path.write_text(
        '[workflow]\nname = "t"\n'
        '[[stages]]\nrun = "toml_bad_values:a"\nretry = { attempts = 0 }\n'
        '[[stages]]\nrun = "toml_bad_values:b"\nmax_visits = 0\ncache = { namespace = "no spaces" }\n'
    )
    with pytest.raises(podium.DefinitionError) as info:
        load_toml(path)
    message = str(info.value)
    assert "attempts must be > 0, got 0 @ stages[0].retry" in message
    assert "cache namespace 'no spaces' must be" in message and "@ stages[1].cache" in message
    assert "max_visits must be an integer >= 1, got 0 @ stages[1]" in message
