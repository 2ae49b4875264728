"""An agent answering through Anthropic's Messages API: one attempt per call, everything mapped."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2

from podium import AgentReply, ConfigError, Prompt, ProviderError, ProviderErrorKind
from podium import provider_kit as kit

from .config import CALL_OPTIONS, PROVIDER, REMOVED_PARAMETERS, REMOVED_REASON, AgentOptions, ClientSettings
from .mapping import provider_error, rate_limits, stream_broken, usage_of

#: The SDK refuses a non-streaming call that may take over 10 minutes at 128,000 output
#: tokens an hour (``_calculate_nonstreaming_timeout``): above this many, ``auto`` streams.
NONSTREAMING_MAX_TOKENS = 21_333

_CACHED = {"type": "ephemeral"}


class AnthropicAgent(kit.ProviderAgent[anthropic.AsyncAnthropic, AgentOptions]):
    """A Claude model behind ``AsyncAnthropic``, with the SDK's own retries off.

    Build it through the provider (``[agents.<name>] provider = "anthropic"``, or
    ``engine.providers["anthropic"](spec, engine.config)``). Each :meth:`complete` makes
    one request; failures raise :class:`podium.ProviderError` with the kind, status,
    ``retry-after`` and rate-limit state, for the agent policies to act on.
    """

    provider = PROVIDER
    options_type = AgentOptions
    call_options = CALL_OPTIONS
    refused = dict.fromkeys(REMOVED_PARAMETERS, REMOVED_REASON)
    settings: ClientSettings

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        """Send ``prompt`` once; ``options`` override the agent's (``max_tokens``, ``system``, ...)."""
        asked = Prompt.of(prompt)
        call = self.call(options)
        request = self._request(asked, call)
        client = self.client()
        stream = call.stream == "always" or (
            call.stream == "auto" and request["max_tokens"] > NONSTREAMING_MAX_TOKENS
        )
        try:
            if not stream:
                try:
                    return await self._create(client, request)
                except ValueError as error:
                    # The SDK's own rule (some models have a lower limit) still wants a stream.
                    if "Streaming is required" not in str(error):
                        raise
                    if call.stream == "never":
                        raise ConfigError(
                            f"agent {self.name!r}: max_tokens = {request['max_tokens']} needs a streamed "
                            f"response from {self.model!r}, and stream = 'never' forbids it"
                        ) from None
            return await self._stream(client, request)
        except anthropic.APIError as error:
            raise provider_error(error, self.settings.api_key, self.settings.timeout) from None
        except httpx2.TransportError as error:
            # A stream that stalls or breaks after its 200 fails in the transport, unwrapped.
            raise stream_broken(error, self.settings.timeout) from None

    def new_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=self.settings.api_key.reveal(),
            base_url=self.settings.base_url,
            timeout=anthropic.Timeout(self.settings.timeout, connect=min(5.0, self.settings.timeout)),
            max_retries=0,  # one retry layer: the agent policies', honouring retry-after
            open_telemetry=None if self.settings.sdk_tracing else False,
        )

    def _request(self, prompt: Prompt, call: AgentOptions) -> dict[str, Any]:
        messages = [{"role": m.role, "content": m.content} for m in prompt.history]
        messages.append({"role": "user", "content": prompt.text})
        request: dict[str, Any] = {**(call.params or {})}
        request.update(model=self.model, max_tokens=call.max_tokens, messages=messages)
        system = prompt.system if prompt.system is not None else call.system
        if system:
            cache = prompt.cache_system or bool(call.cache_system)
            block: dict[str, Any] = {"type": "text", "text": system}
            request["system"] = [{**block, "cache_control": _CACHED}] if cache else system
        if call.stop_sequences:
            request["stop_sequences"] = list(call.stop_sequences)
        return request

    async def _create(self, client: anthropic.AsyncAnthropic, request: dict[str, Any]) -> AgentReply:
        raw = await client.messages.with_raw_response.create(**request)
        message = await raw.parse()
        text = "".join(block.text for block in message.content if block.type == "text")
        return AgentReply(
            text,
            usage_of(message.usage),
            model=message.model,
            stop_reason=message.stop_reason or "end_turn",
            limits=rate_limits(raw.headers),
            request_id=raw.headers.get("request-id"),
        )

    async def _stream(self, client: anthropic.AsyncAnthropic, request: dict[str, Any]) -> AgentReply:
        raw = await client.messages.with_raw_response.create(**request, stream=True)
        events = await raw.parse()
        parts: list[str] = []
        model, stop_reason = self.model, None
        usage: Any = None
        async for event in events:
            if event.type == "message_start":
                model, usage = event.message.model, event.message.usage
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
            elif event.type == "message_delta":
                stop_reason = event.delta.stop_reason or stop_reason
                usage = _cumulative(usage, event.usage)
        if usage is None or stop_reason is None:
            raise ProviderError(
                "the stream ended before the message did (no message_delta with a stop reason)",
                provider=PROVIDER,
                kind=ProviderErrorKind.SERVER_ERROR,
                status=raw.status_code,
                request_id=raw.headers.get("request-id"),
            )
        return AgentReply(
            "".join(parts),
            usage_of(usage),
            model=model,
            stop_reason=stop_reason,
            limits=rate_limits(raw.headers),
            request_id=raw.headers.get("request-id"),
        )


def _cumulative(start: Any, delta: Any) -> Any:
    # message_delta's usage is cumulative; its input counts, when sent, replace message_start's.
    if start is None:
        return delta
    values = {
        name: getattr(delta, name, None) if getattr(delta, name, None) is not None else getattr(start, name)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        )
    }
    return type(start).model_construct(**values)
