"""One engine's connection to Dask: a client of a running scheduler, or of a LocalCluster
the engine started and stops."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from podium_dask.errors import ClusterUnreachable
from podium_dask.settings import DaskSettings

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

_log = logging.getLogger("podium.plugins.dask")
_SEP = os.sep
# Dask's last writes on close finish within a loop turn or two; a second is generous.
_LAST_MESSAGES_WAIT = 1.0


class Cluster:
    """Opens on :meth:`connect` (once, however many callers ask), closes on :meth:`close`."""

    def __init__(self, settings: DaskSettings) -> None:
        self.settings = settings
        #: The client, once connected.
        self.client: Client | None = None
        self._local: LocalCluster | None = None
        self._opening: asyncio.Task[Client] | None = None

    def __repr__(self) -> str:
        where = self.settings.address or "a LocalCluster"
        return f"<podium_dask.Cluster {where} {'connected' if self.client else 'not connected'}>"

    @property
    def address(self) -> str | None:
        """The scheduler's address, once connected."""
        return None if self.client is None else scheduler_address(self.client)

    async def connect(self) -> Client:
        """The client, connecting (or starting the LocalCluster) on first use."""
        if self.client is not None:
            return self.client
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._open(), name="podium-dask:connect")
        # Shielded: a stage cancelled while waiting must not cancel the others' connection.
        return await asyncio.shield(self._opening)

    async def _open(self) -> Client:
        import dask
        from distributed import Client, LocalCluster

        settings = self.settings
        if settings.address is not None:
            client = await self._connect(settings.address)
            await self._note_rescheduling(client)
        else:
            # A lost worker fails its task at once, so the stage's own Retry decides what
            # happens next (instead of Dask re-running it up to 3 more times first).
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._local = await LocalCluster(**self._local_options())
            client = await Client(self._local, asynchronous=True)
        self.client = client
        return client

    def _local_options(self) -> dict[str, Any]:
        settings = self.settings
        options: dict[str, Any] = {
            "asynchronous": True,
            "processes": settings.processes,
            # Dask's scheduler serves HTTP (health, metrics) whatever this says: on a free
            # port unless told, so that two engines never fight over 8787.
            "dashboard_address": settings.dashboard_address or ":0",
        }
        if settings.workers is not None:
            options["n_workers"] = settings.workers
        if settings.threads_per_worker is not None:
            options["threads_per_worker"] = settings.threads_per_worker
        if settings.resources:
            options["resources"] = dict(settings.resources)
        if settings.preload:
            options["preload"] = list(settings.preload)
        return options

    async def _connect(self, address: str) -> Client:
        from distributed import Client

        timeout = self.settings.connect_timeout
        try:
            client: Client = await Client(address, asynchronous=True, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterUnreachable(
                f"cannot reach the Dask scheduler at {address!r} within {timeout:g}s ({error}); is "
                "`dask scheduler` running there? @ config.plugins.dask.address"
            ) from None
        return client

    @staticmethod
    async def _note_rescheduling(client: Client) -> None:
        try:
            allowed = await client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
        except Exception:  # an old or locked-down scheduler: nothing to say
            return
        if allowed:
            _log.info(
                "the Dask scheduler at %s re-runs a task whose worker died up to %s times before "
                "failing it; Podium's Retry applies after that (set distributed.scheduler."
                "allowed-failures to 0 on the scheduler for Podium's policy alone)",
                scheduler_address(client),
                allowed,
            )

    async def close(self) -> None:
        """Close the client, and the LocalCluster if the engine started one."""
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        client, self.client = self.client, None
        local, self._local = self._local, None
        for closing in (
            None if client is None else client.close(),
            None if local is None else local.close(),
        ):
            if closing is not None:
                await closing
        await _last_messages_sent()


async def _last_messages_sent() -> None:
    """Wait (briefly) for the comm writes Dask scheduled while closing.

    Closing an in-process cluster leaves its last messages as tasks on the caller's loop;
    left there, the loop's owner sees tasks still pending (``asyncio.run`` destroys them
    with a warning). Only Dask's own tasks are waited for, never the caller's.
    """
    current = asyncio.current_task()
    dask_tasks = [task for task in asyncio.all_tasks() if task is not current and _runs_dask_code(task)]
    if dask_tasks:
        await asyncio.wait(dask_tasks, timeout=_LAST_MESSAGES_WAIT)


def _runs_dask_code(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and f"{_SEP}distributed{_SEP}" in code.co_filename


def scheduler_address(client: Client) -> str:
    """The address of the scheduler ``client`` talks to."""
    scheduler = client.scheduler
    return "an unconnected scheduler" if scheduler is None else str(scheduler.address)
