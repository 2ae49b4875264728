"""What provider plugins share: reading retry-after, and the scripted HTTP server their fakes build on."""

from __future__ import annotations

import json
import urllib.request
from email.utils import formatdate

import pytest

import podium
from podium.testing import FakeHTTPServer, HTTPReply


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": formatdate(1_000_030, usegmt=True)}, 30.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after_reads_milliseconds_seconds_and_dates(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert podium.parse_retry_after(headers, now=1_000_000) == seconds


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_scripted_reply_answers_one_request_then_answer_takes_over() -> None:
    with FakeHTTPServer() as fake:
        fake.script(HTTPReply(429, {"error": "slow down"}, {"retry-after": "3"}))
        first = get(f"{fake.url}/v1/things")
        second = get(f"{fake.url}/v1/things")

    assert (first[0], first[1]["retry-after"], json.loads(first[2])) == (429, "3", {"error": "slow down"})
    assert second[0] == 404
    assert fake.count("/v1/things") == 2 and fake.requests[0].method == "GET"


def test_a_stream_reply_sends_named_server_sent_events() -> None:
    with FakeHTTPServer() as fake:
        fake.script(HTTPReply(events=[("ping", {"type": "ping"}), ("", "[DONE]")]))
        status, headers, body = get(fake.url)
    assert (status, headers["content-type"]) == (200, "text/event-stream")
    assert body.decode() == 'event: ping\ndata: {"type": "ping"}\n\ndata: [DONE]\n\n'


def test_a_hung_reply_does_not_hold_up_the_servers_exit() -> None:
    with FakeHTTPServer() as fake:
        fake.script(HTTPReply(delay=60))
        with pytest.raises(OSError):
            urllib.request.urlopen(fake.url, timeout=0.2)
