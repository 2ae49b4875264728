"""A fake Messages API on 127.0.0.1 for tests and offline demos, speaking Anthropic's protocol.

Bodies, error bodies and stream events are built from the installed SDK's own types
(``anthropic.types.Message``, ``Usage``, ``ErrorResponse``, the ``Raw*Event`` models), so
the real ``AsyncAnthropic`` parses them as it parses the API's. The fake checks the key
(``x-api-key`` or ``Authorization: Bearer``) and ``anthropic-version``, counts tokens
(1 per 4 characters), simulates prompt caching of a system prompt marked with
``cache_control``, sends ``request-id`` and ``anthropic-ratelimit-*`` headers from a
per-minute quota and answers 429 with ``retry-after`` past it::

    with FakeAnthropic(api_key="sk-test") as fake:
        fake.script(anthropic_error(529, "overloaded_error", "Overloaded"))
        ...  # base_url = fake.url
        assert fake.count("/v1/messages") == 2
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from anthropic.types import (
    Message,
    MessageDeltaUsage,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    StopReason,
    TextBlock,
    TextDelta,
    Usage,
)
from anthropic.types.raw_message_delta_event import Delta
from anthropic.types.shared import (
    APIErrorObject,
    AuthenticationErrorObject,
    BillingErrorObject,
    ErrorResponse,
    GatewayTimeoutErrorObject,
    InvalidRequestErrorObject,
    NotFoundErrorObject,
    OverloadedErrorObject,
    PermissionErrorObject,
    RateLimitErrorObject,
)

from podium.testing import FakeHTTPServer, HTTPReply, MinuteQuota, SeenRequest

__all__ = ["FakeAnthropic", "anthropic_error", "estimate_tokens", "stream_error"]

API_VERSION = "2026-10-21"

_ERROR_OBJECTS: dict[str, Any] = {
    "invalid_request_error": InvalidRequestErrorObject,
    "authentication_error": AuthenticationErrorObject,
    "billing_error": BillingErrorObject,
    "permission_error": PermissionErrorObject,
    "not_found_error": NotFoundErrorObject,
    "rate_limit_error": RateLimitErrorObject,
    "timeout_error": GatewayTimeoutErrorObject,
    "api_error": APIErrorObject,
    "overloaded_error": OverloadedErrorObject,
}
_request_ids = itertools.count(1)


def estimate_tokens(text: str) -> int:
    """The fake's token count of a text: one per four characters, at least one."""
    return max(1, len(text) // 4)


def _request_id() -> str:
    return f"req_fake{next(_request_ids):012d}"


def error_body(error_type: str, message: str, *, error_code: str | None = None) -> dict[str, Any]:
    """An error body as the API sends it (``{"type": "error", "error": {...}, "request_id": ...}``)."""
    known = _ERROR_OBJECTS.get(error_type)
    body: dict[str, Any]
    if known is None:  # a documented type the SDK has no model of (request_too_large)
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": _request_id(),
        }
    else:
        response = ErrorResponse(
            type="error", error=known(type=error_type, message=message), request_id=_request_id()
        )
        body = response.model_dump(mode="json", exclude_none=True)
    if error_code is not None:
        body["error"]["details"] = {"error_code": error_code}
    return body


def anthropic_error(
    status: int,
    error_type: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
) -> HTTPReply:
    """A scripted error response: ``status`` with the API's error body and a ``request-id``."""
    body = error_body(error_type, message, error_code=error_code)
    return HTTPReply(status, body, {"request-id": body["request_id"], **(headers or {})})


def stream_error(error_type: str, message: str, *, text: str = "partial ") -> HTTPReply:
    """A 200 stream that starts a message, sends some text, then an ``error`` event."""
    start = Message(
        id="msg_fake_error",
        type="message",
        role="assistant",
        model="claude-sonnet-4-6",
        content=[],
        stop_reason=None,
        stop_sequence=None,
        usage=Usage(input_tokens=1, output_tokens=1),
    )
    events = [
        ("message_start", RawMessageStartEvent(type="message_start", message=start).model_dump(mode="json")),
        *_text_events(text),
        ("error", error_body(error_type, message)),
    ]
    return HTTPReply(200, events=events, headers={"request-id": _request_id()})


def _text_events(text: str) -> list[tuple[str, Any]]:
    block = RawContentBlockStartEvent(
        type="content_block_start", index=0, content_block=TextBlock(type="text", text="")
    )
    events: list[tuple[str, Any]] = [("content_block_start", block.model_dump(mode="json"))]
    for start in range(0, len(text), 16):
        delta = RawContentBlockDeltaEvent(
            type="content_block_delta",
            index=0,
            delta=TextDelta(type="text_delta", text=text[start : start + 16]),
        )
        events.append(("content_block_delta", delta.model_dump(mode="json")))
    return events


class FakeAnthropic(FakeHTTPServer):
    """A local ``POST /v1/messages`` (JSON or SSE), with a per-minute request and token quota.

    :param api_key: The key it accepts (``None``: any key, but one must be sent).
    :param reply: The reply text, or a function of the request body returning it.
    :param model: The model it says answered (``None``: the model asked for).
    :param requests_per_minute: The quota reported in ``anthropic-ratelimit-requests-*``.
    :param tokens_per_minute: The quota of ``anthropic-ratelimit-tokens-*`` (input + output).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        reply: str | Callable[[Mapping[str, Any]], str] = "ok",
        model: str | None = None,
        requests_per_minute: int = 1000,
        tokens_per_minute: int = 1_000_000,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.model = model
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.cached_prefixes: set[str] = set()
        self.quota = MinuteQuota()

    def answer(self, seen: SeenRequest) -> HTTPReply:
        if seen.method != "POST" or seen.path.split("?")[0] != "/v1/messages":
            return anthropic_error(404, "not_found_error", f"Not found: {seen.method} {seen.path}")
        refused = self._refuse(seen)
        if refused is not None:
            return refused
        body: Mapping[str, Any] = seen.body
        usage = self._usage(body)
        text = self.reply(body) if callable(self.reply) else self.reply
        usage.output_tokens = min(estimate_tokens(text), int(body["max_tokens"]))
        stop_reason: StopReason = (
            "max_tokens" if estimate_tokens(text) > int(body["max_tokens"]) else "end_turn"
        )
        headers = self._admit(usage.input_tokens + usage.output_tokens)
        if isinstance(headers, HTTPReply):
            return headers
        message = Message(
            id=f"msg_fake{len(self.requests):08d}",
            type="message",
            role="assistant",
            model=self.model or str(body["model"]),
            content=[TextBlock(type="text", text=text)],
            stop_reason=stop_reason,
            stop_sequence=None,
            usage=usage,
        )
        if body.get("stream"):
            return HTTPReply(200, events=self._events(message), headers=headers)
        return HTTPReply(200, message.model_dump(mode="json"), headers)

    def _refuse(self, seen: SeenRequest) -> HTTPReply | None:
        headers = seen.headers
        sent = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if not sent or (self.api_key is not None and sent != self.api_key):
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        if headers.get("anthropic-version") is None:
            return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        body = seen.body
        if not isinstance(body, dict):
            return anthropic_error(400, "invalid_request_error", "The request body is not valid JSON")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                return anthropic_error(400, "invalid_request_error", f"{field}: Field required")
        for field in ("temperature", "top_p", "top_k"):
            if field in body:
                return anthropic_error(
                    400, "invalid_request_error", f"{field}: Extra inputs are not permitted"
                )
        return None

    def _usage(self, body: Mapping[str, Any]) -> Usage:
        prompt = " ".join(_texts(message.get("content")) for message in body["messages"])
        system = body.get("system")
        cached = isinstance(system, list) and any("cache_control" in block for block in system)
        system_text = _texts(system)
        usage = Usage(input_tokens=estimate_tokens(prompt), output_tokens=0)
        if not system_text:
            return usage
        tokens = estimate_tokens(system_text)
        if not cached:
            usage.input_tokens += tokens
        elif system_text in self.cached_prefixes:
            usage.cache_read_input_tokens = tokens
        else:
            self.cached_prefixes.add(system_text)
            usage.cache_creation_input_tokens = tokens
        usage.cache_read_input_tokens = usage.cache_read_input_tokens or 0
        usage.cache_creation_input_tokens = usage.cache_creation_input_tokens or 0
        return usage

    def _admit(self, tokens: int) -> dict[str, str] | HTTPReply:
        state = self.quota.admit(
            tokens, requests_per_minute=self.requests_per_minute, tokens_per_minute=self.tokens_per_minute
        )
        headers = self._limit_headers(state.requests, state.tokens, self.quota.clock() + state.reset_s)
        if not state.admitted:
            return anthropic_error(
                429,
                "rate_limit_error",
                "This request would exceed your organization's rate limit. Please try again later.",
                headers={**headers, "retry-after": str(max(1, math.ceil(state.retry_after_s)))},
            )
        return headers

    def _limit_headers(self, requests: int, tokens: int, reset_at: float) -> dict[str, str]:
        reset = datetime.fromtimestamp(int(reset_at) + 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "request-id": _request_id(),
            "anthropic-ratelimit-requests-limit": str(self.requests_per_minute),
            "anthropic-ratelimit-requests-remaining": str(max(0, self.requests_per_minute - requests)),
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-tokens-limit": str(self.tokens_per_minute),
            "anthropic-ratelimit-tokens-remaining": str(max(0, self.tokens_per_minute - tokens)),
            "anthropic-ratelimit-tokens-reset": reset,
        }

    def _events(self, message: Message) -> list[tuple[str, Any]]:
        text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
        start = message.model_copy(update={"content": [], "stop_reason": None})
        start.usage = message.usage.model_copy(update={"output_tokens": 1})
        usage = MessageDeltaUsage(output_tokens=message.usage.output_tokens)
        delta = RawMessageDeltaEvent(
            type="message_delta", delta=Delta(stop_reason=message.stop_reason), usage=usage
        )
        return [
            (
                "message_start",
                RawMessageStartEvent(type="message_start", message=start).model_dump(mode="json"),
            ),
            ("ping", {"type": "ping"}),
            *_text_events(text),
            ("content_block_stop", RawContentBlockStopEvent(type="content_block_stop", index=0).model_dump()),
            ("message_delta", delta.model_dump(mode="json", exclude_none=True)),
            ("message_stop", RawMessageStopEvent(type="message_stop").model_dump()),
        ]


def _texts(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
