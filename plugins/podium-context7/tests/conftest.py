"""Fixtures: a fake Context7 on 127.0.0.1 and engines configured to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

import podium
from podium_context7.testing import FakeContext7, make_library

API_KEY = "ctx7sk-test-5ecret-a1b2c3d4e5f6"

DocsCall = Callable[..., Awaitable[podium.DocBundle]]


def standard_libraries() -> list[Any]:
    """FastAPI, SQLAlchemy and pytest (about 5,000 tokens each) plus look-alikes."""
    return [
        make_library("/tiangolo/fastapi", "FastAPI", trust=9.9, benchmark=90),
        make_library("/websites/fastapi_tiangolo", "FastAPI", trust=7.5, benchmark=85, total_tokens=800),
        make_library("/fastapi-users/fastapi-users", "FastAPI Users", trust=9.0, total_tokens=600),
        make_library("/sqlalchemy/sqlalchemy", "SQLAlchemy", trust=9.5, benchmark=88),
        make_library("/pytest-dev/pytest", "pytest", trust=9.6, benchmark=86),
    ]


@pytest.fixture
def fake() -> Iterator[FakeContext7]:
    with FakeContext7(standard_libraries(), api_key=API_KEY) as server:
        yield server


def make_config(fake: FakeContext7, **section: Any) -> podium.Config:
    """A configuration pointing the plugin at ``fake``, with quick retries."""
    values: dict[str, Any] = {
        "base_url": fake.url,
        "api_key": API_KEY,
        "backoff": 0.01,
        "max_backoff": 0.05,
        "timeout": 5.0,
    }
    values.update(section)
    return podium.Config({"strategy": "sequential", "plugins": {"context7": values}})


@pytest.fixture
async def engine(fake: FakeContext7) -> AsyncIterator[podium.Engine]:
    async with podium.Engine(config=make_config(fake)) as started:
        yield started


async def run_docs(
    engine: podium.Engine,
    calls: Sequence[Mapping[str, Any]],
    *,
    name: str = "docs",
) -> podium.RunResult:
    """Run a workflow with one stage per call of ``ctx.docs(**call)``, in order."""
    wf = podium.Workflow(name, strategy="sequential")
    previous: str | None = None
    for n, call in enumerate(calls):

        async def body(ctx: podium.Context, _call: Mapping[str, Any] = call) -> podium.DocBundle:
            return await ctx.docs(**_call)

        stage = f"stage{n}"
        wf.add_stage(body, name=stage, needs=[previous] if previous else None)
        previous = stage
    return await engine.run(wf)


async def docs(engine: podium.Engine, libraries: Sequence[str], **options: Any) -> podium.DocBundle:
    """One ``ctx.docs`` call inside a one-stage workflow; its bundle (the stage must succeed)."""
    options.setdefault("query", "async sessions")
    result = await run_docs(engine, [{"libraries": list(libraries), **options}])
    stage = result["stage0"]
    assert stage.ok, stage.error
    bundle: podium.DocBundle = stage.value
    return bundle
