"""A workflow's graph as inline SVG, left to right; with a run, the route it took stands out.

Layout: a stage's column is the length of the longest chain of dependencies before it;
within a column stages keep declaration order, then move towards the mean row of their
dependencies (one pass is enough for the graphs people draw). Loop-back edges arc below
the graph so that they never cross a forward edge's arrowhead.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from podium.definition.graph import EdgeKind, GraphEdge, WorkflowGraph
from podium.report.markup import Markup, tag
from podium.report.run_report import ReportVisit, RunReport

NODE_W = 138
NODE_H = 34
COL_W = 190
ROW_H = 56
PAD = 16
LOOP_DROP = 14
LANE_H = 16
GAP = (COL_W - NODE_W) / 2  # the middle of the space between two columns


@attrs.frozen
class _Layout:
    position: Mapping[str, tuple[float, float]]
    width: float
    height: float
    #: The y of the lane below the boxes along which each loop-back edge runs.
    lanes: Mapping[tuple[str, str], float]


def layout(graph: WorkflowGraph) -> _Layout:
    """Where each stage's box goes (top-left corner), and the drawing's size."""
    names = [node.name for node in graph.nodes]
    deps: dict[str, list[str]] = {name: [] for name in names}
    for edge in graph.edges:
        if edge.kind is not EdgeKind.LOOP:
            deps[edge.target].append(edge.source)
    column: dict[str, int] = {}
    for name in names:  # declaration order is not topological in general: settle repeatedly
        column[name] = 0
    for _ in range(len(names)):
        changed = False
        for name in names:
            wanted = max((column[d] + 1 for d in deps[name]), default=0)
            if wanted != column[name]:
                column[name], changed = wanted, True
        if not changed:
            break
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(column[name], []).append(name)
    row: dict[str, float] = {}
    for c in sorted(columns):
        members = columns[c]
        for n, name in enumerate(members):
            row[name] = float(n)
        if c:
            mean_row = {
                name: sum(row[d] for d in deps[name]) / len(deps[name]) if deps[name] else row[name]
                for name in members
            }
            members.sort(key=lambda name: (mean_row[name], row[name]))
            for n, name in enumerate(members):
                row[name] = float(n)
    tallest = max((len(m) for m in columns.values()), default=1)
    position = {}
    for c, members in columns.items():
        offset = (tallest - len(members)) * ROW_H / 2  # centre short columns
        for name in members:
            position[name] = (PAD + c * COL_W, PAD + offset + row[name] * ROW_H)
    loops = [(e.source, e.target) for e in graph.edges if e.kind is EdgeKind.LOOP and e.source != e.target]
    boxes_bottom = PAD + (tallest - 1) * ROW_H + NODE_H
    lanes = {edge: boxes_bottom + LOOP_DROP + n * LANE_H for n, edge in enumerate(loops)}
    width = PAD * 2 + (max(columns, default=0)) * COL_W + NODE_W + (GAP if loops else 0)
    height = boxes_bottom + PAD + (LOOP_DROP + len(loops) * LANE_H if loops else 0)
    return _Layout(position, width, height, lanes)


def _edge_path(edge: GraphEdge, at: _Layout) -> str:
    sx, sy = at.position[edge.source]
    tx, ty = at.position[edge.target]
    if edge.kind is EdgeKind.LOOP:
        if edge.source == edge.target:
            x, y = sx + NODE_W - 18, sy
            end = f"{sx + NODE_W:.1f},{sy + 10:.1f}"
            return f"M{x:.1f},{y:.1f} C{x + 10:.1f},{y - 26:.1f} {x + 34:.1f},{y - 6:.1f} {end}"
        # Out of the source's right side, down the gap after its column, back along its
        # lane below every box, up the gap before the target's column, into its left side.
        lane = at.lanes[(edge.source, edge.target)]
        out_x, in_x = sx + NODE_W + GAP, tx - GAP
        y1, y2 = sy + NODE_H - 8, ty + NODE_H - 8
        r = 6
        return (
            f"M{sx + NODE_W:.1f},{y1:.1f} H{out_x - r:.1f} Q{out_x:.1f},{y1:.1f} {out_x:.1f},{y1 + r:.1f} "
            f"V{lane - r:.1f} Q{out_x:.1f},{lane:.1f} {out_x - r:.1f},{lane:.1f} H{in_x + r:.1f} "
            f"Q{in_x:.1f},{lane:.1f} {in_x:.1f},{lane - r:.1f} V{y2 + r:.1f} "
            f"Q{in_x:.1f},{y2:.1f} {in_x + r:.1f},{y2:.1f} H{tx - 2:.1f}"
        )
    x1, y1 = sx + NODE_W, sy + NODE_H / 2
    x2, y2 = tx, ty + NODE_H / 2
    bend = max((x2 - x1) / 2, 20)
    return f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2 - 2:.1f},{y2:.1f}"


def _loop_label_at(edge: GraphEdge, at: _Layout) -> tuple[float, float]:
    sx, sy = at.position[edge.source]
    if edge.source == edge.target:
        return sx + NODE_W + 6, sy - 8
    tx, _ = at.position[edge.target]
    return (sx + NODE_W + tx) / 2, at.lanes[(edge.source, edge.target)] - 3


def _taken(edge: GraphEdge, by_stage: Mapping[str, list[ReportVisit]]) -> bool:
    """Whether the run went along ``edge`` in any of its rounds."""
    sources = by_stage.get(edge.source, [])
    if edge.kind is EdgeKind.LOOP:
        return any(v.route is not None and edge.target in v.route for v in sources)
    if not any(v.started_at is not None for v in by_stage.get(edge.target, [])):
        return False
    ran = [v for v in sources if v.status in ("succeeded", "cached")]
    return any(v.route is None or edge.target in v.route for v in ran)


def render_graph(graph: WorkflowGraph, report: RunReport | None = None) -> Markup:
    """The graph SVG; with ``report``, stages coloured by their latest visit and the route taken bold."""
    at = layout(graph)
    by_stage: dict[str, list[ReportVisit]] = {}
    for visit in report.visits if report is not None else ():
        by_stage.setdefault(visit.name, []).append(visit)
    edges = []
    for edge in graph.edges:
        classes = ["edge", edge.kind.value]
        if report is not None:
            classes.append("taken" if _taken(edge, by_stage) else "not-taken")
        label = None
        if edge.kind is EdgeKind.LOOP:
            limit = next((n.max_visits for n in graph.nodes if n.name == edge.target), 1)
            x, y = _loop_label_at(edge, at)
            label = tag(
                "text", {"class": "edge-label", "x": x, "y": y, "text-anchor": "middle"}, f"loop ≤{limit}"
            )
        edges.append(
            tag(
                "g",
                {"class": " ".join(classes), "data-source": edge.source, "data-target": edge.target},
                tag("title", None, f"{edge.source} → {edge.target} ({_edge_kind(edge, graph)})"),
                tag("path", {"d": _edge_path(edge, at), "marker-end": "url(#graph-arrow)"}),
                label,
            )
        )
    nodes = []
    for node in graph.nodes:
        x, y = at.position[node.name]
        shown = by_stage[node.name][-1] if node.name in by_stage else None
        status = shown.status if shown is not None else ("pending" if report is not None else "defined")
        tip = node.name + (f" — {node.description}" if node.description else "")
        if shown is not None:
            tip += f"\nlatest: {shown.status}" + (f" ({shown.reason})" if shown.reason else "")
        count = len(by_stage.get(node.name, ()))
        nodes.append(
            tag(
                "g",
                {
                    "class": f"node status-{status}",
                    "data-stage": node.name,
                    "data-status": status,
                    "data-tip": tip,
                },
                tag("title", None, tip),
                tag(
                    "rect",
                    {"x": x, "y": y, "width": NODE_W, "height": NODE_H, "rx": 17 if node.routes else 5},
                ),
                # A mapped stage, drawn once for all its items, has a double border.
                tag(
                    "rect",
                    {
                        "class": "inner",
                        "x": x + 3,
                        "y": y + 3,
                        "width": NODE_W - 6,
                        "height": NODE_H - 6,
                        "rx": 3,
                    },
                )
                if node.map is not None
                else None,
                tag(
                    "text",
                    {"x": x + NODE_W / 2, "y": y + NODE_H / 2 + 4, "text-anchor": "middle"},
                    ("◆ " if node.routes else "") + _short(node.name),
                ),
                tag(
                    "text",
                    {"class": "count", "x": x + NODE_W - 6, "y": y + 11, "text-anchor": "end"},
                    f"x{count}",
                )
                if count > 1
                else None,
            )
        )
    return tag(
        "svg",
        {
            "class": "graph",
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {at.width:.0f} {at.height:.0f}",
            "width": f"{at.width:.0f}",
            "height": f"{at.height:.0f}",
            "role": "img",
            "aria-label": f"graph of workflow {graph.workflow}",
        },
        tag(
            "defs",
            None,
            tag(
                "marker",
                {
                    "id": "graph-arrow",
                    "viewBox": "0 0 8 8",
                    "refX": 7,
                    "refY": 4,
                    "markerWidth": 9,
                    "markerHeight": 9,
                    "markerUnits": "userSpaceOnUse",
                    "orient": "auto",
                },
                tag("path", {"d": "M0,0 L8,4 L0,8 z", "class": "arrowhead"}),
            ),
        ),
        edges,
        nodes,
    )


def _edge_kind(edge: GraphEdge, graph: WorkflowGraph) -> str:
    mapped = any(n.name == edge.target and n.map == edge.source for n in graph.nodes)
    return "each item" if mapped and edge.kind is EdgeKind.NEEDS else edge.kind.value


def _short(name: str, limit: int = 17) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
