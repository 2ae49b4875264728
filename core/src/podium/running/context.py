"""The :class:`Context` a stage body receives: agents, docs, usage accounting, logging."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from podium.foundation.errors import NoDocsProvider, install_hint
from podium.values.model import ZERO_USAGE, Usage

if TYPE_CHECKING:
    from podium.definition.workflow import Stage
    from podium.engine.engine import Engine
    from podium.running.agents import BoundAgent
    from podium.running.scheduler import RunState
    from podium.values.docs import DocBundle
    from podium.values.templates import PromptTemplate

_log = logging.getLogger("podium.stage")


class Context:
    """What a stage body can reach: its run, agents, documentation and usage accounting.

    Declare a parameter named ``ctx`` (or annotated ``podium.Context``) to receive it.
    """

    __slots__ = ("_item", "_log", "attempt", "item_key", "run", "saved", "stage", "usage", "visit")

    def __init__(
        self, run: RunState, stage: Stage, visit: int = 1, item_key: Any = None, item: int = -1
    ) -> None:
        self.run = run
        self.stage = stage
        self.visit = visit
        #: For an item of a mapped stage: its index in the list the items came from, or its
        #: key in the mapping; ``None`` for a stage that is not mapped.
        self.item_key = item_key
        self._item = item  # the item's position among the stage's items, -1 for none
        self.attempt = 1
        self.usage: Usage = ZERO_USAGE
        self.saved: Usage = ZERO_USAGE
        self._log: logging.LoggerAdapter[logging.Logger] | None = None

    def __repr__(self) -> str:
        item = f" item={self.item_key!r}" if self.item_key is not None else ""
        return f"<Context run={self.run.id} stage={self.stage.name!r}{item} attempt={self.attempt}>"

    @property
    def engine(self) -> Engine:
        """The engine running this stage (for plugins that keep state per engine)."""
        return self.run.engine

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def inputs(self) -> dict[str, Any]:
        return self.run.inputs

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry ``run_id``, ``workflow`` and ``stage`` in ``extra``."""
        if self._log is None:
            self._log = logging.LoggerAdapter(_log, self.run.log_extra(self.stage.name))
        return self._log

    def latest(self, stage: str, default: Any = None) -> Any:
        """The latest successful value of any stage of this run (useful in loops), or ``default``."""
        result = self.run.results.get(stage)
        return result.value if result is not None and result.ok else default

    def agent(self, name: str) -> BoundAgent:
        """The agent registered as ``name``, bound to this stage for accounting and events."""
        return self.run.agents.bind(name, self)

    def template(self, name: str) -> PromptTemplate:
        """The engine's prompt template ``name`` (``.render(**values)`` gives the prompt)."""
        return self.run.engine.templates[name]

    async def docs(self, libraries: Sequence[str], *, query: str, tokens: int | None = None) -> DocBundle:
        """Documentation for ``libraries`` relevant to ``query``, within ``tokens`` in total."""
        if isinstance(libraries, str):
            libraries = [libraries]
        awaitable = self.run.hook.podium_fetch_docs(
            libraries=list(libraries), query=query, tokens=tokens, ctx=self
        )
        if awaitable is None:
            raise NoDocsProvider(
                f"stage {self.stage.name!r} asked for documentation, but no installed plugin "
                f"fetches it: {install_hint('docs')}"
            )
        bundle: DocBundle = await awaitable
        self.run.events.emit("podium_doc_fetch_ended", run=self.run, stage=self.stage, bundle=bundle)
        return bundle

    def record_usage(
        self,
        usage: Usage | None = None,
        *,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        requests: int = 0,
        cost_usd: float | None = None,
    ) -> Usage:
        """Add tokens (and their cost) spent by this stage; the run's budget is checked.

        The cost is ``cost_usd`` when given, else priced from the engine's pricing table
        for ``model``. Returns the usage recorded, with its cost.
        """
        if usage is None:
            usage = Usage(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, requests)
        if cost_usd is not None:
            usage = Usage(
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                usage.requests,
                cost_usd,
            )
        elif model is not None and not usage.cost_usd:
            usage = self.run.pricing.price(model, usage)
        self.usage = self.usage + usage
        self.run.add_usage(usage)
        return usage

    def record_saved(self, saved: Usage) -> None:
        """Add usage that a cache hit or a coalesced call avoided spending."""
        self.saved = self.saved + saved
        self.run.add_saved(saved)
