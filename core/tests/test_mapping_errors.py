"""Bad maps get clear errors naming the stage: at definition time when the mistake is in the
definition, the moment the value is known when it is in the value mapped over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import podium
from podium import DefinitionError, DefinitionErrors, MapError, StageStatus
from podium.definition.loader import load_toml


async def echo(files: Any) -> Any:
    return files


async def produce() -> list[str]:
    return ["a.py"]


def two_stages(value: Any, strategy: str = "parallel") -> podium.Workflow:
    wf = podium.Workflow("bad-map", strategy=strategy)

    async def files() -> Any:
        return value

    wf.add_stage(files)
    wf.add_stage(echo, name="review", map="files")
    return wf


async def run(wf: podium.Workflow) -> podium.RunResult:
    async with podium.Engine(config=podium.Config(), cache_url=False) as engine:
        return await engine.run(wf)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "stage 'review' is mapped over 'files', whose value 42 (int) is not a list or mapping of items"),
        (
            "a.py b.py",
            "stage 'review' is mapped over 'files', whose value 'a.py b.py' (str) is one text, not a list or "
            "mapping of items: return [text] for one item",
        ),
        ({"b", "a"}, "(set) has no order, so its items could not be gathered in order: return sorted(...)"),
        ({None: 1}, "whose value {None: 1} (dict) has an item keyed None: give every item another key"),
    ],
)
async def test_mapping_over_a_value_without_items_fails_the_stage_naming_it_and_the_type(
    value: Any, message: str
) -> None:
    result = await run(two_stages(value))
    review = result["review"]
    assert review.status is StageStatus.FAILED
    assert isinstance(review.error, MapError)
    assert message in str(review.error)
    assert result["files"].ok  # what came before is kept
    assert result.visits("review") == [review]


async def test_items_that_fail_to_be_read_fail_the_stage_with_the_cause() -> None:
    def items() -> Any:
        yield "a"
        raise OSError("disk gone")

    result = await run(two_stages(items()))
    assert "(generator) failed to give its items: OSError('disk gone')" in str(result["review"].error)


def test_a_map_over_a_stage_that_does_not_exist_names_the_closest_one() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(produce, name="files")
    wf.add_stage(echo, name="review", map="flies")
    with pytest.raises(DefinitionErrors) as info:
        wf.plan()
    assert info.value.errors == [
        "stage 'review' is mapped over unknown stage 'flies' (did you mean 'files'?)"
    ]


def test_a_stage_cannot_be_mapped_over_itself() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(echo, name="files", map="files")
    with pytest.raises(DefinitionErrors, match="stage 'files' is mapped over itself"):
        wf.plan()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"map": 3}, "stage 'review': map must name the stage whose items it runs for, got 3"),
        ({"map": ""}, "stage 'review': map must name the stage whose items it runs for, got ''"),
        ({"partial": True}, "stage 'review': partial=True applies to a mapped stage; add map="),
        ({"map": "files", "partial": "yes"}, "stage 'review': partial must be True or False, got 'yes'"),
    ],
)
def test_bad_map_options_are_refused_naming_the_stage(options: dict[str, Any], message: str) -> None:
    wf = podium.Workflow("w")
    wf.add_stage(produce, name="files")
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wf.add_stage(echo, name="review", **options)


def test_a_map_over_a_needs_any_branch_is_refused() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(produce, name="files")
    wf.add_stage(echo, name="review", map="files", needs_any=["files"])
    with pytest.raises(DefinitionErrors, match="which it lists in needs_any: a map needs its items"):
        wf.plan()


def test_a_mapped_stage_cannot_route() -> None:
    wf = podium.Workflow("w", strategy="conditional")
    wf.add_stage(produce, name="files")
    wf.add_stage(echo, name="review", map="files", route=lambda _: "ship")
    wf.add_stage(echo, name="ship", needs=["review"], version="1")
    with pytest.raises(DefinitionErrors, match="stage 'review' is mapped, so it cannot route"):
        wf.plan()


def test_a_mapped_stage_cannot_be_part_of_a_loop() -> None:
    wf = podium.Workflow("w", strategy="conditional")
    wf.add_stage(produce, name="files", max_visits=2)
    wf.add_stage(echo, name="review", map="files")
    with pytest.raises(DefinitionErrors) as info:
        wf.plan()
    assert info.value.errors == [
        "stage 'review' is mapped and part of the loop of 'files' (max_visits > 1): a mapped stage cannot "
        "be visited again"
    ]


def test_a_per_item_step_may_take_the_item_by_the_collections_name_without_needing_it() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(produce, name="files")
    wf.add_stage(echo, name="lint", map="files")

    async def fix(files: str, lint: str) -> str:
        return files + lint

    wf.add_stage(fix, map="lint")
    wf.validate(inputs={})  # `files` is the item, not an unknown input


def test_a_plain_stage_taking_a_stage_it_does_not_need_is_still_refused() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(produce, name="files")

    async def other(files: str) -> str:
        return files

    wf.add_stage(other)
    wf.add_stage(echo, name="lint", map="files")
    with pytest.raises(DefinitionErrors, match="stage 'other' takes parameter 'files', the name of a stage"):
        wf.plan()


def test_map_implies_the_need_and_is_kept_once() -> None:
    wf = podium.Workflow("w")
    wf.add_stage(produce, name="files")
    wf.add_stage(echo, name="review", map="files")
    wf.add_stage(echo, name="again", needs=["files"], map="files")
    assert wf.stages["review"].needs == ("files",) and wf.stages["again"].needs == ("files",)
    assert wf.stages["review"].map == "files"


def test_a_map_over_a_workflow_input_says_to_map_over_a_stage_that_returns_it() -> None:
    wf = podium.Workflow("w", inputs=["files"])
    wf.add_stage(echo, name="review", map="files")
    with pytest.raises(DefinitionErrors) as info:
        wf.plan()
    assert info.value.errors == [
        "stage 'review' is mapped over 'files', a workflow input, not a stage: add a stage that returns "
        "the items (async def items(files): return files) and map over it"
    ]


def test_a_bad_map_in_a_toml_file_is_reported_at_its_key(tmp_path: Path) -> None:
    (tmp_path / "toml_map_errors.py").write_text(
        "async def files() -> list[str]:\n    return ['a']\nasync def review(files: str) -> str:\n    return files\n"
    )
    path = tmp_path / "bad.toml"
    path.write_text(
        '[workflow]\nname = "t"\n[[stages]]\nrun = "toml_map_errors:files"\n'
        '[[stages]]\nrun = "toml_map_errors:review"\nmap = "flies"\n'
    )
    with pytest.raises(DefinitionErrors) as info:
        load_toml(path)
    assert info.value.errors == [
        "stage 'review' is mapped over unknown stage 'flies' (did you mean 'files'?) @ stages[1].map"
    ]
