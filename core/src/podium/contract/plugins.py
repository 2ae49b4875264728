"""The plugin manager factory: built-in plugins, entry-point discovery, allow and block lists.

There is no import-time global manager: every engine (and every test, and every remote
worker) builds a fresh one with :func:`create_plugin_manager`.

A hook implementation must implement a Podium hook: as pytest does, every function named
``podium_*`` is taken for one (marked with ``@hookimpl`` or not), and a registration that
leaves an implementation of an unknown hook is refused (pluggy's ``check_pending``), so a
misspelt hook name is an error instead of an implementation nobody calls.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import logging
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from podium.contract import hookspecs
from podium.foundation.errors import PluginError
from podium.foundation.markers import PROJECT_NAME

HOOK_PREFIX = f"{PROJECT_NAME}_"

if TYPE_CHECKING:
    from podium.definition.config import Settings

_log = logging.getLogger("podium.plugins")

#: Built-in behaviour, written as ordinary plugins whose hooks are ``trylast`` so that
#: installed plugins win.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "podium.engine.defaults.execution",
    "podium.engine.defaults.caching",
    "podium.engine.defaults.routing",
    "podium.engine.defaults.alerting",
    "podium.engine.defaults.agents",
    "podium.engine.defaults.store",
)

ENTRY_POINT_GROUP = PROJECT_NAME


@attrs.frozen
class PluginInfo:
    """What ``podium plugins`` shows about one plugin."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool = False
    status: str = "loaded"  # loaded | failed | blocked
    error: str | None = None


class PodiumPluginManager(pluggy.PluginManager):
    """A pluggy manager with Podium's hook specs that remembers where each plugin came from
    and what failed, and refuses a plugin implementing a hook that does not exist."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(HOOK_PREFIX) and inspect.isroutine(getattr(plugin, name, None)):
            # Unmarked, still a hook implementation: a forgotten @hookimpl must not hide a typo.
            opts = pluggy.HookimplOpts(
                wrapper=False,
                hookwrapper=False,
                optionalhook=False,
                tryfirst=False,
                trylast=False,
                specname=None,
            )
        return opts

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin``; raises :class:`PluginError` (leaving it unregistered) when one of
        its hook implementations does not fit its spec or implements no Podium hook."""
        try:
            registered = super().register(plugin, name)
        except pluggy.PluginValidationError as exc:
            canonical = name or self.get_canonical_name(plugin)
            label = _label(plugin) if canonical.isdigit() else canonical
            raise PluginError(
                str(exc).replace(f"Plugin {canonical!r}", f"plugin {label!r}", 1)
                + "\n(an implementation takes any subset of its hook's parameters and no others: "
                "see the hook reference)"
            ) from None
        try:
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            culprit = exc.plugin
            message = self._unknown_hooks_message(culprit)
            self.unregister(culprit)
            raise PluginError(message) from None
        return registered

    def _unknown_hooks_message(self, plugin: object) -> str:
        name = self.get_name(plugin)
        label = name if name and not name.isdigit() else _label(plugin)
        # Compared without the common prefix, which would make every name look close.
        specs = [
            n.removeprefix(HOOK_PREFIX)
            for n in vars(self.hook)
            if n.startswith(HOOK_PREFIX) and getattr(self.hook, n).has_spec()
        ]
        sentences = []
        for caller in self.get_hookcallers(plugin) or []:
            own = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
            if caller.has_spec() or all(impl.optionalhook for impl in own):
                continue
            close = difflib.get_close_matches(caller.name.removeprefix(HOOK_PREFIX), specs, n=1)
            advice = (
                f"did you mean {HOOK_PREFIX + close[0]!r}?"
                if close
                else "see the hook reference, or mark another plugin's hook @hookimpl(optionalhook=True)"
            )
            sentences.append(
                f"plugin {label!r} implements {caller.name!r}, which is not a Podium hook; {advice}"
            )
        return "\n".join(sentences)

    def register_info(self, info: PluginInfo) -> None:
        self.infos[info.name] = info

    @property
    def failures(self) -> list[PluginInfo]:
        return [info for info in self.infos.values() if info.status == "failed"]

    def plugin_hooks(self, name: str) -> list[str]:
        """Names of the hooks a registered plugin implements."""
        plugin = self.get_plugin(name)
        if plugin is None:
            return []
        return sorted(caller.name for caller in self.get_hookcallers(plugin) or [])


def _env_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def create_plugin_manager(
    *,
    autoload: bool | None = None,
    allow: Iterable[str] | None = None,
    disable: Iterable[str] = (),
    required: Iterable[str] = (),
    plugins: Iterable[object] = (),
    env: Mapping[str, str] | None = None,
) -> PodiumPluginManager:
    """Build a plugin manager with the built-ins and the installed plugins.

    :param autoload: Load plugins from the ``podium`` entry-point group; default on,
        off when ``PODIUM_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param allow: Load only these entry-point names (``PODIUM_LOAD_PLUGINS=a,b``).
    :param disable: Never import these plugins (built-ins included, by module name).
    :param required: A failure to load one of these is fatal instead of a warning.
    :param plugins: Extra plugin objects (modules or instances) to register.
    """
    env = os.environ if env is None else env
    if autoload is None:
        autoload = not env.get("PODIUM_DISABLE_PLUGIN_AUTOLOAD")
    if allow is None:
        allow = _env_list(env.get("PODIUM_LOAD_PLUGINS"))
    allowed = set(allow) if allow is not None else None
    required_names = set(required)
    pm = PodiumPluginManager()
    for name in disable:
        pm.set_blocked(name)
        pm.register_info(PluginInfo(name, None, None, status="blocked"))

    for module_name in DEFAULT_PLUGINS:
        if pm.is_blocked(module_name):
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
        pm.register_info(PluginInfo(module_name, "podium", _version("podium"), builtin=True))

    if autoload or allowed:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            name = entry_point.name
            if pm.is_blocked(name) or pm.has_plugin(name):
                continue
            if allowed is not None and name not in allowed:
                continue
            _load_entry_point(pm, entry_point, required=name in required_names)

    for plugin in plugins:
        pm.register(plugin)
        name = pm.get_name(plugin) or repr(plugin)
        pm.register_info(PluginInfo(name, None, None))

    missing = sorted(n for n in required_names if not pm.has_plugin(n))
    if missing:
        raise PluginError(
            f"required plugin(s) not installed or not allowed: {', '.join(missing)} "
            "(check `podium plugins --all` and PODIUM_LOAD_PLUGINS)"
        )
    return pm


def _load_entry_point(
    pm: PodiumPluginManager, entry_point: importlib.metadata.EntryPoint, *, required: bool
) -> None:
    dist = entry_point.dist
    dist_name = dist.metadata["Name"] if dist is not None else None
    version = dist.version if dist is not None else None
    try:
        plugin: Any = entry_point.load()
        pm.register(plugin, name=entry_point.name)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        pm.register_info(PluginInfo(entry_point.name, dist_name, version, status="failed", error=message))
        if required:
            raise PluginError(
                f"required plugin {entry_point.name!r} ({dist_name}) failed to load: {message}"
            ) from exc
        warnings.warn(
            f"podium plugin {entry_point.name!r} ({dist_name} {version}) failed to load and is "
            f"skipped: {message}",
            RuntimeWarning,
            stacklevel=2,
        )
        _log.warning("plugin %r failed to load: %s", entry_point.name, message)
        return
    pm.register_info(PluginInfo(entry_point.name, dist_name, version))


def _label(plugin: object) -> str:
    """A plugin as a person knows it: a module by its name, an instance by its class."""
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def configured_plugin_manager(settings: Settings, *, enforce_required: bool = True) -> PodiumPluginManager:
    """:func:`create_plugin_manager` with the configuration's autoload, allow, disable and
    required lists (``enforce_required=False`` lists a missing required plugin instead)."""
    return create_plugin_manager(
        autoload=settings.autoload,
        allow=settings.load_plugins,
        disable=settings.disable,
        required=settings.required_plugins if enforce_required else (),
    )
