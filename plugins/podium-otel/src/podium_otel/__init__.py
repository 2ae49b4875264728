"""podium-otel: OpenTelemetry traces and metrics for Podium workflows.

Installed, this module is loaded through the ``otel`` entry point. It gives each engine
its own :class:`OtelPlugin` when the engine starts, unless the application registered one
itself (for instance to hand it its own providers), so state is never shared across
engines. Configure it in ``[plugins.otel]`` (see :class:`OtelSettings`).
"""

from __future__ import annotations

from collections.abc import Callable

from podium import Engine, hookimpl
from podium_otel.plugin import OtelPlugin
from podium_otel.settings import Exporter, OtelSettings, OtlpProtocol

__version__ = "0.1.0"

__all__ = ["Exporter", "OtelPlugin", "OtelSettings", "OtlpProtocol", "__version__", "plugin_for"]


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register("otel", OtelSettings)


@hookimpl
def podium_engine_started(engine: Engine) -> None:
    if plugin_for(engine) is not None:
        return  # the application registered its own OtelPlugin
    plugin = OtelPlugin()
    plugin.automatic = True
    plugin.podium_engine_started(engine)
    engine.pm.register(plugin, name=f"podium_otel.{id(engine):x}")


def plugin_for(engine: Engine) -> OtelPlugin | None:
    """The :class:`OtelPlugin` serving ``engine`` (e.g. to read its ``scrape_address``)."""
    for plugin in engine.pm.get_plugins():
        if isinstance(plugin, OtelPlugin):
            return plugin
    return None
