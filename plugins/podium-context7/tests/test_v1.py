"""The v1 fallback: /v1/search and /v1/{owner}/{repo}?tokens&topic&type=txt, budgeted by estimate."""

from __future__ import annotations

import podium
from podium_context7.snippets import SEPARATOR
from podium_context7.testing import FakeContext7

from .conftest import docs, make_config


async def test_v1_mode_uses_the_old_endpoints_and_still_shares_the_budget(fake: FakeContext7) -> None:
    async with podium.Engine(config=make_config(fake, api="v1", default_tokens=4000)) as engine:
        bundle = await docs(engine, ["fastapi", "pytest"], query="fixtures", tokens=1500)

    searched = sorted(r.params["query"] for r in fake.requests if r.path == "/v1/search")
    assert searched == ["fastapi", "pytest"]
    context = next(r for r in fake.requests if r.path == "/v1/tiangolo/fastapi")
    assert context.params == {"tokens": "4000", "topic": "fixtures", "type": "txt"}
    assert [d.library_id for d in bundle.documents] == ["/tiangolo/fastapi", "/pytest-dev/pytest"]
    assert 0 < bundle.tokens <= 1500
    assert all(part.startswith("### ") for d in bundle.documents for part in d.text.split(SEPARATOR))


async def test_v1_versions_are_path_segments(fake: FakeContext7) -> None:
    fake.libraries["/tiangolo/fastapi/0.110"] = fake.libraries["/tiangolo/fastapi"]
    async with podium.Engine(config=make_config(fake, api="v1")) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi@0.110"])
    assert bundle.ok
    assert fake.count("/v1/tiangolo/fastapi/0.110") == 1
