"""Cost comes from a dated pricing table in core, per model and token kind."""

from __future__ import annotations

import logging

import pytest

from podium.values.model import Usage
from podium.values.pricing import PRICES_AS_OF, ModelPrice, Pricing


def test_every_token_kind_is_priced() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_read_tokens=1_000_000,
        cache_write_tokens=1_000_000,
    )
    assert Pricing().cost("claude-sonnet-4-5", usage) == pytest.approx(3 + 15 + 0.30 + 3.75)


def test_dated_model_ids_share_their_family_price() -> None:
    assert Pricing().cost("claude-haiku-4-5-20251001", Usage(input_tokens=1_000_000)) == pytest.approx(1.0)


def test_an_unknown_model_costs_nothing_and_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    pricing = Pricing()
    with caplog.at_level(logging.WARNING, logger="podium.pricing"):
        assert pricing.cost("mystery", Usage(input_tokens=10)) == 0.0
        pricing.cost("mystery", Usage(input_tokens=10))
    assert len(caplog.records) == 1


def test_the_table_is_dated() -> None:
    assert PRICES_AS_OF.startswith("2026-")


@pytest.mark.parametrize(
    ("model", "cache_read"),
    [
        ("claude-fable-5", 1.0),
        ("claude-mythos-5", 1.0),
        ("claude-mythos-5-1", 0.25),
        ("claude-fable-5-1-20261001", 0.25),
    ],
)
def test_fable_and_mythos_5_price_their_cache_reads_apart_from_5_1(model: str, cache_read: float) -> None:
    assert Pricing().cost(model, Usage(cache_read_tokens=1_000_000)) == pytest.approx(cache_read)


@pytest.mark.parametrize("model", ["claude-opus-4-1", "claude-opus-4-0"])
def test_the_older_opus_models_cost_their_own_price(model: str) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert Pricing().cost(model, usage) == pytest.approx(15 + 75)


def test_a_configured_price_overrides_the_table_and_prices_unlisted_models() -> None:
    pricing = Pricing({"gpt-5.1": ModelPrice(1.25, 10.0, 0.125), "claude-sonnet-4-6": ModelPrice(1.0, 1.0)})
    assert pricing.cost(
        "gpt-5.1", Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000)
    ) == pytest.approx(1.375)
    assert pricing.cost("claude-sonnet-4-6", Usage(output_tokens=1_000_000)) == pytest.approx(1.0)
