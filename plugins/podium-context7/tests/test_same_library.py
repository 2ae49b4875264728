"""Names that end at the same library — a redirect, a name and its id — are fetched once and
give one document; a redirect joins a fetch of its target that is in flight or cached."""

from __future__ import annotations

import asyncio
import json

import podium
from podium_context7.testing import FakeContext7, Reply, make_library

from .conftest import docs, make_config, run_docs


def moved_to_fastapi(fake: FakeContext7) -> None:
    """``moved`` resolves to ``/old/moved``, which the service says moved to FastAPI."""
    fake.add(make_library("/old/moved", "Moved", total_tokens=500))
    fake.redirects["/old/moved"] = "/tiangolo/fastapi"


async def test_a_name_redirected_to_another_names_library_is_fetched_once(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    moved_to_fastapi(fake)

    bundle = await docs(engine, ["fastapi", "moved"])

    assert bundle.ok
    assert fake.count("/v2/context", "/tiangolo/fastapi") == 1
    assert [d.library for d in bundle.documents] == ["fastapi"]
    assert bundle["moved"] is bundle["fastapi"]
    assert bundle["fastapi"].other_names == ("moved",)
    assert bundle.requests_coalesced == 1


async def test_a_name_and_the_id_it_resolves_to_give_one_document(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    bundle = await docs(engine, ["fastapi", "/tiangolo/fastapi"])

    assert fake.count("/v2/context") == 1
    assert len(bundle.documents) == 1
    assert bundle["/tiangolo/fastapi"].other_names == ("/tiangolo/fastapi",)
    assert bundle.requests_coalesced == 1
    assert bundle.requests_made == 2  # one search, one fetch


async def test_a_redirect_found_later_joins_the_cached_fetch_of_its_target(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    moved_to_fastapi(fake)
    await docs(engine, ["fastapi"])

    bundle = await docs(engine, ["moved"])

    assert fake.count("/v2/context", "/tiangolo/fastapi") == 1
    assert bundle["moved"].library_id == "/tiangolo/fastapi"
    assert bundle["moved"].source == "cache"


async def test_a_redirect_joins_a_fetch_of_its_target_in_flight_in_another_workflow(
    fake: FakeContext7,
) -> None:
    moved_to_fastapi(fake)
    code, info = fake.libraries["/tiangolo/fastapi"].ranked("q")
    slow = json.dumps({"codeSnippets": code, "infoSnippets": info})
    fake.script(
        Reply(200, body=slow, delay=0.5), library="/tiangolo/fastapi"
    )  # still in flight when the 301 comes
    calls = [
        [{"libraries": ["/tiangolo/fastapi"], "query": "q"}],
        [{"libraries": ["/old/moved"], "query": "q"}],
    ]
    async with podium.Engine(config=make_config(fake), cache_url=False) as engine:
        direct, redirected = await asyncio.gather(
            *(run_docs(engine, call, name=f"wf{n}") for n, call in enumerate(calls))
        )

    assert fake.count("/v2/context", "/tiangolo/fastapi") == 1
    moved = redirected["stage0"].value["/old/moved"]
    assert moved.library_id == "/tiangolo/fastapi"
    assert moved.text == direct["stage0"].value["/tiangolo/fastapi"].text
    assert moved.source == "shared"
