"""The pluggy markers for Podium's hook specifications and implementations."""

import pluggy

PROJECT_NAME = "podium"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks a hook specification (Podium's own are in the hook reference)."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a hook implementation: ``@podium.hookimpl``, or ``@podium.hookimpl(wrapper=True,
tryfirst=True, trylast=True, optionalhook=True)``. A function named ``podium_*`` in a
plugin is an implementation even unmarked; one naming no Podium hook is an error."""

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
