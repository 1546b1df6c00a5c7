"""The record of a bulk job's items as they end, each with its audit row."""

from __future__ import annotations

import asyncio
import logging

from bot.jobs.rows import ItemEnd
from bot.jobs import lease
from bot.jobs.context import RoleReading
from bot.jobs.store import LeaseLost, PendingActions
from bot.services import audit
from bot.services.roles import role_from

log = logging.getLogger(__name__)


class ItemLog:
    """Ends of a bulk job's items with their audit rows, group-committed: the ends that arrive while one
    transaction is written go together in the next, and `end` returns once its own is written. A worker takes its
    next item only then, so at most the calls in flight are unrecorded when the process dies (the worker that takes
    the job over does those again, or reads them first). A database that refuses the write is tried again.

    `actor` and `command`: who the audit rows name, and the command line they record. `reading` (with `admins`):
    the actor's role reading, refreshed by each transaction, which reads the stored role in passing: the checks
    before the next SORACOM writes take it instead of a read of their own."""

    RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
    GATHER = 0.004  # seconds the first end waits for others: one transaction for several SIMs, not one each

    def __init__(self, store: PendingActions, job_id: str, action: str, *, actor: audit.Actor, command: str,
                 reading: RoleReading | None = None, admins: frozenset[str] = frozenset()) -> None:
        self.store, self.job_id, self.action = store, job_id, action
        self.actor, self.command = actor, command
        self.reading, self.admins = reading, admins
        self._ends: list[tuple[ItemEnd, str, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ItemLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()  # the job was stopped (its lease lost): what is unwritten is the next worker's

    async def end(self, item: str, reason: str | None, *, refused: bool = False) -> None:
        written = asyncio.get_running_loop().create_future()
        self._ends.append((ItemEnd(item, reason), "refused" if refused else "failed" if reason else "ok", written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        await written

    async def _write_all(self) -> None:
        failures = 0
        held = lease.current.get()  # the run's, whose context this task was made in
        await asyncio.sleep(self.GATHER)
        while self._ends:
            batch, self._ends = self._ends, []
            events = [audit.values(self.actor, command=self.command, action=self.action, target=end.item,
                                   result=result, error=end.reason)
                      for end, result, _ in batch]
            asked_at = asyncio.get_running_loop().time()
            try:
                stored = await self.store.end_items(self.job_id, [end for end, _, _ in batch], events,
                                                    owner=held.worker_id if held else None,
                                                    attempt=held.attempt if held else None,
                                                    role_of=self.actor.user_id if self.reading else None)
            except LeaseLost:
                log.warning("job %s passed to another run; %d item end(s) left to it", self.job_id, len(batch))
                for _, _, written in batch:
                    written.cancel()
                if held is not None:
                    held.lose()
                return
            except Exception:  # noqa: BLE001 - SORACOM has acted: the record must be written, so try again
                log.warning("could not record %d item(s) of job %s; trying again", len(batch), self.job_id,
                            exc_info=True)
                self._ends[:0] = batch
                await asyncio.sleep(self.RETRY_DELAYS[min(failures, len(self.RETRY_DELAYS) - 1)])
                failures += 1
                continue
            failures = 0
            reading = self.reading
            if reading is not None and (reading.read_at is None or asked_at >= reading.read_at):
                reading.role = role_from(stored, self.actor.user_id, self.admins)
                reading.read_at = asked_at
            for _, _, written in batch:
                written.set_result(None)
