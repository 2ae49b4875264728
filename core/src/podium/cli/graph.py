"""Render a workflow's graph as Mermaid or Graphviz DOT."""

from __future__ import annotations

import re

import click

from podium.cli.base import errors_exit_2
from podium.definition.loader import load_target
from podium.definition.workflow import Stage, Workflow


def _mermaid_id(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _label(stage: Stage) -> str:
    """A stage's name, with what it maps over: a mapped stage is drawn once for all its items."""
    return stage.name + (f" (each item of {stage.map})" if stage.map is not None else "")


def to_mermaid(workflow: Workflow) -> str:
    """A Mermaid flowchart: solid arrows for ``needs``, dotted for ``needs_any``, labels for
    routes; a mapped stage is a double-bordered box fed by a thick ``each`` arrow."""
    workflow.plan()
    lines = ["flowchart TD"]
    for stage in workflow.stages.values():
        label = _label(stage) + (" ⤳" if stage.route is not None else "")
        box = '[["{}"]]' if stage.map is not None else '["{}"]'
        lines.append(f"    {_mermaid_id(stage.name)}{box.format(label)}")
    for stage in workflow.stages.values():
        for dep in stage.needs:
            arrow = " ==>|each| " if dep == stage.map else " --> "
            lines.append(f"    {_mermaid_id(dep)}{arrow}{_mermaid_id(stage.name)}")
        for dep in stage.needs_any:
            lines.append(f"    {_mermaid_id(dep)} -.-> {_mermaid_id(stage.name)}")
    return "\n".join(lines) + "\n"


def to_dot(workflow: Workflow) -> str:
    """A Graphviz digraph: dashed edges for ``needs_any``, diamonds for routing stages; a
    mapped stage is a double-bordered box fed by a bold ``each`` edge."""
    workflow.plan()
    lines = [f'digraph "{workflow.name}" {{', "    rankdir=TB;", "    node [shape=box];"]
    for stage in workflow.stages.values():
        shape = " shape=diamond" if stage.route is not None else ""
        mapped = " peripheries=2" if stage.map is not None else ""
        lines.append(f'    "{stage.name}" [label="{_label(stage)}"{shape}{mapped}];')
    for stage in workflow.stages.values():
        for dep in stage.needs:
            each = ' [style=bold label="each"]' if dep == stage.map else ""
            lines.append(f'    "{dep}" -> "{stage.name}"{each};')
        for dep in stage.needs_any:
            lines.append(f'    "{dep}" -> "{stage.name}" [style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("target")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@errors_exit_2
def graph(target: str, fmt: str) -> None:
    """Print the workflow's dependency graph (Mermaid or Graphviz DOT)."""
    workflow = load_target(target).workflow
    click.echo(to_mermaid(workflow) if fmt == "mermaid" else to_dot(workflow), nl=False)
