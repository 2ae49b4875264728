"""The critical path of a run: the chain of visits whose measured durations add up the most.

Each visit that ran waited for the latest visit of each of its dependencies that had
finished when it started, and — in a loop — for the visit whose route sent the run back
to it. Over those links, the longest chain by measured duration is the run's critical
path: shortening any visit on it shortens the run; shortening any other does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from podium.definition.graph import EdgeKind, WorkflowGraph
from podium.report.run_report import ReportVisit

# Clocks are read separately for a dependency's end and its dependent's start.
_SLACK = timedelta(milliseconds=1)


def _dependencies(graph: WorkflowGraph | None) -> dict[str, list[str]]:
    deps: dict[str, list[str]] = {}
    if graph is not None:
        for edge in graph.edges:
            if edge.kind is not EdgeKind.LOOP:
                deps.setdefault(edge.target, []).append(edge.source)
    return deps


def predecessors(visits: Sequence[ReportVisit], graph: WorkflowGraph | None) -> dict[int, list[int]]:
    """For each visit that ran (by index), the visits it waited for."""
    deps = _dependencies(graph)
    timed = [i for i, v in enumerate(visits) if v.started_at is not None]
    by_stage: dict[str, list[int]] = {}
    routed_to: dict[str, list[int]] = {}
    for j in timed:
        by_stage.setdefault(visits[j].name, []).append(j)
        for target in visits[j].route or ():
            routed_to.setdefault(target, []).append(j)
    links: dict[int, list[int]] = {}
    for i in timed:
        visit = visits[i]
        start = (visit.started_at or datetime.min) + _SLACK
        found: list[int] = []
        for dep in deps.get(visit.name, []):
            latest = _latest_finished(visits, by_stage.get(dep, ()), start)
            if latest is not None:
                found.append(latest)
        if visit.loop:
            router = _latest_finished(visits, routed_to.get(visit.name, ()), start)
            if router is not None and router not in found:
                found.append(router)
        links[i] = found
    return links


def _latest_finished(
    visits: Sequence[ReportVisit], candidates: Sequence[int], before: datetime
) -> int | None:
    """The candidate visit that finished last, no later than ``before``."""
    best: int | None = None
    best_end: datetime | None = None
    for j in candidates:
        end = visits[j].finished_at
        if end is None or end > before:
            continue
        if best_end is None or end > best_end:
            best, best_end = j, end
    return best


def critical_path(visits: Sequence[ReportVisit], graph: WorkflowGraph | None) -> list[int]:
    """Indexes of the visits on the critical path, first to last (empty if none ran)."""
    links = predecessors(visits, graph)
    order = sorted(links, key=lambda i: (visits[i].started_at or datetime.min, i))
    finish: dict[int, float] = {}
    came_from: dict[int, int | None] = {}
    for i in order:
        best: int | None = None
        for p in links[i]:
            if p in finish and (best is None or finish[p] > finish[best]):
                best = p
        finish[i] = visits[i].duration_s + (finish[best] if best is not None else 0.0)
        came_from[i] = best
    if not finish:
        return []
    end: int | None = max(finish, key=lambda i: (finish[i], -i))
    path: list[int] = []
    while end is not None:
        path.append(end)
        end = came_from[end]
    return path[::-1]
