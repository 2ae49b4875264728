"""Token prices per model, and the cost of a usage record.

Prices are USD per million tokens, as Anthropic's pricing page and model overviews gave
them on :data:`PRICES_AS_OF` (platform.claude.com/docs/en/about-claude/pricing and
.../models/<model>/overview); each row says where its numbers came from, and which are
not from an official page. Cache writes are priced at the 5-minute rate (1.25x input).
Other providers' models (OpenAI, self-hosted servers) are not in the table: they cost 0,
with a warning, until priced in the configuration's ``[pricing]`` table, e.g.
``[pricing."gpt-5.1"] input = 1.25``, which also overrides any row here.
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


#: (input, output, cache read, cache write 5m). "official": the model's overview or the
#: pricing page; "derived": from the standard multipliers (read 0.1x, 5m write 1.25x input);
#: "third party": from copies of the official table, not confirmed on an official page.
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    # in/out official (models overview); cache rates third party
    "claude-fable-5-2": ModelPrice(8.0, 40.0, 0.20, 10.0),
    # official pricing page, all four rates
    "claude-fable-5-1": ModelPrice(10.0, 50.0, 0.25, 12.5),
    "claude-mythos-5-1": ModelPrice(10.0, 50.0, 0.25, 12.5),
    "claude-fable-5": ModelPrice(10.0, 50.0, 1.0, 12.5),
    "claude-mythos-5": ModelPrice(10.0, 50.0, 1.0, 12.5),
    "claude-opus-5-5": ModelPrice(4.0, 20.0, 0.20, 5.0),
    "claude-opus-5": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-8": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-7": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-6": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-5": ModelPrice(5.0, 25.0, 0.50, 6.25),
    # retired except on cloud platforms; official pricing page
    "claude-opus-4-1": ModelPrice(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4-0": ModelPrice(15.0, 75.0, 1.50, 18.75),
    # official overview: cache read 0.20 (a cut to 0.10 from 2026-10-07 is reported by third parties only)
    "claude-sonnet-5-5": ModelPrice(2.0, 10.0, 0.20, 2.5),
    "claude-sonnet-5": ModelPrice(2.0, 10.0, 0.20, 2.5),
    # in/out official (overview); cache rates derived
    "claude-sonnet-4-6": ModelPrice(3.0, 15.0, 0.30, 3.75),
    # third party copy of the official table
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0, 0.30, 3.75),
    # official: "from $0.10 / $0.50"; cache rates third party; a reported second band for
    # prompts over 100,000 tokens (5x) is not confirmed officially and not applied
    "claude-haiku-5-5": ModelPrice(0.10, 0.50, 0.01, 0.125),
    # in/out official (overview); cache rates third party
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
