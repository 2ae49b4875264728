"""A tiny HTML/SVG builder whose only way in for text is escaping.

Every value that reaches a page goes through :func:`tag` (children and attribute values
are escaped) or :func:`escape`; only :class:`Markup` — what these functions return, and
the page's own constant CSS and script — is emitted as is. A stage value or error
containing ``<script>`` therefore stays text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9:-]*$")

#: Elements written without a closing tag.
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col"})


class Markup(str):
    """Text already safe to emit: built here from escaped parts, or a constant of the page."""

    __slots__ = ()


Child = Any  # str (escaped), Markup (kept), numbers, None (dropped), or iterables of those


def escape(value: Any) -> Markup:
    """``value`` as HTML text: a :class:`Markup` is kept, anything else is escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(children: Iterable[Child]) -> Markup:
    """Children concatenated, each escaped unless it is :class:`Markup`."""
    parts: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str):
            parts.append(escape(child))
        elif isinstance(child, Iterable):
            parts.append(join(child))
        else:
            parts.append(escape(child))
    return Markup("".join(parts))


def _attribute(name: str, value: Any) -> str:
    name = name.rstrip("_").replace("_", "-")  # class_ -> class, data_status -> data-status
    if not _NAME.match(name):
        raise ValueError(f"not an attribute name: {name!r}")
    if value is True:
        return f" {name}"
    if isinstance(value, float):
        value = f"{value:.2f}".rstrip("0").rstrip(".")
    return f' {name}="{html.escape(str(value), quote=True)}"'


def tag(name: str, attributes: Mapping[str, Any] | None = None, *children: Child) -> Markup:
    """``<name attributes>children</name>``; attributes that are ``None`` or ``False`` are left out."""
    if not _NAME.match(name):
        raise ValueError(f"not an element name: {name!r}")
    attrs = "".join(
        _attribute(key, value)
        for key, value in (attributes or {}).items()
        if value is not None and value is not False
    )
    if name in _VOID:
        return Markup(f"<{name}{attrs}>")
    return Markup(f"<{name}{attrs}>{join(children)}</{name}>")
