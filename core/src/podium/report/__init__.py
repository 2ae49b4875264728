"""Run reports: a run drawn as one self-contained HTML page (a face, like the command line).

- :class:`ReportRecorder`: an observer plugin keeping each run's :class:`RunReport`, live.
- :class:`RunReport`: a run's visits, graph, usage per model, budget and SLO target.
- :func:`render_report`: the page of a report; :func:`critical_path`: its critical path;
  :func:`workflow_graph`: a workflow's graph.
"""

from podium.definition.graph import WorkflowGraph, workflow_graph
from podium.report.critical import critical_path
from podium.report.live import ReportRecorder
from podium.report.page import render_report
from podium.report.run_report import ModelUsage, ReportVisit, RunReport

__all__ = [
    "ModelUsage",
    "ReportRecorder",
    "ReportVisit",
    "RunReport",
    "WorkflowGraph",
    "critical_path",
    "render_report",
    "workflow_graph",
]
