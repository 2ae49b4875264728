"""Snippets: parsing Context7's JSON and text bodies, formatting, de-duplication, token budgets.

Token counts are the service's own (``codeTokens``, ``contentTokens``); only the v1
text format, which has none, falls back to an estimate of one token per four characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

#: Context7's separator between snippets in its text format.
SEPARATOR = "\n\n" + "-" * 32 + "\n\n"
_SPLIT = re.compile(r"\n\s*\n-{32}\n\s*\n")
_WHITESPACE = re.compile(r"\s+")


def _fingerprint(text: str) -> str:
    body = text.split("\n\n", 2)[-1] if text.startswith("### ") else text
    return hashlib.sha256(_WHITESPACE.sub(" ", body).strip().encode()).hexdigest()[:32]


@attrs.frozen
class Snippet:
    """One snippet, already formatted as Context7's text format shows it.

    ``fingerprint`` is equal for snippets whose content is the same whatever their
    title or whitespace; it is computed once and cached with the snippet.
    """

    text: str
    tokens: int
    source: str = ""
    fingerprint: str = attrs.field(
        default=attrs.Factory(lambda self: _fingerprint(self.text), takes_self=True), eq=False
    )

    def to_json(self) -> list[Any]:
        return [self.text, self.tokens, self.source, self.fingerprint]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> Snippet:
        text, tokens, source, *fingerprint = data
        if fingerprint:
            return cls(str(text), int(tokens), str(source), str(fingerprint[0]))
        return cls(str(text), int(tokens), str(source))

    @property
    def cost(self) -> int:
        """Tokens the snippet takes in a prompt: the service's count and its separator."""
        return max(0, self.tokens) + SEPARATOR_TOKENS


def estimate_tokens(text: str) -> int:
    """A rough token count (4 characters a token) for text the service did not count."""
    return max(1, (len(text) + 3) // 4)


#: What a snippet costs in a prompt beyond its own count: the separator that precedes it.
SEPARATOR_TOKENS = estimate_tokens(SEPARATOR)


def _count(value: Any, text: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return estimate_tokens(text)
    return int(value)


def code_snippet(data: Mapping[str, Any]) -> Snippet:
    """A ``codeSnippets`` entry of ``/v2/context?type=json`` in the text format's layout."""
    blocks = "\n\n".join(
        f"```{block.get('language') or data.get('codeLanguage') or ''}\n{block.get('code', '')}\n```"
        for block in data.get("codeList") or ()
        if isinstance(block, Mapping)
    )
    description = str(data.get("codeDescription") or "").strip()
    body = f"{description}\n\n{blocks}" if description and blocks else description or blocks
    title = str(data.get("codeTitle") or data.get("pageTitle") or "Code example")
    source = str(data.get("codeId") or "")
    text = f"### {title}\n\nSource: {source}\n\n{body}" if source else f"### {title}\n\n{body}"
    return Snippet(text, _count(data.get("codeTokens"), text), source)


def info_snippet(data: Mapping[str, Any]) -> Snippet:
    """An ``infoSnippets`` entry of ``/v2/context?type=json`` in the text format's layout."""
    title = str(data.get("breadcrumb") or "Documentation")
    source = str(data.get("pageId") or "")
    content = str(data.get("content") or "").strip()
    text = f"### {title}\n\nSource: {source}\n\n{content}" if source else f"### {title}\n\n{content}"
    return Snippet(text, _count(data.get("contentTokens"), text), source)


def parse_json(body: Mapping[str, Any]) -> list[Snippet]:
    """Snippets of a JSON body in the service's order: code snippets, then info snippets."""
    code = body.get("codeSnippets") or []
    info = body.get("infoSnippets") or []
    return [code_snippet(s) for s in code if isinstance(s, Mapping)] + [
        info_snippet(s) for s in info if isinstance(s, Mapping)
    ]


def parse_text(text: str) -> list[Snippet]:
    """Snippets of a text body (v1), split at the 32-dash separators; tokens estimated."""
    parts = [part.strip() for part in _SPLIT.split(text.strip())]
    snippets = []
    for part in parts:
        if part:
            match = re.search(r"^Source: (\S+)", part, re.MULTILINE)
            snippets.append(Snippet(part, estimate_tokens(part), match.group(1) if match else ""))
    return snippets


def drop_duplicates(libraries: Sequence[Sequence[Snippet]]) -> list[list[Snippet]]:
    """Each library's snippets without those already seen earlier in the call (same content)."""
    seen: set[str] = set()
    out: list[list[Snippet]] = []
    for snippets in libraries:
        kept = []
        for snippet in snippets:
            fingerprint = snippet.fingerprint
            if fingerprint not in seen:
                seen.add(fingerprint)
                kept.append(snippet)
        out.append(kept)
    return out


def allocate(budget: int, sizes: Sequence[Sequence[int]]) -> list[list[int]]:
    """Choose, per library, which snippets (by index) fit one shared token budget.

    The remaining budget is split evenly among the libraries that still have a snippet
    that could fit; each takes, in the service's order, every snippet within its share.
    Shares left unused go back into the pool for the next round. When no share is large
    enough for any snippet, the library that has received least takes its first snippet
    that fits the pool. It ends when no untaken snippet fits what is left, so the total
    never exceeds ``budget`` and no library goes without while the budget could feed it.
    """
    remaining = max(0, budget)
    pending = [list(range(len(library))) for library in sizes]
    taken: list[list[int]] = [[] for _ in sizes]
    received = [0] * len(sizes)

    def take(i: int, k: int) -> None:
        nonlocal remaining
        pending[i].remove(k)
        taken[i].append(k)
        received[i] += max(0, sizes[i][k])
        remaining -= max(0, sizes[i][k])

    while True:
        hungry = [i for i, ks in enumerate(pending) if any(max(0, sizes[i][k]) <= remaining for k in ks)]
        if not hungry:
            break
        share, extra = divmod(remaining, len(hungry))
        progress = False
        for rank, i in enumerate(hungry):
            allowance = share + (1 if rank < extra else 0)
            for k in list(pending[i]):
                size = max(0, sizes[i][k])
                if size <= allowance:
                    take(i, k)
                    allowance -= size
                    progress = True
        if not progress:
            i = min(hungry, key=lambda j: (received[j], j))
            k = next(k for k in pending[i] if max(0, sizes[i][k]) <= remaining)
            take(i, k)
    return [sorted(ks) for ks in taken]


def render(snippets: Iterable[Snippet]) -> str:
    """Snippets joined as Context7's text format joins them."""
    return SEPARATOR.join(s.text for s in snippets)
