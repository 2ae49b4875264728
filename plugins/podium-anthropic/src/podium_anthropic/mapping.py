"""What the Messages API answers, in Podium's terms: usage, rate limits, errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx2

from podium import ProviderError, ProviderErrorKind, Quota, RateLimits, Secret, Usage, parse_retry_after
from podium import provider_kit as kit

from .config import PROVIDER

K = ProviderErrorKind

#: ``error.type`` of an error body → kind (the type decides: the status of an error inside
#: a 200 stream says nothing).
KIND_BY_TYPE = {
    "rate_limit_error": K.RATE_LIMITED,
    "overloaded_error": K.OVERLOADED,
    "api_error": K.SERVER_ERROR,
    "timeout_error": K.TIMEOUT,
    "authentication_error": K.AUTHENTICATION,
    "permission_error": K.PERMISSION,
    "not_found_error": K.NOT_FOUND,
    "invalid_request_error": K.BAD_REQUEST,
    "request_too_large": K.BAD_REQUEST,
    "billing_error": K.QUOTA_EXHAUSTED,
}

#: ``error.details.error_code`` of a 429 that waiting a minute will not lift (a spend cap).
SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})

_QUOTAS = (
    ("requests", "requests"),
    ("tokens", "tokens"),
    ("input_tokens", "input-tokens"),
    ("output_tokens", "output-tokens"),
)


def usage_of(usage: Any) -> Usage:
    """Podium's usage from the API's: uncached input, output, cache reads and writes, one request.

    The API counts ``input_tokens`` without the cached parts, so the three input counts add
    up to the prompt and each is priced at its own rate.
    """
    return Usage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
        requests=1,
    )


def rate_limits(headers: Mapping[str, str], now: datetime | None = None) -> RateLimits | None:
    """The ``anthropic-ratelimit-*`` headers as :class:`podium.RateLimits` (``None`` without any)."""
    now = now or datetime.now(UTC)
    quotas = {field: _quota(headers, f"anthropic-ratelimit-{name}", now) for field, name in _QUOTAS}
    if not any(quotas.values()):
        return None
    return RateLimits(**quotas)


def _quota(headers: Mapping[str, str], prefix: str, now: datetime) -> Quota | None:
    limit = _integer(headers.get(f"{prefix}-limit"))
    remaining = _integer(headers.get(f"{prefix}-remaining"))
    reset = _seconds_until(headers.get(f"{prefix}-reset"), now)
    if limit is None and remaining is None and reset is None:
        return None
    return Quota(limit=limit, remaining=remaining, reset_s=reset)


def _integer(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _seconds_until(raw: str | None, now: datetime) -> float | None:
    # An RFC 3339 time ("2026-11-21T12:40:59Z"): when the quota is fully replenished.
    if raw is None:
        return None
    try:
        reset = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if reset.tzinfo is None:
        reset = reset.replace(tzinfo=UTC)
    return max(0.0, (reset - now).total_seconds())


def provider_error(error: anthropic.APIError, key: Secret, timeout: float) -> ProviderError:
    """A :class:`podium.ProviderError` for anything the SDK raised, the key masked in its text."""
    if isinstance(error, anthropic.APITimeoutError):
        return ProviderError(f"no answer within {timeout:g} s", provider=PROVIDER, kind=K.TIMEOUT)
    if isinstance(error, anthropic.APIConnectionError):
        return ProviderError(
            f"could not reach {kit.shown_url(error.request.url)}: {key.mask(error.message)}",
            provider=PROVIDER,
            kind=K.CONNECTION,
        )
    if not isinstance(error, anthropic.APIStatusError):
        return ProviderError(key.mask(str(error)), provider=PROVIDER, kind=K.OTHER)
    headers = error.response.headers
    status = error.status_code
    error_type = error.type
    # The type decides where there is one; a proxy's HTML page or a new type leaves the status.
    kind = KIND_BY_TYPE.get(error_type or "") or kit.kind_for_status(status)
    if kind is K.RATE_LIMITED and error.error_code in SPEND_LIMIT_CODES:
        kind = K.QUOTA_EXHAUSTED
    detail = error.api_message or kit.excerpt(error.body)
    label = " ".join(part for part in (str(status) if status != 200 else "in a stream", error_type) if part)
    return ProviderError(
        key.mask(f"{label}: {detail}"),
        provider=PROVIDER,
        kind=kind,
        status=status,
        retry_after=parse_retry_after(headers),
        limits=rate_limits(headers),
        request_id=error.request_id or headers.get("request-id"),
    )


def stream_broken(error: httpx2.TransportError, timeout: float) -> ProviderError:
    """A :class:`podium.ProviderError` for a stream that stalled or broke after its 200."""
    if isinstance(error, httpx2.TimeoutException):
        return ProviderError(f"the stream sent nothing for {timeout:g} s", provider=PROVIDER, kind=K.TIMEOUT)
    return ProviderError(
        f"the stream broke off: {type(error).__name__}", provider=PROVIDER, kind=K.CONNECTION
    )
