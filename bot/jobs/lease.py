"""A run's hold on its job, as far as the run can know without asking: granted for the lease's length from when it
was last renewed. A run stopped longer than that (a hung process, SIGSTOP) may have been taken over, even by its own
process, so it asks again before its next SORACOM write and stops if the job has passed to another run."""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar

from bot.jobs.rows import Pending
from bot.jobs.store import PendingActions

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, store: PendingActions, worker_id: str, job: Pending, work: asyncio.Task[object]) -> None:
        self.store, self.worker_id, self.job_id, self.work = store, worker_id, job.id, work
        self.attempt = max(job.attempts, 1)  # a job just claimed is its first attempt
        self.length = store.lease.total_seconds()
        self.lost = False
        self._held_until = asyncio.get_running_loop().time() + self.length

    async def renew(self) -> bool:
        asked = asyncio.get_running_loop().time()
        if not await self.store.renew(self.job_id, self.worker_id, self.attempt):
            self.lose()
            return False
        self._held_until = asked + self.length
        return True

    def lose(self) -> None:
        """The job is another run's: this one is cancelled (its executor unwinds; the engine says why)."""
        if not self.lost:
            self.lost = True
            self.work.cancel()

    async def hold(self) -> None:
        # The keeper renews every third of the lease, so this asks the database only after the run was stopped.
        if asyncio.get_running_loop().time() < self._held_until - self.length / 3:
            return
        if not await self.renew():
            raise asyncio.CancelledError

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self.length / 3)
            try:
                if not await self.renew():
                    return
            except Exception:  # noqa: BLE001 - a database hiccup: try again; the lease outlives a few misses
                log.warning("could not renew the lease of job %s", self.job_id, exc_info=True)


current: ContextVar[Lease | None] = ContextVar("job_lease", default=None)


async def hold_lease() -> None:
    """Before each SORACOM write of a job: returns while this run holds the job, else stops the run."""
    lease = current.get()
    if lease is not None:
        await lease.hold()
