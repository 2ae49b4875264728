"""Every error the service documents: final 4xx, retried 429/5xx/timeouts, 301, 202, empty bodies."""

from __future__ import annotations

import time

import pytest

import podium
from podium_context7.testing import FakeContext7, Reply

from .conftest import docs, make_config

FINAL_ERRORS = [
    (400, "validation_error"),
    (400, "invalid_library_id"),
    (401, "invalid_api_key"),
    (402, "spending_limit_exceeded"),
    (403, "access_denied"),
    (403, "forbidden"),
    (404, "library_not_found"),
    (404, "tag_not_found"),
    (404, "no_snippets_found"),
    (404, "no_libraries_found"),
    (422, "library_too_large"),
    (422, "no_code_found"),
]


@pytest.mark.parametrize(("status", "code"), FINAL_ERRORS)
async def test_client_errors_name_the_library_and_the_message_and_are_not_retried(
    engine: podium.Engine, fake: FakeContext7, status: int, code: str
) -> None:
    fake.script(Reply(status, code, f"the service says {code}"), library="/tiangolo/fastapi", times=5)

    bundle = await docs(engine, ["/tiangolo/fastapi", "/pytest-dev/pytest"])

    [error] = bundle.failures
    assert (error.library, error.status, error.code) == ("/tiangolo/fastapi", status, code)
    assert error.message == f"the service says {code}"
    assert fake.count("/v2/context", "/tiangolo/fastapi") == 1
    assert [d.library for d in bundle.documents] == ["/pytest-dev/pytest"]
    assert bundle.documents[0].tokens > 0


async def test_a_search_error_is_the_error_of_that_library_only(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    fake.script(
        Reply(404, "no_libraries_found", "No libraries match"), path="/v2/libs/search", library="nosuch"
    )

    bundle = await docs(engine, ["nosuch", "pytest"])

    assert [(e.library, e.code) for e in bundle.failures] == [("nosuch", "no_libraries_found")]
    assert bundle["pytest"].tokens > 0


async def test_a_search_without_results_is_a_clear_error(engine: podium.Engine) -> None:
    bundle = await docs(engine, ["left-pad-for-cobol"])

    [error] = bundle.failures
    assert error.code == "no_libraries_found"
    assert "no library matches 'left-pad-for-cobol'" in error.message


async def test_429_waits_for_retry_after_then_succeeds(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.script(
        Reply(
            429,
            "rate_limit_exceeded",
            "Rate limit exceeded",
            headers={
                "Retry-After": "1",
                "RateLimit-Limit": "60",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(int(time.time()) + 1),
            },
        ),
        path="/v2/context",
    )

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert bundle.ok
    assert bundle.requests_made == 2
    first, second = (r.at for r in fake.requests if r.path == "/v2/context")
    assert second - first >= 0.95


async def test_429_without_retry_after_uses_ratelimit_reset(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    reset = str(int(time.time()) + 2)
    fake.script(Reply(429, "rate_limit_exceeded", headers={"RateLimit-Reset": reset}), path="/v2/context")

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert bundle.ok
    first, second = (r.at for r in fake.requests if r.path == "/v2/context")
    assert second - first >= 0.95


async def test_persistent_429_gives_up_after_the_configured_retries(fake: FakeContext7) -> None:
    fake.script(Reply(429, "rate_limit_exceeded", "slow down", headers={"Retry-After": "0"}), times=10)
    async with podium.Engine(config=make_config(fake, retries=2)) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"])

    [error] = bundle.failures
    assert (error.status, error.code, error.message) == (429, "rate_limit_exceeded", "slow down")
    assert fake.count("/v2/context") == 3
    assert bundle.requests_made == 3


async def test_a_retry_after_beyond_the_limit_fails_at_once(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    fake.script(
        Reply(429, "rate_limit_exceeded", "Monthly quota exhausted", headers={"Retry-After": "86400"})
    )

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    [error] = bundle.failures
    assert error.status == 429
    assert "Monthly quota exhausted" in error.message
    assert "asks to wait 86400s" in error.message
    assert fake.count("/v2/context") == 1


@pytest.mark.parametrize(
    ("status", "code"), [(500, "internal_error"), (503, "search_failed"), (504, "processing timed out")]
)
async def test_server_errors_are_retried(
    engine: podium.Engine, fake: FakeContext7, status: int, code: str
) -> None:
    fake.script(Reply(status, code), path="/v2/context", times=2)

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert bundle.ok
    assert fake.count("/v2/context") == 3


async def test_search_failures_are_retried(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.script(Reply(503, "search_failed"), path="/v2/libs/search")

    bundle = await docs(engine, ["fastapi"])

    assert bundle["fastapi"].library_id == "/tiangolo/fastapi"
    assert fake.count("/v2/libs/search") == 2


async def test_persistent_server_errors_become_the_libraries_error(fake: FakeContext7) -> None:
    fake.script(Reply(500, "internal_error", "boom"), times=10)
    async with podium.Engine(config=make_config(fake, retries=1)) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert [(e.status, e.code, e.message) for e in bundle.failures] == [(500, "internal_error", "boom")]
    assert fake.count("/v2/context") == 2


async def test_timeouts_are_retried_then_reported(fake: FakeContext7) -> None:
    fake.script(Reply(200, body="{}", delay=0.6), path="/v2/context", times=1)
    async with podium.Engine(config=make_config(fake, timeout=0.3)) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"])
        assert bundle.ok
        fake.script(Reply(200, body="{}", delay=0.6), path="/v2/context", times=10)
        failed = await docs(engine, ["/pytest-dev/pytest"])

    [error] = failed.failures
    assert (error.status, error.code) == (None, "timeout")
    assert "no answer within 0.3s" in error.message


async def test_network_failures_are_reported_per_library() -> None:
    with FakeContext7() as fake:
        url = fake.url
    config = podium.Config({"plugins": {"context7": {"base_url": url, "retries": 1, "backoff": 0.01}}})
    async with podium.Engine(config=config) as engine:
        bundle = await docs(engine, ["/tiangolo/fastapi"])

    [error] = bundle.failures
    assert error.code == "network_error"
    assert bundle.requests_made == 2


async def test_301_is_followed_once_and_remembered(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.libraries["/fastapi/fastapi"] = fake.libraries["/tiangolo/fastapi"]
    fake.redirects["/tiangolo/fastapi"] = "/fastapi/fastapi"

    first = await docs(engine, ["/tiangolo/fastapi"], query="first question")
    second = await docs(engine, ["/tiangolo/fastapi"], query="another question")

    assert first["/tiangolo/fastapi"].library_id == "/fastapi/fastapi"
    assert second["/tiangolo/fastapi"].library_id == "/fastapi/fastapi"
    assert fake.count("/v2/context", "/tiangolo/fastapi") == 1
    assert fake.count("/v2/context", "/fastapi/fastapi") == 2


async def test_a_redirect_given_as_a_url_is_understood(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.libraries["/fastapi/fastapi"] = fake.libraries["/tiangolo/fastapi"]
    fake.script(
        Reply(
            301, "library_redirected", "moved", extra={"redirectUrl": "https://context7.com/fastapi/fastapi"}
        ),
        library="/tiangolo/fastapi",
    )

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert bundle["/tiangolo/fastapi"].library_id == "/fastapi/fastapi"


async def test_a_chain_of_redirects_is_not_followed(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.redirects["/tiangolo/fastapi"] = "/fastapi/fastapi"
    fake.redirects["/fastapi/fastapi"] = "/fastapi/fastapi-new"

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    [error] = bundle.failures
    assert (error.status, error.code) == (301, "library_redirected")
    assert "not following a chain" in error.message
    assert fake.count("/v2/context") == 2


async def test_202_is_not_ready_and_never_cached(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.libraries["/tiangolo/fastapi"].state = "processing"

    first = await docs(engine, ["/tiangolo/fastapi"])
    fake.libraries["/tiangolo/fastapi"].state = "finalized"
    second = await docs(engine, ["/tiangolo/fastapi"])

    [error] = first.failures
    assert (error.status, error.code) == (202, "library_not_finalized")
    assert "not ready" in error.message
    assert second.ok
    assert second["/tiangolo/fastapi"].source == "network"
    assert fake.count("/v2/context") == 2


async def test_an_empty_body_is_not_ready_and_never_cached(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.empty.add("/tiangolo/fastapi")

    first = await docs(engine, ["/tiangolo/fastapi"])
    fake.empty.clear()
    second = await docs(engine, ["/tiangolo/fastapi"])

    [error] = first.failures
    assert error.code == "not_ready"
    assert second.ok
    assert fake.count("/v2/context") == 2


async def test_invalid_json_is_reported_not_raised(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.script(
        Reply(200, body="<html>proxy error</html>", headers={"Content-Type": "text/html"}),
        library="/tiangolo/fastapi",
    )

    bundle = await docs(engine, ["/tiangolo/fastapi", "/pytest-dev/pytest"])

    assert [(e.library, e.code) for e in bundle.failures] == [("/tiangolo/fastapi", "bad_response")]
    assert bundle["/pytest-dev/pytest"].tokens > 0


async def test_a_non_json_error_page_keeps_its_text(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.script(Reply(403, body="Forbidden by corporate proxy", headers={"Content-Type": "text/plain"}))

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    assert [(e.status, e.message) for e in bundle.failures] == [(403, "Forbidden by corporate proxy")]


async def test_a_stage_with_partial_documentation_still_succeeds(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    fake.script(Reply(404, "library_not_found", "Library not found"), library="/tiangolo/fastapi")
    wf = podium.Workflow("partial")

    @wf.stage
    async def plan(ctx: podium.Context) -> str:
        bundle = await ctx.docs(["/tiangolo/fastapi", "/pytest-dev/pytest"], query="fixtures", tokens=1000)
        return f"{len(bundle.documents)} document(s), {len(bundle.failures)} error(s)"

    result = await engine.run(wf)

    assert result.ok
    assert result["plan"].value == "1 document(s), 1 error(s)"
