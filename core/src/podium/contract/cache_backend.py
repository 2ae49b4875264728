"""The cache backend contract: what a backend from ``podium_cache_backend`` offers the kernel.

A backend is an aiocache cache (a ``BaseCache``): the result cache reads with ``get``,
writes with ``set`` (the backend's serializer turns values into what it stores), closes it
with ``close``, and names it by its ``NAME`` class attribute (else its class name).
Anything a backend does differently (rounding ttls, dropping connections after an
interrupted command, closing a client) belongs inside its own methods. On top of that it
may offer, all optional:

- :class:`CacheAdmin` (``stats``, ``clear_prefix``): it takes part in
  ``podium cache stats|clear`` and ``engine.result_cache.stats()|clear()``. A backend
  without them is listed as "stats not supported", and Podium cannot clear it.
- :class:`InProcessBackend` (``get_nowait``, ``set_nowait``): it lives in this process's
  memory, so the result cache reads and writes it synchronously, with no timeout and no
  serializer (values are kept as the objects themselves). These calls bypass aiocache
  plugins.
- ``is_connection_error(error) -> bool``: whether an error it raised means it is
  unreachable or too slow (the result cache then leaves it alone for a while) rather than
  that one value is bad. Without it, ``OSError`` and ``TimeoutError`` mean that.
- ``clear_flushes_all: bool``: true when ``clear_prefix`` can only empty the whole store,
  other applications' entries included (memcached); the command line asks before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from podium.values.keys import namespace_and_kind


@attrs.frozen
class CacheStats:
    """What a backend holds under a key prefix, as :meth:`CacheAdmin.stats` reports it.

    :ivar entries: Live entries, or ``None`` when the backend cannot list its keys.
    :ivar bytes: Bytes their stored values take, or ``None`` when the backend cannot tell.
    :ivar namespaces: Entries per cache namespace (``""`` is the default one) and kind
        (``stage``, ``agent``, ``docs``, ...): ``{"": {"stage": 3}}``.
    :ivar server: Figures of the store as a whole (the server, the file); they may count
        other applications' data.
    """

    entries: int | None = None
    bytes: int | None = None
    namespaces: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)
    server: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of_keys(
        cls, keys: Iterable[str], *, bytes: int | None = None, server: Mapping[str, Any] | None = None
    ) -> CacheStats:
        """The statistics of these live keys (as the result cache wrote them): counted and grouped."""
        counts = Counter(namespace_and_kind(key) for key in keys)
        namespaces: dict[str, dict[str, int]] = {}
        for (namespace, kind), n in sorted(counts.items()):
            namespaces.setdefault(namespace, {})[kind] = n
        return cls(sum(counts.values()), bytes, namespaces, dict(server or {}))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``entries``, ``bytes``, ``namespaces``, ``server``."""
        return {
            "entries": self.entries,
            "bytes": self.bytes,
            "namespaces": {ns: dict(kinds) for ns, kinds in self.namespaces.items()},
            "server": dict(self.server),
        }


@runtime_checkable
class CacheAdmin(Protocol):
    """A cache backend Podium can inspect and clear (``podium cache stats|clear``).

    ``prefix`` is ``"podium:"`` (all of Podium's entries) or one namespace's
    ``"podium:<namespace>:"``, and matches keys as the result cache gives them to
    ``get`` and ``set``. Entries of other applications sharing the store are neither
    counted nor deleted. An exception raised here reaches the caller as a
    :class:`podium.CacheBackendError` naming the backend; raise one yourself to explain
    what the backend cannot do.
    """

    async def stats(self, prefix: str) -> CacheStats:
        """The live entries whose keys start with ``prefix``: how many, their size, their namespaces."""
        ...

    async def clear_prefix(self, prefix: str) -> int | None:
        """Delete the entries whose keys start with ``prefix``.

        :return: How many live entries were deleted, or ``None`` when the backend cannot count them.
        """
        ...


@runtime_checkable
class InProcessBackend(Protocol):
    """A backend in this process's memory, read and written without awaiting (see the module doc)."""

    def get_nowait(self, key: str) -> Any:
        """The value stored under ``key``, or ``None`` when there is none or it expired."""
        ...

    def set_nowait(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (the object itself) under ``key`` for ``ttl`` seconds (``None``: no expiry)."""
        ...


def backend_name(backend: object) -> str:
    """The backend's ``NAME`` (``memory``, ``sqlite``, ``redis``, ``memcached``), else its class name."""
    name = getattr(backend, "NAME", None)
    return name if isinstance(name, str) and name else type(backend).__name__


def is_outage(backend: object, error: BaseException) -> bool:
    """Whether ``error`` from ``backend`` says it is unreachable or slow, not that one value is bad."""
    own = getattr(backend, "is_connection_error", None)
    if callable(own):
        return bool(own(error))
    return isinstance(error, (OSError, TimeoutError))


__all__ = ["CacheAdmin", "CacheStats", "InProcessBackend", "backend_name", "is_outage"]
