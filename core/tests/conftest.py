"""Fixtures for core's tests; the podium pytest plugin (podium.testing) supplies the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import podium


@pytest.fixture
async def engine(podium_engine: Callable[..., podium.Engine]) -> AsyncIterator[podium.Engine]:
    """A started engine with the installed plugins, in-memory cache, default configuration."""
    async with podium_engine(
        agents={"echo": podium.SimulatedAgent(lambda p: p.upper(), input_tokens=100, output_tokens=50)}
    ) as started:
        yield started


@pytest.fixture
def run_workflow() -> Callable[..., Awaitable[podium.RunResult]]:
    """``await run_workflow(wf, **engine_options)``: one run on a fresh engine with the
    installed plugins, the default configuration and no cache."""

    async def run(wf: podium.Workflow, **options: Any) -> podium.RunResult:
        async with podium.Engine(config=podium.Config(), cache_url=False, **options) as engine:
            return await engine.run(wf)

    return run
