"""Rate-limit meters in Redis, shared by every process that uses the same server.

The same sliding windows as :class:`podium.running.agents.windows.SlidingWindow`, kept
in Redis per meter (a sorted set of admitted calls, their amounts, a running total, a
"blocked until" time) and moved by Lua scripts, so checking every meter of a call and
admitting it is one atomic step, on the Redis server's clock. Keys are
``podium:limits:<meter>:...`` and expire once their window has passed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from podium.foundation.errors import ConfigError
from podium.foundation.redaction import redact_url
from podium.running.agents.limiter import Meter

_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_EXPIRE = """
local function expire(z, h, tot, now, window)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - window)
  if #old > 0 then
    local freed = 0
    for _, m in ipairs(old) do freed = freed + tonumber(redis.call('HGET', h, m) or '0') end
    for _, m in ipairs(old) do redis.call('HDEL', h, m) end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now - window)
    redis.call('DECRBY', tot, freed)
  end
  return tonumber(redis.call('GET', tot) or '0')
end
"""

# KEYS: 4 per meter (set, amounts, total, blocked); ARGV: id, then limit, window ms, amount per meter.
_ACQUIRE = (
    _CLOCK
    + _EXPIRE
    + """
local id = ARGV[1]
local n = #KEYS / 4
local wait = 0
local amounts = {}
for i = 0, n - 1 do
  local z, h, tot, blk = KEYS[4*i+1], KEYS[4*i+2], KEYS[4*i+3], KEYS[4*i+4]
  local limit, window = tonumber(ARGV[2+3*i]), tonumber(ARGV[3+3*i])
  local amount = math.min(tonumber(ARGV[4+3*i]), limit)
  amounts[i] = amount
  local total = expire(z, h, tot, now, window)
  local blocked = tonumber(redis.call('GET', blk) or '0')
  if blocked > now then wait = math.max(wait, blocked - now) end
  local excess = total + amount - limit
  if excess > 0 then
    local w = window
    local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
    for j = 1, #entries, 2 do
      excess = excess - tonumber(redis.call('HGET', h, entries[j]) or '0')
      if excess <= 0 then w = tonumber(entries[j+1]) + window - now; break end
    end
    wait = math.max(wait, w, 1)
  end
end
if wait > 0 then return wait end
for i = 0, n - 1 do
  local z, h, tot = KEYS[4*i+1], KEYS[4*i+2], KEYS[4*i+3]
  local window = tonumber(ARGV[3+3*i])
  redis.call('ZADD', z, now, id)
  redis.call('HSET', h, id, amounts[i])
  redis.call('INCRBY', tot, amounts[i])
  for _, k in ipairs({z, h, tot}) do redis.call('PEXPIRE', k, window * 2) end
end
return 0
"""
)

# KEYS: 3 per token meter; ARGV: id, amount.
_SETTLE = """
local id, amount = ARGV[1], tonumber(ARGV[2])
for i = 0, #KEYS / 3 - 1 do
  local z, h, tot = KEYS[3*i+1], KEYS[3*i+2], KEYS[3*i+3]
  if redis.call('ZSCORE', z, id) then
    local old = tonumber(redis.call('HGET', h, id) or '0')
    redis.call('HSET', h, id, amount)
    redis.call('INCRBY', tot, amount - old)
  end
end
return 0
"""

# KEYS: blocked per meter; ARGV: milliseconds.
_BLOCK = (
    _CLOCK
    + """
local ms = tonumber(ARGV[1])
for _, blk in ipairs(KEYS) do
  local until_ = math.max(tonumber(redis.call('GET', blk) or '0'), now + ms)
  redis.call('SET', blk, until_, 'PX', until_ - now)
end
return 0
"""
)

# KEYS: 3 per meter; ARGV: window ms per meter.
_USED = (
    _CLOCK
    + _EXPIRE
    + """
local out = {}
for i = 0, #KEYS / 3 - 1 do
  out[i + 1] = expire(KEYS[3*i+1], KEYS[3*i+2], KEYS[3*i+3], now, tonumber(ARGV[i + 1]))
end
return out
"""
)


def _keys(meter: Meter) -> list[str]:
    base = f"podium:limits:{meter.name}"
    return [f"{base}:calls", f"{base}:amounts", f"{base}:total", f"{base}:blocked"]


class RedisLimits:
    """Meters in Redis (``redis://host:port/db``): one limit for every process using it."""

    NAME = "redis"

    def __init__(self, url: str) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigError(
                f"limits_backend {redact_url(url)!r} needs the Redis client: pip install 'podium[redis]'"
            ) from None
        self.url = url
        self._client: Any = aioredis.from_url(url)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._settle = self._client.register_script(_SETTLE)
        self._block = self._client.register_script(_BLOCK)
        self._used = self._client.register_script(_USED)

    def __repr__(self) -> str:
        return f"<RedisLimits {redact_url(self.url)}>"

    async def try_acquire(self, meters: Sequence[Meter], tokens: int) -> tuple[float, Any]:
        keys: list[str] = []
        args: list[Any] = [uuid.uuid4().hex]
        for meter in meters:
            keys += _keys(meter)
            args += [meter.limit, round(meter.window_s * 1000), meter.amount(tokens)]
        wait = int(await self._acquire(keys=keys, args=args))
        if wait > 0:
            return wait / 1000, None
        return 0.0, (args[0], [m for m in meters if m.tokens])

    async def settle(self, ticket: Any, tokens: int) -> None:
        member, token_meters = ticket
        if token_meters:
            keys = [k for m in token_meters for k in _keys(m)[:3]]
            await self._settle(keys=keys, args=[member, tokens])

    async def block(self, meters: Sequence[Meter], seconds: float) -> None:
        if meters:
            await self._block(keys=[_keys(m)[3] for m in meters], args=[max(1, round(seconds * 1000))])

    async def used(self, meters: Sequence[Meter]) -> dict[str, int]:
        if not meters:
            return {}
        keys = [k for m in meters for k in _keys(m)[:3]]
        counts = await self._used(keys=keys, args=[round(m.window_s * 1000) for m in meters])
        return {m.name: int(c) for m, c in zip(meters, counts, strict=True)}

    async def close(self) -> None:
        await self._client.aclose()


__all__ = ["RedisLimits"]
