"""An observer that keeps a report of each run it sees, live: what a report page is drawn from.

Register a :class:`ReportRecorder` on an engine (``Engine(plugins=[recorder])``); while a
run goes, :meth:`ReportRecorder.report` gives its :class:`RunReport` so far (status
``running``, running stages as ``running`` visits), and afterwards its final one. Beyond
what a :class:`podium.RunResult` holds, it notes when each failed attempt ended (the
timeline's retry marks) and which models the agent calls went to.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from podium.cli.console import visit_dict
from podium.definition.graph import WorkflowGraph, workflow_graph
from podium.definition.workflow import Stage
from podium.foundation.markers import hookimpl
from podium.report.run_report import RUNNING, ModelUsage, ReportVisit, RetryMark, RunReport
from podium.running.agents import AgentCall
from podium.running.context import Context
from podium.running.scheduler import RunState
from podium.values.alerts import Alert
from podium.values.model import RunResult, StageResult


@attrs.define
class _Run:
    state: RunState | None
    graph: WorkflowGraph
    visits: list[ReportVisit] = attrs.field(factory=list)
    running: dict[tuple[str, int], ReportVisit] = attrs.field(factory=dict)
    retries: dict[str, list[RetryMark]] = attrs.field(factory=dict)
    models: dict[tuple[str, str], ModelUsage] = attrs.field(factory=dict)
    final: RunReport | None = None


class ReportRecorder:
    """Keeps a :class:`RunReport` per run, updated by the lifecycle events, and the alerts
    raised (the newest ``keep`` of each)."""

    def __init__(self, keep: int = 100) -> None:
        self._runs: dict[str, _Run] = {}
        self._keep = keep
        #: The alerts raised while it listened, oldest first (the newest ``keep``).
        self.alerts: list[Alert] = []

    def run_ids(self) -> list[str]:
        """The runs recorded, oldest first."""
        return list(self._runs)

    def report(self, run_id: str) -> RunReport:
        """The run's report: final once it ended, else a snapshot of it so far."""
        run = self._runs[run_id]
        if run.final is not None:
            return run.final
        state = run.state
        assert state is not None  # a run without its final report is still going
        return RunReport(
            run_id=state.id,
            workflow=state.workflow.name,
            status=RUNNING,
            started_at=state.started_at,
            duration_s=state.elapsed_s,
            strategy=state.strategy.name,
            usage=state.usage,
            saved=state.saved,
            visits=(*run.visits, *run.running.values()),
            graph=run.graph,
            models=tuple(run.models.values()),
            budget=state.workflow.budget,
        )

    @hookimpl
    def podium_workflow_started(self, run: RunState) -> None:
        self._runs[run.id] = _Run(run, workflow_graph(run.workflow))
        while len(self._runs) > self._keep:
            del self._runs[next(iter(self._runs))]

    @hookimpl
    def podium_stage_started(self, run: RunState, stage: Stage, ctx: Context) -> None:
        recorded = self._runs.get(run.id)
        if recorded is not None:
            item = None if ctx.item_key is None else str(ctx.item_key)
            recorded.running[(stage.name, ctx.visit)] = ReportVisit(
                stage.name, ctx.visit, RUNNING, started_at=datetime.now(UTC), item=item
            )

    @hookimpl
    def podium_stage_retried(self, run: RunState, stage: Stage, attempt: int, error: BaseException) -> None:
        recorded = self._runs.get(run.id)
        if recorded is not None:
            text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            recorded.retries.setdefault(stage.name, []).append(RetryMark(attempt, run.elapsed_s, text))

    @hookimpl
    def podium_stage_ended(self, run: RunState, stage: Stage, result: StageResult) -> None:
        recorded = self._runs.get(run.id)
        if recorded is None or result.items is not None:
            return  # a mapped stage's gathered result: its items are the visits
        recorded.running.pop((stage.name, result.visit), None)
        visit = ReportVisit.from_json(visit_dict(result))
        retries = recorded.retries.pop(stage.name, [])
        recorded.visits.append(attrs.evolve(visit, retries=tuple(retries)))

    @hookimpl
    def podium_agent_call_ended(self, run: RunState, call: AgentCall) -> None:
        recorded = self._runs.get(run.id)
        if recorded is None or call.cached:
            return
        key = (call.provider, call.model)
        before = recorded.models.get(key, ModelUsage(call.model, call.provider))
        recorded.models[key] = attrs.evolve(before, calls=before.calls + 1, usage=before.usage + call.usage)

    @hookimpl
    def podium_alert_raised(self, alert: Alert) -> None:
        self.alerts.append(alert)
        del self.alerts[: -self._keep]

    @hookimpl
    def podium_workflow_ended(self, run: RunState, result: RunResult) -> None:
        recorded = self._runs.get(run.id)
        if recorded is None:
            return
        # The result's history is the truth (it also holds visits no event announced); the
        # visits the events announced are reused, with the retries only they know.
        seen = {(v.name, v.visit, v.item, v.status): v for v in recorded.visits}
        visits = tuple(
            seen.get((r.name, r.visit, None if r.item_key is None else str(r.item_key), r.status.value))
            or ReportVisit.from_json(visit_dict(r))
            for r in result.history
        )
        final = RunReport.from_result(
            result,
            graph=recorded.graph,
            strategy=run.strategy.name,
            budget=run.workflow.budget,
            models=recorded.models.values(),
            visits=visits,
        )
        recorded.final = final
        recorded.state = None
