"""Podium's pytest plugin (loaded automatically where podium is installed): fixtures for plugin authors.

- ``podium_plugin_manager``: a fresh plugin manager with the built-ins and the installed
  plugins (no global state is shared between tests).
- ``podium_register``: register a plugin object for the test, unregistered afterwards.
- ``podium_hook_recorder``: records every hook call made through the fresh manager.
- ``podium_engine``: a factory of engines on the fresh manager, with in-memory cache
  and default configuration (``async with podium_engine(agents=...) as engine``; pass
  ``cache_url=`` for another cache, ``cache_url=False`` for none).

The simulated agent is re-exported: ``from podium.testing import SimulatedAgent``.

:class:`FakeHTTPServer` (with :class:`HTTPReply`, :class:`SeenRequest`) is the scripted
127.0.0.1 server that fakes of real services (LLM providers, ...) are built on, and
:class:`MinuteQuota` the per-minute quota such a fake enforces and reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import attrs
import pytest

from podium.contract.plugins import PodiumPluginManager, create_plugin_manager
from podium.definition.config import Config
from podium.engine.engine import Engine
from podium.foundation.markers import hookimpl
from podium.running.agents import Agent, SimulatedAgent
from podium.running.events import EVENTS as _EVENTS
from podium.testing.fake_http import FakeHTTPServer, HTTPReply, MinuteQuota, QuotaState, SeenRequest

__all__ = [
    "FakeHTTPServer",
    "HTTPReply",
    "HookCall",
    "HookRecorder",
    "MinuteQuota",
    "QuotaState",
    "SeenRequest",
    "SimulatedAgent",
]


@attrs.frozen
class HookCall:
    """One recorded hook call: its name and keyword arguments."""

    name: str
    kwargs: Mapping[str, Any]


def _listener() -> object:
    """A plugin implementing every lifecycle event, so that the kernel fires them all.

    (The kernel skips events nobody implements; a recorder must see them.)
    """

    def listen() -> None:
        return None

    namespace = {name: hookimpl(listen) for name in _EVENTS}
    return type("PodiumEventListener", (), {k: staticmethod(v) for k, v in namespace.items()})()


class HookRecorder:
    """Records the hook calls made through a plugin manager, in order (lifecycle events included)."""

    def __init__(self, pm: PodiumPluginManager) -> None:
        self.calls: list[HookCall] = []
        self._pm = pm
        pm.register(_listener(), name="podium-hook-recorder")
        self._undo = pm.add_hookcall_monitoring(self._before, lambda *args: None)

    def _before(self, hook_name: str, hook_impls: Any, kwargs: Mapping[str, Any]) -> None:
        self.calls.append(HookCall(hook_name, dict(kwargs)))

    def names(self) -> list[str]:
        """The names of the hooks called, in order."""
        return [call.name for call in self.calls]

    def of(self, name: str) -> list[HookCall]:
        """The calls of one hook."""
        return [call for call in self.calls if call.name == name]

    def stop(self) -> None:
        self._undo()
        self._pm.unregister(name="podium-hook-recorder")


@pytest.fixture
def podium_plugin_manager() -> PodiumPluginManager:
    """A fresh plugin manager: built-ins plus installed plugins."""
    return create_plugin_manager()


@pytest.fixture
def podium_register(podium_plugin_manager: PodiumPluginManager) -> Iterator[Callable[[object], object]]:
    """Register plugin objects on the fresh manager for one test."""
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> object:
        podium_plugin_manager.register(plugin, name=name)
        registered.append(plugin)
        return plugin

    yield register
    for plugin in registered:
        if podium_plugin_manager.is_registered(plugin):
            podium_plugin_manager.unregister(plugin)


@pytest.fixture
def podium_hook_recorder(podium_plugin_manager: PodiumPluginManager) -> Iterator[HookRecorder]:
    """Records every hook call made through the fresh manager."""
    recorder = HookRecorder(podium_plugin_manager)
    yield recorder
    recorder.stop()


@pytest.fixture
def podium_engine(podium_plugin_manager: PodiumPluginManager) -> Callable[..., Engine]:
    """A factory of engines on the fresh manager: ``async with podium_engine() as engine``."""

    def make(
        *,
        agents: Mapping[str, Agent] | None = None,
        config: Config | None = None,
        cache_url: str | Literal[False] | None = "memory://",
        plugins: tuple[object, ...] = (),
    ) -> Engine:
        return Engine(
            config=config or Config(),
            plugin_manager=podium_plugin_manager,
            agents=agents,
            cache_url=cache_url,
            plugins=plugins,
        )

    return make
