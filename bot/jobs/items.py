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
    """Ends of a bulk job's items with their audit rows, group-committed: each transaction takes the ends that
    arrived within `GATHER` of the first (fewer once `batch` are waiting, or the last `expected`), and `end` returns
    once its own is written (`submit`'s future is done then). A bulk run's worker awaits it once it has called
    SORACOM for its next item, so at most two items a worker are done but unrecorded when the process dies (the run
    that takes the job over does those again, or reads them first). A database that refuses the write is tried
    again.

    `actor` and `command`: who the audit rows name, and the command line they record. `reading` (with `admins`):
    the actor's role reading, refreshed by each transaction, which reads the stored role in passing: the checks
    before the next SORACOM writes take it instead of a read of their own."""

    RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
    # Seconds the first end of a transaction waits for others. A transaction costs ~0.1 ms of CPU however few it
    # holds, an item ~0.02 ms: at SORACOM's pace (8 calls of 10 ms at once) this gathers about 8 a transaction.
    GATHER = 0.010

    def __init__(self, store: PendingActions, job_id: str, action: str, *, actor: audit.Actor, command: str,
                 reading: RoleReading | None = None, admins: frozenset[str] = frozenset(), batch: int = 8,
                 expected: int | None = None) -> None:
        self.store, self.job_id, self.action = store, job_id, action
        self.actor, self.command = actor, command
        self.reading, self.admins = reading, admins
        self.batch = batch  # ends that are written at once, without waiting out GATHER: the calls in flight
        self._to_come = expected  # ends not yet given: at 0 there is nothing to gather for
        self._ends: list[tuple[ItemEnd, str, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._filled: asyncio.Future[None] | None = None  # the writer's wait for a full batch

    async def __aenter__(self) -> ItemLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()  # the job was stopped (its lease lost): what is unwritten is the next worker's

    async def end(self, item: str, reason: str | None, *, refused: bool = False) -> None:
        await self.submit(item, reason, refused=refused)

    def submit(self, item: str, reason: str | None, *, refused: bool = False) -> asyncio.Future[None]:
        """`end`, whose caller goes on meanwhile: the future is done once the end is written."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ends.append((ItemEnd(item, reason), "refused" if refused else "failed" if reason else "ok", written))
        if self._to_come is not None:
            self._to_come -= 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        elif self._full() and self._filled is not None and not self._filled.done():
            self._filled.set_result(None)
        return written

    def _full(self) -> bool:
        return len(self._ends) >= self.batch or self._to_come == 0

    async def _gather(self) -> None:
        """Until `batch` ends wait (or the last expected), or GATHER has passed."""
        if self._full():
            return
        loop = asyncio.get_running_loop()
        filled = self._filled = loop.create_future()
        timer = loop.call_later(self.GATHER, _fill, filled)
        try:
            await filled
        finally:
            timer.cancel()
            self._filled = None

    async def _write_all(self) -> None:
        failures = 0
        held = lease.current.get()  # the run's, whose context this task was made in
        while self._ends:
            await self._gather()
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


def _fill(filled: asyncio.Future[None]) -> None:
    if not filled.done():
        filled.set_result(None)
