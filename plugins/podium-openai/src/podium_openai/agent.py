"""An agent answering through Chat Completions (OpenAI, or a server speaking its protocol)."""

from __future__ import annotations

from typing import Any

import openai

from podium import AgentReply, Prompt, ProviderError, ProviderErrorKind
from podium import provider_kit as kit

from .config import CALL_OPTIONS, PROVIDER, AgentOptions, ClientSettings
from .mapping import provider_error, rate_limits, usage_of

#: Chat Completions' finish reasons in the words Podium's replies use elsewhere.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


class OpenAIAgent(kit.ProviderAgent[openai.AsyncOpenAI, AgentOptions]):
    """A model behind ``AsyncOpenAI``'s Chat Completions, with the SDK's own retries off.

    Build it through the provider (``[agents.<name>] provider = "openai"``, or
    ``engine.providers["openai"](spec, engine.config)``). Each :meth:`complete` makes one
    request; failures raise :class:`podium.ProviderError` with the kind, status,
    ``retry-after`` and rate-limit state, for the agent policies to act on.
    """

    provider = PROVIDER
    options_type = AgentOptions
    call_options = CALL_OPTIONS
    unknown_hint = "; other request fields go in params"
    settings: ClientSettings

    async def complete(self, prompt: str | Prompt, **options: Any) -> AgentReply:
        """Send ``prompt`` once; ``options`` override the agent's (``max_tokens``, ``system``, ...)."""
        call = self.call(options)
        request = self._request(Prompt.of(prompt), call)
        client = self.client()
        try:
            if call.stream:
                return await self._stream(client, request)
            return await self._create(client, request)
        except openai.APIError as error:
            raise provider_error(error, self.settings.api_key, self.settings.timeout) from None

    def new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self.settings.api_key.reveal(),
            base_url=self.settings.base_url,
            organization=self.settings.organization,
            project=self.settings.project,
            timeout=openai.Timeout(self.settings.timeout, connect=min(5.0, self.settings.timeout)),
            max_retries=0,  # one retry layer: the agent policies', honouring retry-after
        )

    def _request(self, prompt: Prompt, call: AgentOptions) -> dict[str, Any]:
        system = prompt.system if prompt.system is not None else call.system
        messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        messages += [{"role": m.role, "content": m.content} for m in prompt.history]
        messages.append({"role": "user", "content": prompt.text})
        request: dict[str, Any] = {**(call.params or {}), "model": self.model, "messages": messages}
        if call.max_tokens is not None:
            request[call.max_tokens_field or "max_completion_tokens"] = call.max_tokens
        if call.stop:
            request["stop"] = list(call.stop)
        return request

    async def _create(self, client: openai.AsyncOpenAI, request: dict[str, Any]) -> AgentReply:
        raw = await client.chat.completions.with_raw_response.create(**request)
        completion = raw.parse()
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            raise self._incomplete("the completion has no choices", raw)
        return AgentReply(
            choice.message.content or "",
            usage_of(completion.usage),
            model=completion.model or self.model,
            stop_reason=STOP_REASONS.get(choice.finish_reason, choice.finish_reason),
            limits=rate_limits(raw.headers),
            request_id=raw.headers.get("x-request-id"),
        )

    async def _stream(self, client: openai.AsyncOpenAI, request: dict[str, Any]) -> AgentReply:
        request = {**request, "stream": True, "stream_options": {"include_usage": True}}
        raw = await client.chat.completions.with_raw_response.create(**request)
        chunks = raw.parse()
        parts: list[str] = []
        model, finish, usage = self.model, None, None
        async for chunk in chunks:
            model = chunk.model or model
            usage = chunk.usage or usage
            for choice in chunk.choices[:1]:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        if finish is None:
            raise self._incomplete("the stream ended before a choice finished", raw)
        return AgentReply(
            "".join(parts),
            usage_of(usage),
            model=model,
            stop_reason=STOP_REASONS.get(finish, finish),
            limits=rate_limits(raw.headers),
            request_id=raw.headers.get("x-request-id"),
        )

    def _incomplete(self, what: str, raw: Any) -> ProviderError:
        return ProviderError(
            what,
            provider=PROVIDER,
            kind=ProviderErrorKind.SERVER_ERROR,
            status=raw.status_code,
            request_id=raw.headers.get("x-request-id"),
        )
