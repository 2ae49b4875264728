"""Documentation bundles returned by ``ctx.docs(...)`` (fetched by a doc-fetching plugin)."""

from __future__ import annotations

from typing import Literal

import attrs

DocSource = Literal["network", "cache", "shared"]
"""Where a :class:`Document` came from: fetched, a cache hit, or shared with an identical
request in flight."""


@attrs.frozen
class Document:
    """Documentation of one library, cut to its share of the token budget."""

    library: str
    library_id: str
    text: str
    tokens: int
    source: DocSource = "network"
    #: Other names of the same call that ended at this library (a redirect, a name and
    #: its id): one document answers them all, ``bundle[name]`` finds it by any of them.
    other_names: tuple[str, ...] = ()


@attrs.frozen
class DocFailure:
    """Why one library's documentation could not be had; the others are unaffected."""

    library: str
    message: str
    status: int | None = None
    code: str | None = None


@attrs.frozen
class DocBundle:
    """The documents of one ``ctx.docs`` call, with per-library failures and counters.

    ``requests_avoided`` is ``requests_cached + requests_coalesced``: requests served from
    the cache, and requests shared with an identical one in flight (or repeated in the call).
    ``tokens`` are the tokens delivered; ``tokens_cut`` those the budget left out.
    """

    documents: tuple[Document, ...] = ()
    failures: tuple[DocFailure, ...] = ()
    query: str = ""
    budget: int | None = None
    requests_made: int = 0
    requests_avoided: int = 0
    tokens_cut: int = 0
    requests_cached: int = 0
    requests_coalesced: int = 0

    @property
    def tokens(self) -> int:
        return sum(d.tokens for d in self.documents)

    @property
    def text(self) -> str:
        """Every document's text, separated as Context7 separates snippets."""
        return "\n\n--------------------------------\n\n".join(d.text for d in self.documents if d.text)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __getitem__(self, library: str) -> Document:
        for document in self.documents:
            if library in (document.library, document.library_id, *document.other_names):
                return document
        raise KeyError(f"no document for {library!r} in this bundle")
