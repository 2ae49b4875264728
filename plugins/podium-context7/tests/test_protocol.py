"""Reading the service's headers and bodies: Retry-After forms, redirect targets, empty answers."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

import podium
from podium_context7.client import _library_id_from, _retry_after
from podium_context7.testing import FakeContext7, FakeLibrary, Reply

from .conftest import docs


def _after(**headers: str) -> float | None:
    return _retry_after(httpx.Response(429, headers=headers))


def test_retry_after_in_seconds() -> None:
    assert _after(**{"Retry-After": "7"}) == 7.0


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= (_after(**{"Retry-After": when}) or 0) <= 30


def test_ratelimit_reset_as_unix_time_or_as_a_delta() -> None:
    assert 18 <= (_after(**{"RateLimit-Reset": str(int(time.time()) + 20)}) or 0) <= 20
    assert _after(**{"RateLimit-Reset": "5"}) == 5.0


def test_unreadable_or_missing_wait_headers_mean_plain_backoff() -> None:
    assert _after(**{"Retry-After": "soon", "RateLimit-Reset": "later"}) is None
    assert _after() is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/fastapi/fastapi", "/fastapi/fastapi"),
        ("https://context7.com/fastapi/fastapi", "/fastapi/fastapi"),
        ("https://context7.com/api/v2/context?libraryId=/fastapi/fastapi&query=q", "/fastapi/fastapi"),
        ("https://context7.com/api/v1/fastapi/fastapi/0.110", "/fastapi/fastapi/0.110"),
        ("https://context7.com/", None),
        ("", None),
    ],
)
def test_redirect_targets_are_read_from_ids_and_urls(raw: str, expected: str | None) -> None:
    assert _library_id_from(raw) == expected


async def test_a_redirect_naming_no_library_is_an_error(engine: podium.Engine, fake: FakeContext7) -> None:
    fake.script(Reply(301, "library_redirected", "moved", extra={"redirectUrl": "https://context7.com/"}))

    bundle = await docs(engine, ["/tiangolo/fastapi"])

    [error] = bundle.failures
    assert (error.status, error.code) == (301, "library_redirected")
    assert "names no library" in error.message


async def test_a_library_without_snippets_is_reported_and_not_cached(
    engine: podium.Engine, fake: FakeContext7
) -> None:
    fake.add(FakeLibrary("/empty/lib", "Empty"))

    first = await docs(engine, ["/empty/lib"])
    second = await docs(engine, ["/empty/lib"])

    assert [e.code for e in first.failures] == ["no_snippets_found"]
    assert [e.code for e in second.failures] == ["no_snippets_found"]
    assert fake.count("/v2/context") == 2
