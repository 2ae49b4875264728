"""A fake Chat Completions server on 127.0.0.1 for tests and offline demos.

Bodies, error bodies and stream chunks are built from the installed SDK's own types
(``ChatCompletion``, ``CompletionUsage``, ``ChatCompletionChunk``, ``ErrorObject``), so the
real ``AsyncOpenAI`` parses them as it parses OpenAI's. The fake checks the Bearer key,
counts tokens (1 per 4 characters), reports cached prompt tokens for a repeated system
message (as OpenAI's automatic prompt caching does), sends ``x-request-id`` and
``x-ratelimit-*`` headers and answers 429 with ``retry-after`` past its per-minute quota::

    with FakeOpenAI(api_key="sk-test") as fake:
        fake.script(openai_error(503, "server_error", "The server is overloaded"))
        ...  # base_url = fake.url + "/v1"
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.completion_usage import CompletionUsage, PromptTokensDetails
from openai.types.shared import ErrorObject

from podium.testing import FakeHTTPServer, HTTPReply, MinuteQuota, SeenRequest

__all__ = ["FakeOpenAI", "estimate_tokens", "openai_error", "stream_error"]

_request_ids = itertools.count(1)


def estimate_tokens(text: str) -> int:
    """The fake's token count of a text: one per four characters, at least one."""
    return max(1, len(text) // 4)


def _request_id() -> str:
    return f"req_fake{next(_request_ids):012d}"


def error_body(error_type: str, message: str, *, code: str | None = None) -> dict[str, Any]:
    """An error body as OpenAI sends it: ``{"error": {"message", "type", "param", "code"}}``."""
    error = ErrorObject(message=message, type=error_type, param=None, code=code)
    return {"error": error.model_dump(mode="json", exclude_none=True) | {"param": None, "code": code}}


def openai_error(
    status: int,
    error_type: str,
    message: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTTPReply:
    """A scripted error response: ``status`` with OpenAI's error body and an ``x-request-id``."""
    return HTTPReply(
        status, error_body(error_type, message, code=code), {"x-request-id": _request_id(), **(headers or {})}
    )


def stream_error(error_type: str, message: str, *, text: str = "partial ") -> HTTPReply:
    """A 200 stream that sends some text, then an error object in a ``data:`` line."""
    chunk = _chunk("gpt-fake", ChoiceDelta(role="assistant", content=text), None)
    events = [("", chunk.model_dump_json()), ("", error_body(error_type, message))]
    return HTTPReply(200, events=events, headers={"x-request-id": _request_id()})


def _chunk(
    model: str, delta: ChoiceDelta, finish: Any, usage: CompletionUsage | None = None
) -> ChatCompletionChunk:
    choices = [] if usage is not None else [ChunkChoice(index=0, delta=delta, finish_reason=finish)]
    return ChatCompletionChunk(
        id="chatcmpl-fake",
        object="chat.completion.chunk",
        created=int(time.time()),
        model=model,
        choices=choices,
        usage=usage,
    )


class FakeOpenAI(FakeHTTPServer):
    """A local ``POST /v1/chat/completions`` (JSON or SSE), with a per-minute request and token quota.

    :param api_key: The key it accepts (``None``: any key, or none, as a self-hosted server).
    :param reply: The reply text, or a function of the request body returning it.
    :param model: The model it says answered (``None``: the model asked for).
    :param requests_per_minute: The quota reported in ``x-ratelimit-*-requests``.
    :param tokens_per_minute: The quota of ``x-ratelimit-*-tokens`` (input + output).
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
        self.seen_prefixes: set[str] = set()
        self.quota = MinuteQuota()

    def answer(self, seen: SeenRequest) -> HTTPReply:
        if seen.method != "POST" or seen.path.split("?")[0] != "/v1/chat/completions":
            return openai_error(404, "invalid_request_error", f"Invalid URL ({seen.method} {seen.path})")
        sent = seen.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and sent != self.api_key:
            return openai_error(
                401, "invalid_request_error", f"Incorrect API key provided: {sent}.", code="invalid_api_key"
            )
        body = seen.body
        if not isinstance(body, dict) or "model" not in body or not body.get("messages"):
            return openai_error(400, "invalid_request_error", "'messages' is a required property")
        usage = self._usage(body)
        text = self.reply(body) if callable(self.reply) else self.reply
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        usage.completion_tokens = min(estimate_tokens(text), int(limit)) if limit else estimate_tokens(text)
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        finish: Literal["stop", "length"] = (
            "length" if limit and estimate_tokens(text) > int(limit) else "stop"
        )
        headers = self._admit(usage.total_tokens)
        if isinstance(headers, HTTPReply):
            return headers
        model = self.model or str(body["model"])
        if body.get("stream"):
            return HTTPReply(200, events=self._events(model, text, finish, usage, body), headers=headers)
        completion = ChatCompletion(
            id=f"chatcmpl-fake{len(self.requests):08d}",
            object="chat.completion",
            created=int(time.time()),
            model=model,
            choices=[
                Choice(
                    index=0,
                    finish_reason=finish,
                    message=ChatCompletionMessage(role="assistant", content=text),
                )
            ],
            usage=usage,
        )
        return HTTPReply(200, completion.model_dump(mode="json", exclude_none=True), headers)

    def _usage(self, body: Mapping[str, Any]) -> CompletionUsage:
        messages = body["messages"]
        system = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
        rest = " ".join(str(m.get("content", "")) for m in messages if m.get("role") != "system")
        prompt = estimate_tokens(rest) + (estimate_tokens(system) if system else 0)
        cached = estimate_tokens(system) if system and system in self.seen_prefixes else 0
        if system:
            self.seen_prefixes.add(system)
        return CompletionUsage(
            prompt_tokens=prompt,
            completion_tokens=0,
            total_tokens=prompt,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
        )

    def _admit(self, tokens: int) -> dict[str, str] | HTTPReply:
        state = self.quota.admit(
            tokens, requests_per_minute=self.requests_per_minute, tokens_per_minute=self.tokens_per_minute
        )
        reset = f"{state.reset_s:.3f}s"
        headers = {
            "x-request-id": _request_id(),
            "x-ratelimit-limit-requests": str(self.requests_per_minute),
            "x-ratelimit-remaining-requests": str(max(0, self.requests_per_minute - state.requests)),
            "x-ratelimit-reset-requests": reset,
            "x-ratelimit-limit-tokens": str(self.tokens_per_minute),
            "x-ratelimit-remaining-tokens": str(max(0, self.tokens_per_minute - state.tokens)),
            "x-ratelimit-reset-tokens": reset,
        }
        if not state.admitted:
            return openai_error(
                429,
                "requests",
                "Rate limit reached for requests per min. Please try again later.",
                code="rate_limit_exceeded",
                headers={**headers, "retry-after": str(max(1, math.ceil(state.retry_after_s)))},
            )
        return headers

    def _events(
        self, model: str, text: str, finish: str, usage: CompletionUsage, body: Mapping[str, Any]
    ) -> list[tuple[str, Any]]:
        chunks = [_chunk(model, ChoiceDelta(role="assistant", content=""), None)]
        chunks += [
            _chunk(model, ChoiceDelta(content=text[i : i + 16]), None) for i in range(0, len(text), 16)
        ]
        chunks.append(_chunk(model, ChoiceDelta(), finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(_chunk(model, ChoiceDelta(), None, usage))
        return [*(("", chunk.model_dump_json(exclude_none=True)) for chunk in chunks), ("", "[DONE]")]
