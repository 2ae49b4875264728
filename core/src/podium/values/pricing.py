"""Token prices per model, and the cost of a usage record.

Prices are USD per million tokens. The defaults were taken from Anthropic's published
price list as of 2026-11 (:data:`PRICES_AS_OF`); override or extend them in the
configuration's ``[pricing]`` table, e.g. ``[pricing."claude-sonnet-5-5"] input = 2.0``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs

from podium.values.model import Usage

_log = logging.getLogger("podium.pricing")

PRICES_AS_OF = "2026-11-26"


@attrs.frozen
class ModelPrice:
    """USD per million tokens: input, output, cache read, cache write (5-minute)."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "claude-fable-5-2": ModelPrice(8.0, 40.0, 0.20, 10.0),
    "claude-fable-5-1": ModelPrice(10.0, 50.0, 0.25, 12.5),
    "claude-mythos-5-1": ModelPrice(10.0, 50.0, 0.25, 12.5),
    "claude-opus-5-5": ModelPrice(4.0, 20.0, 0.20, 5.0),
    "claude-opus-5": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-8": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-7": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-6": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-5": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-sonnet-5-5": ModelPrice(2.0, 10.0, 0.20, 2.5),
    "claude-sonnet-5": ModelPrice(2.0, 10.0, 0.20, 2.5),
    "claude-sonnet-4-6": ModelPrice(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-5-5": ModelPrice(0.10, 0.50, 0.01, 0.125),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0, 0.10, 1.25),
}


class Pricing:
    """Looks up a model's price (exact id, else the longest matching prefix) and prices usage."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self.prices: dict[str, ModelPrice] = {**DEFAULT_PRICES, **(overrides or {})}
        self._unknown: set[str] = set()

    def lookup(self, model: str) -> ModelPrice | None:
        price = self.prices.get(model)
        if price is not None:
            return price
        # Dated ids ("claude-haiku-4-5-20251001") share their family's price.
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else None

    def cost(self, model: str, usage: Usage) -> float:
        price = self.lookup(model)
        if price is None:
            if model not in self._unknown:
                self._unknown.add(model)
                _log.warning(
                    "no price known for model %r: its cost counts as 0; add it under [pricing]", model
                )
            return 0.0
        return (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_read_tokens * price.cache_read
            + usage.cache_write_tokens * price.cache_write
        ) / 1_000_000

    def price(self, model: str, usage: Usage) -> Usage:
        """``usage`` with its cost filled in."""
        # Built directly: attrs.evolve costs several times more, once per agent call.
        return Usage(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.requests,
            self.cost(model, usage),
        )
