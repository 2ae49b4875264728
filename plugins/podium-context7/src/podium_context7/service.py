"""One engine's documentation service: resolution, single-flight fetches, cache, budget, accounting."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Generic, TypeVar

import attrs
import httpx

from podium import (
    Context,
    DocBundle,
    DocFailure,
    DocSource,
    Document,
    ResultCache,
    SingleFlight,
    Usage,
    cache_key,
)
from podium_context7.client import Context7Client, Meter
from podium_context7.config import Settings, is_library_id
from podium_context7.errors import Context7Error, InvalidDocsRequest
from podium_context7.resolve import choose, describe
from podium_context7.snippets import Snippet, allocate, drop_duplicates, render

_log = logging.getLogger("podium.context7")

T = TypeVar("T")
#: The cache namespace of every key this plugin writes.
NAMESPACE = "context7"
_MAX_QUERY = 500


@attrs.define
class _Outcome(Generic[T]):
    """What a shared operation produced, for the leader and every caller that joined it."""

    value: T | None = None
    error: Exception | None = None
    source: DocSource = "network"
    made: int = 0


@attrs.define
class _Tally:
    made: int = 0
    cached: int = 0
    coalesced: int = 0


@attrs.frozen
class _Docs:
    library_id: str
    snippets: tuple[Snippet, ...]
    #: The id the service says the library moved to (no snippets then).
    moved_to: str | None = None


@attrs.define
class _Call:
    """One ``ctx.docs`` call: each library id is fetched once in it, whichever names lead there."""

    query: str
    tally: _Tally
    ctx: Context
    _fetches: dict[str, asyncio.Task[tuple[_Docs, DocSource]]] = attrs.field(factory=dict)

    async def once(
        self, library_id: str, fetch: Callable[[], Coroutine[Any, Any, tuple[_Docs, DocSource]]]
    ) -> tuple[_Docs, DocSource]:
        task = self._fetches.get(library_id)
        if task is None:
            task = self._fetches[library_id] = asyncio.ensure_future(fetch())
        # Every waiter belongs to the same call: cancelling the call cancels them all, and this.
        return await task


class Context7Service:
    """Fetches documentation for the stages of one engine through one pooled HTTP client.

    Identical operations in flight at once (a resolution of a name, a fetch of one
    library for one query) run once, through the kernel's single-flight: the others
    await the same task, which outlives a cancelled caller while another still waits.
    """

    def __init__(
        self,
        settings: Settings,
        result_cache: ResultCache | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.client = Context7Client(settings, transport=transport)
        self.result_cache = result_cache
        self.redirects: dict[str, str] = {}
        self._flights: SingleFlight[_Outcome[Any]] = SingleFlight()

    def __repr__(self) -> str:
        return f"<Context7Service {self.settings.public_url} api={self.settings.config.api}>"

    async def aclose(self) -> None:
        """Let shared operations still running finish (briefly), then close the HTTP client."""
        await self._flights.drain(within=self.settings.config.timeout)
        await self.client.aclose()

    # ------------------------------------------------------------------ one ctx.docs call

    def check(self, libraries: Sequence[str], query: str, tokens: int | None, stage: str) -> int:
        """Validate a call before any work; returns the token budget."""
        where = f"stage {stage!r}: ctx.docs"
        if not libraries:
            raise InvalidDocsRequest(f"{where} needs at least one library")
        for library in libraries:
            if not isinstance(library, str) or not library.strip() or len(library) > _MAX_QUERY:
                raise InvalidDocsRequest(
                    f"{where}: {library!r} is not a library name or id (1-500 characters)"
                )
        if not isinstance(query, str) or not query.strip() or len(query) > _MAX_QUERY:
            raise InvalidDocsRequest(f"{where}: query must be 1-500 characters, got {len(str(query))}")
        budget = self.settings.config.default_tokens if tokens is None else tokens
        if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
            raise InvalidDocsRequest(f"{where}: tokens must be a positive integer, got {tokens!r}")
        return budget

    async def fetch(self, libraries: Sequence[str], query: str, budget: int, ctx: Context) -> DocBundle:
        """Documents for ``libraries`` sharing ``budget`` tokens; failures become per-library errors."""
        query = query.strip()
        unique: dict[str, str] = {}
        for library in libraries:
            name = library.strip()
            unique.setdefault(name if is_library_id(name) else name.lower(), name)
        names = list(unique.values())
        tally = _Tally(coalesced=len(libraries) - len(names))
        call = _Call(query, tally, ctx)
        outcomes = await asyncio.gather(
            *(self._library(name, call) for name in names), return_exceptions=True
        )
        fetched: list[tuple[str, _Docs, DocSource]] = []
        errors: list[DocFailure] = []
        also: dict[str, list[str]] = {}  # library id -> the other names that ended there
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, Context7Error):
                errors.append(DocFailure(name, outcome.message, outcome.status, outcome.code))
            elif isinstance(outcome, Exception):
                message = self.client.scrub(f"{type(outcome).__name__}: {outcome}")
                _log.error("fetching documentation of %r failed unexpectedly: %s", name, message)
                errors.append(DocFailure(name, message, None, "internal_error"))
            elif isinstance(outcome, BaseException):
                raise outcome
            elif outcome[0].library_id in also:
                # Two names, one library (a redirect, a name and its id): one document,
                # fetched once; the second name's fetch is one avoided.
                also[outcome[0].library_id].append(name)
                tally.coalesced += 1
            else:
                also[outcome[0].library_id] = []
                fetched.append((name, *outcome))
        documents, available = _within_budget(fetched, budget, also)
        delivered = sum(d.tokens for d in documents)
        self._account(ctx, tally)
        for error in errors:
            ctx.log.warning("Context7: no documentation for %r: %s", error.library, error.message)
        ctx.log.info(
            "Context7: %d document(s), %d tokens of a %d budget (%d cut); "
            "%d request(s), %d cached, %d shared",
            len(documents),
            delivered,
            budget,
            available - delivered,
            tally.made,
            tally.cached,
            tally.coalesced,
        )
        return DocBundle(
            documents=tuple(documents),
            failures=tuple(errors),
            query=query,
            budget=budget,
            requests_made=tally.made,
            requests_avoided=tally.cached + tally.coalesced,
            tokens_cut=available - delivered,
            requests_cached=tally.cached,
            requests_coalesced=tally.coalesced,
        )

    def _account(self, ctx: Context, tally: _Tally) -> None:
        price = self.settings.config.price_per_request
        if tally.made:
            ctx.record_usage(requests=tally.made, cost_usd=price * tally.made)
        avoided = tally.cached + tally.coalesced
        if avoided:
            ctx.record_saved(Usage(requests=avoided, cost_usd=price * avoided))

    async def _library(self, name: str, call: _Call) -> tuple[_Docs, DocSource]:
        library_id = await self._redirected(await self._resolve(name, call.query, call.tally, call.ctx))
        docs, source = await call.once(library_id, lambda: self._docs(name, library_id, call))
        if docs.moved_to is None:
            return docs, source
        # Moved: the new id's fetch is shared with any other name of the call ending there,
        # and with one in flight or cached; a second move is not followed.
        target = docs.moved_to
        docs, source = await call.once(target, lambda: self._docs(name, target, call))
        if docs.moved_to is not None:
            raise Context7Error(
                name,
                f"redirected again, from {target} to {docs.moved_to}; not following a chain",
                status=301,
                code="library_redirected",
            )
        return docs, source

    async def _docs(self, name: str, library_id: str, call: _Call) -> tuple[_Docs, DocSource]:
        key = self._key("docs", library_id, call.query)
        return await self._shared(
            key, call.tally, lambda: self._load_docs(name, library_id, call.query, key, call.ctx)
        )

    # ------------------------------------------------------------------ resolution

    async def _resolve(self, name: str, query: str, tally: _Tally, ctx: Context) -> str:
        if is_library_id(name):
            return name
        alias = self.settings.alias(name)
        if alias is not None:
            return alias
        key = self._key("resolve", name.lower())
        library_id, _ = await self._shared(key, tally, lambda: self._load_resolution(name, query, key, ctx))
        return library_id

    async def _load_resolution(self, name: str, query: str, key: str, ctx: Context) -> _Outcome[str]:
        cached = await self._cache_get(key, ctx)
        if isinstance(cached, str):
            return _Outcome(cached, source="cache")
        meter = Meter()
        try:
            results = await self.client.search(name, query, meter)
        except Context7Error as error:
            return _Outcome(error=error, made=meter.made)
        chosen = choose(name, results)
        if chosen is None:
            message = f"no library matches {name!r}" + (f" among {len(results)} result(s)" if results else "")
            failure = Context7Error(name, message, status=200, code="no_libraries_found")
            return _Outcome(error=failure, made=meter.made)
        ctx.log.info(
            "Context7: %r resolved to %s among %d result(s); pin it with aliases.%s",
            name,
            describe(chosen),
            len(results),
            name,
        )
        library_id = str(chosen["id"])
        await self._cache_set(key, library_id, self.settings.config.resolve_ttl, meter.made)
        return _Outcome(library_id, made=meter.made)

    # ------------------------------------------------------------------ documentation

    async def _load_docs(
        self, name: str, library_id: str, query: str, key: str, ctx: Context
    ) -> _Outcome[_Docs]:
        cached = await self._cache_get(key, ctx)
        if isinstance(cached, str):
            data = json.loads(cached)
            stored = tuple(Snippet.from_json(s) for s in data["snippets"])
            return _Outcome(_Docs(data["id"], stored), source="cache")
        meter = Meter()
        try:
            snippets, moved_to = await self.client.context(name, library_id, query, meter)
        except Context7Error as error:
            return _Outcome(error=error, made=meter.made)
        if moved_to is not None:
            self.redirects[library_id] = moved_to
            await self._cache_set(
                self._key("redirect", library_id), moved_to, self.settings.config.resolve_ttl
            )
            return _Outcome(_Docs(library_id, (), moved_to), made=meter.made)
        if not snippets:
            message = f"the service sent no snippets for {library_id}"
            failure = Context7Error(name, message, status=200, code="no_snippets_found")
            return _Outcome(error=failure, made=meter.made)
        value = json.dumps({"id": library_id, "snippets": [s.to_json() for s in snippets]})
        await self._cache_set(key, value, self.settings.config.docs_ttl, meter.made)
        return _Outcome(_Docs(library_id, tuple(snippets)), made=meter.made)

    async def _redirected(self, library_id: str) -> str:
        target = self.redirects.get(library_id)
        if target is None and self.result_cache is not None:
            stored = await self._cache_get(self._key("redirect", library_id), None)
            if isinstance(stored, str) and is_library_id(stored):
                target = self.redirects[library_id] = stored
        return target or library_id

    # ------------------------------------------------------------------ single flight

    async def _shared(
        self, key: str, tally: _Tally, produce: Callable[[], Coroutine[Any, Any, _Outcome[T]]]
    ) -> tuple[T, DocSource]:
        outcome, leader = await self._flights.do(key, produce)
        source: DocSource = outcome.source
        if leader:
            tally.made += outcome.made
            tally.cached += source == "cache"
        elif source == "cache":
            tally.cached += 1
        else:
            tally.coalesced += 1
            source = "shared"
        if outcome.error is not None:
            raise outcome.error
        assert outcome.value is not None
        return outcome.value, source

    # ------------------------------------------------------------------ cache

    def _key(self, kind: str, *parts: str) -> str:
        """``podium:context7:<kind>:<sha256>`` (so ``podium cache clear --namespace context7`` works)."""
        settings = self.settings
        return cache_key(kind, NAMESPACE, settings.config.api, settings.public_url, *parts)

    async def _cache_get(self, key: str, ctx: Context | None) -> Any:
        """The cached value under ``key`` (the engine's cache degrades to a miss on errors)."""
        if self.result_cache is None:
            return None
        stored = await self.result_cache.read(key)
        if ctx is not None:
            run = ctx.run
            if stored is None:
                run.events.emit("podium_cache_miss", run=run, stage=ctx.stage, kind="docs", key=key)
            else:
                saved = stored[1]
                run.events.emit(
                    "podium_cache_hit", run=run, stage=ctx.stage, kind="docs", key=key, saved=saved
                )
        return None if stored is None else stored[0]

    async def _cache_set(self, key: str, value: str, ttl: float, made: int = 0) -> None:
        if self.result_cache is not None:
            price = self.settings.config.price_per_request
            await self.result_cache.write(key, value, Usage(requests=made, cost_usd=price * made), ttl)


def _within_budget(
    fetched: Sequence[tuple[str, _Docs, DocSource]], budget: int, also: Mapping[str, Sequence[str]]
) -> tuple[list[Document], int]:
    """One document per fetched library within ``budget``, and the tokens there were to choose from.

    ``also`` names, per library id, the other names of the call that ended at it.
    """
    lists = drop_duplicates([docs.snippets for _, docs, _ in fetched])
    chosen = allocate(budget, [[s.cost for s in snippets] for snippets in lists])
    documents = []
    for (name, docs, source), snippets, picks in zip(fetched, lists, chosen, strict=True):
        selected = [snippets[k] for k in picks]
        tokens = sum(s.cost for s in selected)
        other_names = tuple(also.get(docs.library_id, ()))
        documents.append(Document(name, docs.library_id, render(selected), tokens, source, other_names))
    return documents, sum(s.cost for snippets in lists for s in snippets)
