"""Render a workflow's graph as Mermaid, Graphviz DOT, SVG or a self-contained HTML page."""

from __future__ import annotations

import re

import click

from podium.cli.base import errors_exit_2, write_file
from podium.definition.graph import EdgeKind, GraphNode, WorkflowGraph, workflow_graph
from podium.definition.loader import load_target
from podium.report.graph_svg import render_graph
from podium.report.markup import tag
from podium.report.page import page
from podium.report.style import SVG_CSS

FORMATS = ("mermaid", "dot", "svg", "html")


def _mermaid_id(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _loop_limit(graph: WorkflowGraph, target: str) -> int:
    return next(node.max_visits for node in graph.nodes if node.name == target)


def _label(node: GraphNode) -> str:
    """A stage's name, with what it maps over: a mapped stage is drawn once for all its items."""
    return node.name + (f" (each item of {node.map})" if node.map is not None else "")


def _maps(graph: WorkflowGraph) -> dict[str, str | None]:
    return {node.name: node.map for node in graph.nodes}


def to_mermaid(graph: WorkflowGraph) -> str:
    """A Mermaid flowchart: solid arrows for ``needs``, dotted for ``needs_any``, labelled
    loop-backs; a mapped stage is a double-bordered box fed by a thick ``each`` arrow."""
    lines = ["flowchart TD"]
    for node in graph.nodes:
        label = (_label(node) + (" ⤳" if node.routes else "")).replace('"', "#quot;")
        box = '[["{}"]]' if node.map is not None else '["{}"]'
        lines.append(f"    {_mermaid_id(node.name)}{box.format(label)}")
    maps = _maps(graph)
    for edge in graph.edges:
        source, target = _mermaid_id(edge.source), _mermaid_id(edge.target)
        if edge.kind is EdgeKind.NEEDS:
            arrow = " ==>|each| " if maps[edge.target] == edge.source else " --> "
            lines.append(f"    {source}{arrow}{target}")
        elif edge.kind is EdgeKind.NEEDS_ANY:
            lines.append(f"    {source} -.-> {target}")
        else:
            lines.append(f'    {source} -. "loop ≤{_loop_limit(graph, edge.target)}" .-> {target}')
    return "\n".join(lines) + "\n"


def to_dot(graph: WorkflowGraph) -> str:
    """A Graphviz digraph: dashed edges for ``needs_any``, dotted loop-backs, diamonds for
    routing stages; a mapped stage is a double-bordered box fed by a bold ``each`` edge."""
    lines = [f"digraph {_dot_id(graph.workflow)} {{", "    rankdir=TB;", "    node [shape=box];"]
    for node in graph.nodes:
        shape = " shape=diamond" if node.routes else ""
        mapped = " peripheries=2" if node.map is not None else ""
        lines.append(f"    {_dot_id(node.name)} [label={_dot_id(_label(node))}{shape}{mapped}];")
    maps = _maps(graph)
    for edge in graph.edges:
        source, target = _dot_id(edge.source), _dot_id(edge.target)
        if edge.kind is EdgeKind.NEEDS:
            each = ' [style=bold label="each"]' if maps[edge.target] == edge.source else ""
            lines.append(f"    {source} -> {target}{each};")
        elif edge.kind is EdgeKind.NEEDS_ANY:
            lines.append(f"    {source} -> {target} [style=dashed];")
        else:
            label = f"loop ≤{_loop_limit(graph, edge.target)}"
            lines.append(f'    {source} -> {target} [style=dotted, constraint=false, label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(graph: WorkflowGraph) -> str:
    """A standalone SVG file (its style inside it)."""
    svg = render_graph(graph)
    # The drawing's own style goes first inside the root element, so the file renders alone.
    head, _, rest = svg.partition(">")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}>{tag("style", None, SVG_CSS)}{rest}\n'


def to_html(graph: WorkflowGraph) -> str:
    """A self-contained HTML page showing the graph."""
    body = tag("h1", None, graph.workflow), tag("section", {"class": "card"}, render_graph(graph))
    return page(f"{graph.workflow} · graph", tag("div", None, body))


RENDERERS = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg, "html": to_html}


@click.command()
@click.argument("target")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mermaid", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of stdout.",
)
@errors_exit_2
def graph(target: str, fmt: str, output: str | None) -> None:
    """Print the workflow's graph (Mermaid, Graphviz DOT, SVG or HTML), loop-back edges included."""
    text = RENDERERS[fmt](workflow_graph(load_target(target).workflow))
    if output is None:
        click.echo(text, nl=False)
    else:
        write_file(output, text)
