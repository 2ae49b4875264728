"""Prompt templates: a static prefix that providers cache, and a body with ``{fields}``.

The seed's "template cache", done where the savings are real: a template's ``prefix``
becomes the :class:`podium.Prompt`'s ``system`` part, marked for provider prompt caching,
so every call after the first reads it from the provider's cache. What that saved is
measured from the provider's reported cache reads (``Usage.cache_read_tokens``, priced at
the cache-read price), never estimated.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from podium.foundation.errors import TemplateError, suggest
from podium.values.providers import Prompt


@attrs.frozen
class PromptTemplate:
    """A named prompt: a static ``prefix`` (instructions, examples) and a ``body`` to fill.

    :ivar name: What stages look it up by (``ctx.template(name)``).
    :ivar prefix: The static part, sent as the prompt's system part and cached by providers
        that cache prompts (it must not change from call to call, or nothing is reused).
    :ivar body: The part that changes, with ``{field}`` placeholders (``str.format`` syntax).
    """

    name: str
    prefix: str
    body: str = "{input}"

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholders of the body, in order, each once."""
        names = (field for _, field, _, _ in string.Formatter().parse(self.body) if field)
        return tuple(dict.fromkeys(name.split(".")[0].split("[")[0] for name in names))

    def render(self, **values: Any) -> Prompt:
        """The :class:`podium.Prompt` for these values, its prefix marked for prompt caching."""
        missing = [name for name in self.fields if name not in values]
        if missing:
            raise TemplateError(
                f"template {self.name!r}: no value for {', '.join(map(repr, missing))} "
                f"(its fields: {', '.join(self.fields) or 'none'})"
            )
        try:
            text = self.body.format(**values)
        except (IndexError, KeyError, ValueError, AttributeError) as error:
            raise TemplateError(f"template {self.name!r}: its body cannot be filled: {error!r}") from None
        return Prompt(text, system=self.prefix, cache_system=True)


class TemplateRegistry(Mapping[str, PromptTemplate]):
    """The templates an engine knows, by name."""

    def __init__(self, templates: Iterable[PromptTemplate] = ()) -> None:
        self._templates: dict[str, PromptTemplate] = {}
        for template in templates:
            self.add(template)

    def add(self, template: PromptTemplate) -> None:
        if not isinstance(template, PromptTemplate):
            raise TypeError(f"{template!r} is not a podium.PromptTemplate")
        self._templates[template.name] = template

    def __getitem__(self, name: str) -> PromptTemplate:
        try:
            return self._templates[name]
        except KeyError:
            known = ", ".join(sorted(self._templates)) or "none"
            raise TemplateError(
                f"no template named {name!r}{suggest(name, self._templates)}; known templates: {known}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._templates)

    def __len__(self) -> int:
        return len(self._templates)


__all__ = ["PromptTemplate", "TemplateRegistry"]
