"""The dashboard over a run store: what every process recorded (``podium ui``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from podium.contract.run_store import RunStore
from podium.foundation.redaction import redact_url
from podium.report.run_report import RunReport
from podium.report.stored import report_of, stored_report
from podium.ui.source import AgentState, RunFilters
from podium.values.alerts import Alert
from podium.values.kpis import SloTargets
from podium.values.records import RunFilter

#: How many runs the workflow filter looks at for its choices.
_WORKFLOW_SCAN = 1000


class StoreSource:
    """Reads a :class:`podium.RunStore`; :meth:`opened` opens it for the app's lifetime."""

    def __init__(self, store: RunStore, slo: SloTargets | None = None) -> None:
        self.store = store
        self.slo = slo
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
        return None  # a store keeps runs, not the agents of the processes that made them
