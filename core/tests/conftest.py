"""Fixtures for core's tests; the podium pytest plugin (podium.testing) supplies the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

import podium


@pytest.fixture
async def engine(podium_engine: Callable[..., podium.Engine]) -> AsyncIterator[podium.Engine]:
    """A started engine with the installed plugins, in-memory cache, default configuration."""
    async with podium_engine(
        agents={"echo": podium.SimulatedAgent(lambda p: p.upper(), input_tokens=100, output_tokens=50)}
    ) as started:
        yield started
