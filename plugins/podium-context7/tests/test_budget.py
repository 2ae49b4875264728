"""The shared token budget: even split, redistribution, service order, duplicates, no starvation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import podium
from podium_context7.snippets import (
    SEPARATOR_TOKENS,
    Snippet,
    allocate,
    drop_duplicates,
    estimate_tokens,
    parse_json,
)
from podium_context7.testing import FakeContext7, make_library

from .conftest import docs

sizes_strategy = st.lists(st.lists(st.integers(0, 900), max_size=25), min_size=1, max_size=6)


@given(budget=st.integers(0, 10_000), sizes=sizes_strategy)
def test_delivered_tokens_never_exceed_the_budget(budget: int, sizes: list[list[int]]) -> None:
    chosen = allocate(budget, sizes)
    assert sum(sizes[i][k] for i, ks in enumerate(chosen) for k in ks) <= budget


@given(budget=st.integers(0, 10_000), sizes=sizes_strategy)
def test_no_snippet_is_left_out_that_the_remaining_budget_could_hold(
    budget: int, sizes: list[list[int]]
) -> None:
    chosen = allocate(budget, sizes)
    left = budget - sum(sizes[i][k] for i, ks in enumerate(chosen) for k in ks)
    for i, library in enumerate(sizes):
        for k, size in enumerate(library):
            assert k in chosen[i] or size > left


@given(budget=st.integers(1, 10_000), sizes=sizes_strategy)
def test_no_library_starves_when_its_even_share_could_feed_it(budget: int, sizes: list[list[int]]) -> None:
    chosen = allocate(budget, sizes)
    share = budget // len(sizes)
    for i, library in enumerate(sizes):
        if any(size <= share for size in library):
            assert chosen[i], f"library {i} got nothing although a snippet fits its share {share}"


@given(budget=st.integers(0, 10_000), sizes=sizes_strategy)
def test_choices_keep_the_service_order_and_never_repeat(budget: int, sizes: list[list[int]]) -> None:
    for i, ks in enumerate(allocate(budget, sizes)):
        assert ks == sorted(set(ks))
        assert all(0 <= k < len(sizes[i]) for k in ks)


def test_an_even_split_among_equal_libraries() -> None:
    chosen = allocate(2400, [[100] * 20, [100] * 20, [100] * 20])
    assert [len(ks) for ks in chosen] == [8, 8, 8]


def test_an_unused_share_goes_to_the_others() -> None:
    chosen = allocate(2400, [[300], [100] * 20, [100] * 20])
    assert [len(ks) for ks in chosen] == [1, 11, 10]


def test_a_snippet_larger_than_the_share_is_skipped_for_smaller_ones_that_fit() -> None:
    assert allocate(1000, [[900, 200, 100], [400, 400]]) == [[1, 2], [0]]


def test_everything_is_taken_when_it_fits() -> None:
    assert allocate(10_000, [[500, 700], [300]]) == [[0, 1], [0]]


def test_snippets_repeated_across_libraries_are_dropped() -> None:
    shared = {"codeTitle": "Install", "codeId": "https://a#_snippet_1", "codeTokens": 30, "codeList": []}
    shared["codeDescription"] = "pip install package"
    other = {**shared, "codeTitle": "Installation", "codeId": "https://b#_snippet_9"}
    first = parse_json({"codeSnippets": [shared]})
    second = parse_json({"codeSnippets": [other, {**shared, "codeDescription": "something else"}]})

    kept = drop_duplicates([first, second])

    assert [len(k) for k in kept] == [1, 1]
    assert "something else" in kept[1][0].text


def test_service_token_counts_are_used_as_given() -> None:
    snippet = parse_json({"infoSnippets": [{"pageId": "p", "content": "x" * 4000, "contentTokens": 12}]})[0]
    assert snippet == Snippet(snippet.text, 12, "p")


async def test_a_call_shares_its_budget_and_reports_what_it_cut(engine: podium.Engine) -> None:
    bundle = await docs(engine, ["fastapi", "sqlalchemy", "pytest"], tokens=2400)

    assert bundle.tokens <= 2400
    assert all(400 <= d.tokens <= 1200 for d in bundle.documents)
    assert bundle.tokens_cut > 0
    whole = await docs(engine, ["fastapi", "sqlalchemy", "pytest"], tokens=100_000)
    assert bundle.tokens + bundle.tokens_cut == whole.tokens
    assert whole.tokens_cut == 0


async def test_a_small_library_leaves_its_share_to_the_others() -> None:
    libraries = [make_library("/tiny/lib", "Tiny", total_tokens=200), make_library("/big/lib", "Big")]
    with FakeContext7(libraries) as fake:
        config = podium.Config({"plugins": {"context7": {"base_url": fake.url}}})
        async with podium.Engine(config=config) as engine:
            bundle = await docs(engine, ["/tiny/lib", "/big/lib"], tokens=2000)

    tiny, big = bundle.documents
    counts = [s["codeTokens"] for s in libraries[0].code] + [s["contentTokens"] for s in libraries[0].info]
    assert tiny.tokens == sum(counts) + SEPARATOR_TOKENS * len(counts)
    assert big.tokens > 1000
    assert bundle.tokens <= 2000


async def test_the_text_put_into_a_prompt_stays_within_the_budget(engine: podium.Engine) -> None:
    bundle = await docs(engine, ["fastapi", "sqlalchemy", "pytest"], tokens=2400)

    assert estimate_tokens(bundle.text) <= bundle.tokens <= 2400
