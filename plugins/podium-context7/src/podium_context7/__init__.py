"""podium-context7: library documentation from Context7, batched, de-duplicated, cached and budgeted.

Stages call ``await ctx.docs(["fastapi", "sqlalchemy"], query="...", tokens=2400)``; this
plugin answers through one pooled HTTP client per engine. See ``docs/context7.md``.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence

from podium import Context, DocBundle, Engine, hookimpl
from podium_context7.client import __version__
from podium_context7.config import ENVIRONMENT, Context7Config, Settings
from podium_context7.errors import Context7Error, InvalidDocsRequest
from podium_context7.service import Context7Service

SECTION = "context7"

_services: weakref.WeakKeyDictionary[Engine, Context7Service] = weakref.WeakKeyDictionary()


def service_for(engine: Engine) -> Context7Service:
    """The documentation service of ``engine``, created on first use."""
    service = _services.get(engine)
    if service is None or service.client.closed:
        settings = Settings.resolve(engine.config.section(SECTION))
        service = Context7Service(settings, engine.result_cache if engine.result_cache.enabled else None)
        _services[engine] = service
    return service


@hookimpl
def podium_register_config_sections(register: Callable[..., None]) -> None:
    register(SECTION, Context7Config, env=ENVIRONMENT)


@hookimpl
def podium_engine_started(engine: Engine) -> None:
    if engine.config.section(SECTION).enabled:
        service_for(engine)


@hookimpl
def podium_engine_stopping(engine: Engine) -> Awaitable[None] | None:
    service = _services.pop(engine, None)
    return service.aclose() if service is not None else None


@hookimpl
def podium_fetch_docs(
    libraries: Sequence[str], query: str, tokens: int | None, ctx: Context
) -> Awaitable[DocBundle] | None:
    if not ctx.engine.config.section(SECTION).enabled:
        return None
    service = service_for(ctx.engine)
    budget = service.check(libraries, query, tokens, ctx.stage.name)
    return service.fetch(libraries, query, budget, ctx)


__all__ = [
    "Context7Config",
    "Context7Error",
    "Context7Service",
    "InvalidDocsRequest",
    "__version__",
    "service_for",
]
