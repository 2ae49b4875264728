"""The dashboard over a run store: what every process recorded (``podium ui``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from podium.contract.run_store import RunStore
from podium.definition.agents import AgentDeclaration
from podium.foundation.redaction import redact_url
from podium.report.run_report import RunReport
from podium.report.stored import report_of, stored_report
from podium.ui.source import AgentState, RunFilters
from podium.values.alerts import Alert
from podium.values.kpis import SloTargets
from podium.values.records import BreakerChange, RunFilter

#: How many runs the workflow filter looks at for its choices.
_WORKFLOW_SCAN = 1000


def agent_state(name: str, declared: AgentDeclaration | None, change: BreakerChange | None) -> AgentState:
    """An agent as declared (``[agents.<name>]``) with its breaker as last recorded."""
    provider = (declared.provider if declared else None) or (change.provider if change else "")
    model = (declared.model if declared else None) or (change.model if change else "")
    if change is not None:
        when = datetime.fromtimestamp(change.changed_at, UTC)
        where = f"pid {change.pid} on {change.host}" if change.pid is not None else change.host
        detail = f"{change.reason}; since {when:%Y-%m-%d %H:%M:%S} UTC ({where})"
        return AgentState(name, provider, model, change.state, detail)
    policy = declared.breaker if declared else None
    if policy is None:
        return AgentState(name, provider, model)
    return AgentState(
        name, provider, model, "closed", f"no change recorded; opens after {policy.failures} failures"
    )


class StoreSource:
    """Reads a :class:`podium.RunStore`; :meth:`opened` opens it for the app's lifetime.
    ``agents`` are the declared ones, listed with the breaker changes the store recorded."""

    def __init__(
        self,
        store: RunStore,
        slo: SloTargets | None = None,
        agents: Mapping[str, AgentDeclaration] | None = None,
    ) -> None:
        self.store = store
        self.slo = slo
        self.declared = dict(agents or {})
        self.name = redact_url(store.url)

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[None]:
        await self.store.open()
        try:
            yield
        finally:
            await self.store.close()

    async def runs(self, filters: RunFilters) -> list[RunReport]:
        where = RunFilter(
            since=filters.since.timestamp() if filters.since else None,
            until=filters.until.timestamp() if filters.until else None,
            workflow=filters.workflow,
            status=filters.status,
            limit=filters.limit,
        )
        return [report_of(run, [], slo=self.slo) for run in await self.store.runs(where)]

    async def report(self, run_id: str) -> RunReport | None:
        run = await self.store.get_run(run_id)
        return await stored_report(self.store, run, self.slo) if run is not None else None

    async def workflows(self) -> list[str]:
        return sorted({run.workflow for run in await self.store.runs(RunFilter(limit=_WORKFLOW_SCAN))})

    async def alerts(self, limit: int) -> list[Alert]:
        return await self.store.alerts(RunFilter(limit=limit))

    async def agents(self) -> list[AgentState] | None:
        changes = {change.agent: change for change in await self.store.breaker_states()}
        names = sorted(set(self.declared) | set(changes))
        return [agent_state(name, self.declared.get(name), changes.get(name)) for name in names]
