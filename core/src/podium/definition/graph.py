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
from collections.abc import Mapping, Sequence
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
    #: The dependency whose items a mapped stage runs once each (``map=``), if it maps.
    map: str | None = None


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
                    map=n.get("map"),
                )
                for n in data["nodes"]
            ),
            edges=tuple(
                GraphEdge(str(e["source"]), str(e["target"]), EdgeKind(e["kind"])) for e in data["edges"]
            ),
        )


@attrs.frozen
class StageShape:
    """What the graph needs of a stage, from a definition or from a stored fingerprint."""

    name: str
    needs: tuple[str, ...] = ()
    needs_any: tuple[str, ...] = ()
    #: Whether it declares a route, and the targets a mapping route names (``None``: a function's).
    routes: bool = False
    route_targets: frozenset[str] | None = None
    max_visits: int = 1
    description: str = ""
    map: str | None = None


def workflow_graph(workflow: Workflow) -> WorkflowGraph:
    """The graph of a valid workflow (raises :class:`podium.DefinitionErrors` otherwise)."""
    shapes = [
        StageShape(
            stage.name,
            stage.needs,
            stage.needs_any,
            stage.route is not None,
            stage.route_targets,
            stage.max_visits,
            stage.description,
            stage.map,
        )
        for stage in workflow.plan().stages
    ]
    return build_graph(workflow.name, shapes)


def build_graph(workflow: str, shapes: Sequence[StageShape]) -> WorkflowGraph:
    """The graph of stages given in declaration order, every dependency among them."""
    nodes = tuple(GraphNode(s.name, s.description, s.routes, s.max_visits, s.map) for s in shapes)
    edges: list[GraphEdge] = []
    for shape in shapes:
        edges += [GraphEdge(dep, shape.name, EdgeKind.NEEDS) for dep in shape.needs]
        edges += [GraphEdge(dep, shape.name, EdgeKind.NEEDS_ANY) for dep in shape.needs_any]
    return WorkflowGraph(workflow, nodes, tuple(edges + _loop_edges(shapes)))


def _loop_edges(shapes: Sequence[StageShape]) -> list[GraphEdge]:
    dependents: dict[str, list[str]] = {s.name: [] for s in shapes}
    for shape in shapes:
        for dep in (*shape.needs, *shape.needs_any):
            dependents[dep].append(shape.name)
    # Which loop targets reach each stage: a routing stage among them can send the run back.
    back_to: dict[str, list[str]] = {}
    for target in shapes:
        if target.max_visits > 1:
            reached, stack = {target.name}, [target.name]
            while stack:
                for after in dependents[stack.pop()]:
                    if after not in reached:
                        reached.add(after)
                        stack.append(after)
            for name in reached:
                back_to.setdefault(name, []).append(target.name)
    return [
        GraphEdge(shape.name, target, EdgeKind.LOOP)
        for shape in shapes
        if shape.routes
        for target in back_to.get(shape.name, [])
        if shape.route_targets is None or target in shape.route_targets
    ]
