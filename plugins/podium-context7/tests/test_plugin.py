"""The plugin as installed: found through its entry point, its hooks matching the kernel's specs."""

from __future__ import annotations

import podium
import podium_context7


def test_the_entry_point_registers_the_plugin_as_context7() -> None:
    pm = podium.create_plugin_manager()

    assert pm.get_plugin("context7") is podium_context7
    assert pm.plugin_hooks("context7") == [
        "podium_engine_started",
        "podium_engine_stopping",
        "podium_fetch_docs",
        "podium_register_config_sections",
    ]
    pm.check_pending()


def test_every_public_name_is_documented() -> None:
    for name in podium_context7.__all__:
        if name != "__version__":
            assert getattr(podium_context7, name).__doc__, name
