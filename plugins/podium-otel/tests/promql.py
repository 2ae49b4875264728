"""The PromQL the Grafana dashboard uses, evaluated as Prometheus does over two scrapes.

The dashboard's queries use selectors with label matchers (``=``, ``!=``, ``=~``,
``!~``), ``rate`` and ``increase`` over a range, ``sum``/``topk`` with ``by``,
``histogram_quantile``, the arithmetic operators between vectors (one-to-one, on equal
label sets) and with numbers. This module parses exactly that and evaluates it the way
Prometheus's engine does, with the range covering two scrapes of the real endpoint:

- a series is its label set, a label with an empty value being no label (as Prometheus
  stores it: OpenTelemetry's exporter writes ``error_type=""`` on every series of a metric
  once one series has the label);
- a range function sees each series' samples in the range; a series with fewer than two
  samples (one that first appeared in the later scrape) yields nothing, which is why a
  counter must be published at 0 before its first increment;
- ``increase`` is the last sample minus the first (a drop is a counter reset: the later
  value counts whole). Prometheus then extrapolates to the range's edges; with the two
  samples at the edges, as here, that factor is 1. ``rate`` is ``increase`` per second
  between the samples;
- aggregations and range functions drop the metric name; ``sum by (l)`` groups on ``l``
  (a missing label counts as empty); division by zero gives NaN (0/0) or infinity;
- ``histogram_quantile`` interpolates linearly inside the bucket holding the rank, the
  first bucket starting at 0, and answers the highest finite bound for the ``+Inf`` one.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

Labels = tuple[tuple[str, str], ...]
Vector = dict[Labels, float]
Value = Vector | float

_TOKEN = re.compile(
    r'\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<range>\[[^\]]+\])'
    r"|(?P<op>=~|!~|!=|[=(){},/*+-])|(?P<ident>[A-Za-z_:][\w:]*))"
)
_AGGREGATIONS = ("sum", "topk")


@attrs.frozen
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@attrs.frozen
class Scrape:
    """Every sample of one scrape of a ``/metrics`` endpoint, and when it was taken."""

    at: float
    samples: Sequence[Sample]


def _labels(mapping: Mapping[str, str], drop: tuple[str, ...] = ()) -> Labels:
    # An empty value is no label at all, as Prometheus stores it (exporters pad label sets).
    return tuple(sorted((k, v) for k, v in mapping.items() if v and k not in drop))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise SyntaxError(f"cannot read {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> str:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise SyntaxError(f"expected {value!r}, found {token!r}")
        self.index += 1
        return token[1]

    def expression(self) -> Any:
        node = self.product()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            node = ("binary", self.take(), node, self.product())
        return node

    def product(self) -> Any:
        node = self.atom()
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            node = ("binary", self.take(), node, self.atom())
        return node

    def atom(self) -> Any:
        token = self.peek()
        if token is None:
            raise SyntaxError("unexpected end of query")
        kind, value = token
        if kind == "number":
            self.take()
            return ("number", float(value))
        if value == "(":
            self.take("(")
            node = self.expression()
            self.take(")")
            return node
        name = self.take()
        if name in _AGGREGATIONS:
            by = self.grouping()
            self.take("(")
            parameter = None
            if name == "topk":
                parameter = float(self.take())
                self.take(",")
            inner = self.expression()
            self.take(")")
            return ("aggregate", name, by if by is not None else self.grouping(), parameter, inner)
        if name in ("rate", "increase"):
            self.take("(")
            selector = self.selector(self.take())
            window = self.take()
            if not window.startswith("["):
                raise SyntaxError(f"{name} needs a range, found {window!r}")
            self.take(")")
            return ("range", name, selector)
        if name == "histogram_quantile":
            self.take("(")
            quantile = float(self.take())
            self.take(",")
            inner = self.expression()
            self.take(")")
            return ("quantile", quantile, inner)
        return self.selector(name)

    def grouping(self) -> tuple[str, ...] | None:
        token = self.peek()
        if token is None or token[1] != "by":
            return None
        self.take("by")
        self.take("(")
        names = []
        while self.peek() != ("op", ")"):
            names.append(self.take())
            if self.peek() == ("op", ","):
                self.take(",")
        self.take(")")
        return tuple(names)

    def selector(self, name: str) -> Any:
        matchers = []
        if self.peek() == ("op", "{"):
            self.take("{")
            while self.peek() != ("op", "}"):
                label, operator, literal = self.take(), self.take(), self.take()
                matchers.append((label, operator, literal[1:-1].encode().decode("unicode_escape")))
                if self.peek() == ("op", ","):
                    self.take(",")
            self.take("}")
        return ("selector", name, tuple(matchers))


def _matches(labels: Mapping[str, str], matchers: Sequence[tuple[str, str, str]]) -> bool:
    for label, operator, pattern in matchers:
        value = labels.get(label, "")
        if operator == "=" and value != pattern:
            return False
        if operator == "!=" and value == pattern:
            return False
        if operator == "=~" and not re.fullmatch(pattern, value):
            return False
        if operator == "!~" and re.fullmatch(pattern, value):
            return False
    return True


def _select(scrape: Scrape, selector: Any) -> dict[Labels, float]:
    _, name, matchers = selector
    return {
        _labels(s.labels): s.value for s in scrape.samples if s.name == name and _matches(s.labels, matchers)
    }


def _divide(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


_OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    buckets.sort()
    if not buckets or not math.isinf(buckets[-1][0]):
        return math.nan
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    for position, (upper, count) in enumerate(buckets):
        if count >= rank:
            if math.isinf(upper):
                return buckets[-2][0] if len(buckets) > 1 else math.nan
            lower, below = (0.0, 0.0) if position == 0 else buckets[position - 1]
            if position == 0 and upper <= 0:
                return upper
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
    return math.nan


def _evaluate(node: Any, before: Scrape, now: Scrape) -> Value:
    kind = node[0]
    if kind == "number":
        return float(node[1])
    if kind == "selector":
        return _select(now, node)
    if kind == "range":
        _, function, selector = node
        first, last = _select(before, selector), _select(now, selector)
        out: Vector = {}
        for labels, value in last.items():
            if labels not in first:
                continue  # one sample in the range: no increase, no rate
            increase = value - first[labels] if value >= first[labels] else value
            out[labels] = increase if function == "increase" else increase / (now.at - before.at)
        return out
    if kind == "aggregate":
        _, name, by, parameter, inner = node
        vector = _evaluate(inner, before, now)
        assert isinstance(vector, dict), f"{name} of a number"
        if name == "topk":
            ranked = sorted(vector.items(), key=lambda item: -item[1])
            return dict(ranked[: int(parameter)])
        groups: dict[Labels, float] = defaultdict(float)
        for labels, value in vector.items():
            found = dict(labels)
            key = tuple((label, found[label]) for label in sorted(by or ()) if found.get(label))
            groups[key] += value
        return dict(groups)
    if kind == "quantile":
        _, q, inner = node
        vector = _evaluate(inner, before, now)
        assert isinstance(vector, dict)
        series: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
        for labels, value in vector.items():
            found = dict(labels)
            series[_labels(found, drop=("le",))].append((float(found["le"]), value))
        return {labels: _quantile(q, buckets) for labels, buckets in series.items()}
    if kind == "binary":
        _, operator, left_node, right_node = node
        left, right = _evaluate(left_node, before, now), _evaluate(right_node, before, now)
        apply = _OPERATORS[operator]
        if isinstance(left, float) and isinstance(right, float):
            return float(apply(left, right))
        if isinstance(left, float):
            assert isinstance(right, dict)
            return {labels: apply(left, value) for labels, value in right.items()}
        if isinstance(right, float):
            return {labels: apply(value, right) for labels, value in left.items()}
        return {labels: apply(value, right[labels]) for labels, value in left.items() if labels in right}
    raise ValueError(f"unknown node {node!r}")


def evaluate(query: str, before: Scrape, now: Scrape, variables: Mapping[str, str] | None = None) -> Value:
    """The value of ``query`` at ``now``, its ranges spanning from ``before``.

    ``variables`` replace Grafana's ``$name`` placeholders (ranges need none: a range is
    always the span between the two scrapes).
    """
    for name, value in (variables or {}).items():
        query = query.replace(f"${name}", value)
    parser = _Parser(query)
    node = parser.expression()
    if parser.peek() is not None:
        raise SyntaxError(f"unread {parser.tokens[parser.index :]!r} in {query!r}")
    return _evaluate(node, before, now)


__all__ = ["Labels", "Sample", "Scrape", "Vector", "evaluate"]
