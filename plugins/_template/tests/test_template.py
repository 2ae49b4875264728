"""Tests of the template plugin: copy and adapt."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

import podium
import podium_template


async def test_podium_workflow_ended_is_logged(
    podium_engine: Callable[..., podium.Engine], caplog: pytest.LogCaptureFixture
) -> None:
    wf = podium.Workflow("demo", strategy="sequential")

    @wf.stage
    async def one() -> int:
        return 1

    with caplog.at_level(logging.INFO, logger="podium.plugins.template"):
        async with podium_engine(plugins=(podium_template,)) as engine:
            await engine.run(wf)
    assert "workflow demo finished: succeeded" in caplog.text
