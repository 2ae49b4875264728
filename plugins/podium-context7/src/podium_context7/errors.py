"""Errors of the Context7 plugin: each names the library, the status and the service's message."""

from __future__ import annotations

from podium import PodiumError


class Context7Error(PodiumError):
    """Context7 could not provide a library's documentation.

    :param library: The library as the stage named it.
    :param message: What went wrong, with the service's own message when it sent one.
    :param status: The HTTP status, or ``None`` for timeouts and network failures.
    :param code: The service's error code (``library_not_found``, ...) or ours
        (``timeout``, ``network_error``, ``not_ready``).
    """

    def __init__(self, library: str, message: str, *, status: int | None = None, code: str | None = None):
        self.library = library
        self.message = message
        self.status = status
        self.code = code
        super().__init__(library, message)

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no response"
        return (
            f"Context7 documentation for {self.library!r}: {self.message} ({where}, {self.code or 'error'})"
        )


class InvalidDocsRequest(PodiumError, ValueError):
    """``ctx.docs(...)`` was called with arguments the service would reject."""
