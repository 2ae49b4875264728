"""The ``[plugins.dask]`` configuration section."""

from __future__ import annotations

import attrs


def _at_least_one(instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


def _address(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and "://" not in value and ":" not in value:
        raise ValueError(f"expected a scheduler address such as 'tcp://scheduler:8786', got {value!r}")


@attrs.define
class DaskSettings:
    """Where stage bodies run: a running Dask scheduler (``address``), or a LocalCluster
    that the engine starts and stops (the other keys)."""

    #: The scheduler's address (``tcp://host:8786``); unset, a LocalCluster is started.
    address: str | None = attrs.field(default=None, validator=_address)
    #: Seconds to wait for the scheduler before the engine's start fails.
    connect_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: LocalCluster: how many workers (unset: Dask's choice, about one per core).
    workers: int | None = attrs.field(default=None, validator=_at_least_one)
    #: LocalCluster: threads per worker (unset: Dask's choice).
    threads_per_worker: int | None = attrs.field(default=None, validator=_at_least_one)
    #: LocalCluster: workers in their own processes (true) or threads of this one (false).
    processes: bool = True
    #: LocalCluster: resources each worker offers, e.g. ``{ GPU = 1 }``.
    resources: dict[str, float] = attrs.field(factory=dict)
    #: LocalCluster: modules or scripts each worker runs when it starts (``dask worker --preload``).
    preload: list[str] = attrs.field(factory=list)
    #: LocalCluster: the scheduler's HTTP address, dashboard included (``":8787"``);
    #: unset, a free port.
    dashboard_address: str | None = None
