"""Whether the process that started a run is still alive: pid, plus its start time.

A pid alone can be reused after the process died, so a run row also records a token of
the process's start time (``/proc/<pid>/stat`` on Linux). Where there is no ``/proc``,
a signal-0 probe says whether some process has the pid.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text[text.rfind(")") + 2 :].split()


def process_token(pid: int) -> str | None:
    """A token that changes when ``pid`` is reused: its start time since boot, in clock ticks."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def this_process() -> tuple[str, int, str | None]:
    """(host, pid, token) of the running process."""
    pid = os.getpid()
    return socket.gethostname(), pid, process_token(pid)


def process_alive(pid: int, token: str | None) -> bool:
    """Whether the process ``pid`` that had ``token`` when the run started still runs."""
    fields = _stat_fields(pid)
    if fields is not None:
        if fields[0] in ("Z", "X"):  # a zombie has ended; only its parent has not reaped it
            return False
        return token is None or (len(fields) > 19 and fields[19] == token)
    if _PROC.is_dir():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


__all__ = ["process_alive", "process_token", "this_process"]
