"""What Chat Completions answers, in Podium's terms: usage, rate limits, errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import openai

from podium import ProviderError, ProviderErrorKind, Quota, RateLimits, Secret, Usage, parse_retry_after
from podium import provider_kit as kit

from .config import PROVIDER

K = ProviderErrorKind

#: ``error.code`` / ``error.type`` values that say a quota waiting will not lift.
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})

#: ``error.type`` / ``error.code`` of an error sent inside a stream (no status there).
KIND_BY_TYPE = {
    "rate_limit_exceeded": K.RATE_LIMITED,
    "server_error": K.SERVER_ERROR,
    "overloaded_error": K.OVERLOADED,
    "invalid_request_error": K.BAD_REQUEST,
    "authentication_error": K.AUTHENTICATION,
    "permission_error": K.PERMISSION,
    "not_found_error": K.NOT_FOUND,
}


#: A reset such as ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"``.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def usage_of(usage: Any) -> Usage:
    """Podium's usage from ``CompletionUsage``: ``prompt_tokens`` includes the cached
    ``prompt_tokens_details.cached_tokens``, which are counted (and priced) as cache reads."""
    if usage is None:
        return Usage(requests=1)
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(
        input_tokens=max(0, (usage.prompt_tokens or 0) - cached),
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=cached,
        requests=1,
    )


def rate_limits(headers: Mapping[str, str]) -> RateLimits | None:
    """The ``x-ratelimit-*`` headers as :class:`podium.RateLimits` (``None`` without any).

    OpenAI counts input and output tokens together (``tokens``); a negative value (sent
    by some gateways for "not metered") counts as not sent.
    """
    requests = _quota(headers, "requests")
    tokens = _quota(headers, "tokens")
    if requests is None and tokens is None:
        return None
    return RateLimits(requests=requests, tokens=tokens)


def _quota(headers: Mapping[str, str], name: str) -> Quota | None:
    limit = _count(headers.get(f"x-ratelimit-limit-{name}"))
    remaining = _count(headers.get(f"x-ratelimit-remaining-{name}"))
    reset = parse_duration(headers.get(f"x-ratelimit-reset-{name}"))
    if limit is None and remaining is None and reset is None:
        return None
    return Quota(limit=limit, remaining=remaining, reset_s=reset)


def _count(raw: str | None) -> int | None:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def parse_duration(raw: str | None) -> float | None:
    """Seconds of a reset header: ``"6m0s"``, ``"20ms"``, or a plain number of seconds."""
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(raw)
    if not parts or "".join(a + b for a, b in parts) != raw:
        return None
    return sum(float(amount) * _UNITS[unit] for amount, unit in parts)


def provider_error(error: openai.APIError, key: Secret, timeout: float) -> ProviderError:
    """A :class:`podium.ProviderError` for anything the SDK raised, the key masked in its text."""
    if isinstance(error, openai.APITimeoutError):
        return ProviderError(f"no answer within {timeout:g} s", provider=PROVIDER, kind=K.TIMEOUT)
    if isinstance(error, openai.APIConnectionError):
        return ProviderError(
            f"could not reach {kit.shown_url(error.request.url)}: {key.mask(error.message)}",
            provider=PROVIDER,
            kind=K.CONNECTION,
        )
    body = error.body if isinstance(error.body, Mapping) else {}
    code, error_type = body.get("code"), body.get("type")
    message = body.get("message") if isinstance(body.get("message"), str) else None
    if not isinstance(error, openai.APIStatusError):
        # An error event inside a 200 stream: only its type says what happened.
        kind = KIND_BY_TYPE.get(str(code)) or KIND_BY_TYPE.get(str(error_type)) or K.SERVER_ERROR
        label = " ".join(str(part) for part in ("in a stream", error_type or code) if part)
        return ProviderError(key.mask(f"{label}: {message or error.message}"), provider=PROVIDER, kind=kind)
    status = error.status_code
    kind = kit.kind_for_status(status)
    if code in QUOTA_CODES or error_type in QUOTA_CODES:
        kind = K.QUOTA_EXHAUSTED
    headers = error.response.headers
    detail = message or kit.excerpt(error.body)
    label = " ".join(str(part) for part in (status, code or error_type) if part)
    return ProviderError(
        key.mask(f"{label}: {detail}"),
        provider=PROVIDER,
        kind=kind,
        status=status,
        retry_after=parse_retry_after(headers),
        limits=rate_limits(headers),
        request_id=error.request_id,
    )
