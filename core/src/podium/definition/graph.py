"""A workflow's graph as data: its stages and every edge a run can take, loop-backs included.

``needs`` and ``needs_any`` edges are in the definition; a bounded loop's edge back is
not — it lives in a ``route`` function (``route=lambda _: "review"``). What *can* loop
back is known from the definition, though: a routing stage can send the run back to
itself or to an ancestor whose ``max_visits`` is above 1. A mapping route names its
targets, so only those are drawn. The renderers (``podium graph``, the run report) and
the run store all read the graph from here, in one JSON-able form.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from podium.definition.workflow import Workflow


class EdgeKind(enum.StrEnum):
    """Why a run can go from one stage to another."""

    #: ``needs``: the target runs once the source succeeded.
    NEEDS = "needs"
    #: ``needs_any``: the target is a join, run after whichever of its sources ran.
    NEEDS_ANY = "needs_any"
    #: A route back to an earlier stage (or the stage itself): a round of a bounded loop.
    LOOP = "loop"


@attrs.frozen
class GraphNode:
    """A stage as the graph shows it."""

    name: str
    description: str = ""
    #: Whether the stage declares a ``route`` (it chooses among its dependents).
    routes: bool = False
    max_visits: int = 1


@attrs.frozen
class GraphEdge:
    source: str
    target: str
    kind: EdgeKind


@attrs.frozen
class WorkflowGraph:
    """Stages in declaration order and edges; ``loop`` edges point back up the graph."""

    workflow: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "nodes": [attrs.asdict(node) for node in self.nodes],
            "edges": [{"source": e.source, "target": e.target, "kind": e.kind.value} for e in self.edges],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowGraph:
        """The graph back from :meth:`to_json` (as a run store keeps it)."""
        return cls(
            workflow=str(data["workflow"]),
            nodes=tuple(
                GraphNode(
                    name=str(n["name"]),
                    description=str(n.get("description", "")),
                    routes=bool(n.get("routes", False)),
                    max_visits=int(n.get("max_visits", 1)),
                )
                for n in data["nodes"]
            ),
            edges=tuple(
                GraphEdge(str(e["source"]), str(e["target"]), EdgeKind(e["kind"])) for e in data["edges"]
            ),
        )


def workflow_graph(workflow: Workflow) -> WorkflowGraph:
    """The graph of a valid workflow (raises :class:`podium.DefinitionErrors` otherwise)."""
    plan = workflow.plan()
    nodes = tuple(
        GraphNode(stage.name, stage.description, stage.route is not None, stage.max_visits)
        for stage in plan.stages
    )
    edges: list[GraphEdge] = []
    for stage in plan.stages:
        edges += [GraphEdge(dep, stage.name, EdgeKind.NEEDS) for dep in stage.needs]
        edges += [GraphEdge(dep, stage.name, EdgeKind.NEEDS_ANY) for dep in stage.needs_any]
    edges += _loop_edges(workflow)
    return WorkflowGraph(workflow.name, nodes, tuple(edges))


def _loop_edges(workflow: Workflow) -> list[GraphEdge]:
    plan = workflow.plan()
    # Which stages each loop target reaches: a routing stage among them can send the run back.
    back_to: dict[int, list[str]] = {}
    for t, target in enumerate(plan.stages):
        if target.max_visits > 1:
            for i in (t, *plan.descendants(t)):
                back_to.setdefault(i, []).append(target.name)
    edges = []
    for i, stage in enumerate(plan.stages):
        if stage.route is None:
            continue
        possible = back_to.get(i, [])
        declared = stage.route_targets
        edges += [
            GraphEdge(stage.name, target, EdgeKind.LOOP)
            for target in possible
            if declared is None or target in declared
        ]
    return edges
