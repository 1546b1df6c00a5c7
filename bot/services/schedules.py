"""Scheduled posts: the schedule of the monthly bill summary, and the claims that make each post happen once.

Exactly once comes from the database, not from the scheduler: before posting, a process takes the
ScheduleClaim row of (job, month, channel), whose unique key lets only one INSERT succeed, whichever
process or restart tries. A failed post marks its claim failed; it is taken again (by any process) after
a backoff, until it is posted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from bot.config import Settings, check_cron
from bot.store import Database, off_loop
from bot.store.tables import ScheduleClaim, ScheduleSetting, as_utc

log = logging.getLogger(__name__)

JOB = "bill_summary"
RETRY_DELAYS = (60.0, 300.0, 900.0, 3600.0)  # seconds after the 1st, 2nd, 3rd, later failed attempts
STALE_CLAIM = timedelta(minutes=30)  # a claim still "claimed" this long: its process died mid-post
MAX_ERROR = 500


@dataclass(frozen=True)
class Schedule:
    channel: str | None
    cron: str
    enabled: bool
    set_by: str | None  # None: the configuration's BILL_SUMMARY_* values

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.channel)


@off_loop
def load_schedule(db: Database, settings: Settings) -> Schedule:
    """The admin's override from the database where there is one, else the configuration."""
    with db.session() as session:
        row = session.get(ScheduleSetting, JOB)
    configured = Schedule(settings.BILL_SUMMARY_CHANNEL, settings.BILL_SUMMARY_CRON, True, None)
    if row is None:
        return configured
    return Schedule(row.channel_id or configured.channel, row.cron or configured.cron, row.enabled, row.updated_by)


@off_loop
def store_schedule(db: Database, *, channel: str | None, cron: str | None, enabled: bool, by: str,
                   now: datetime) -> None:
    """Stores the override (cron None: the configured one)."""
    with db.session() as session:
        row = session.get(ScheduleSetting, JOB) or ScheduleSetting(name=JOB, updated_by=by)
        if channel is not None:
            row.channel_id = channel
            row.cron = cron
        row.enabled = enabled
        row.updated_by = by
        row.updated_at = now
        session.add(row)
        session.commit()


def next_run(schedule: Schedule, settings: Settings, now: datetime) -> datetime | None:
    if not schedule.active:
        return None
    fire: datetime | None = check_cron(schedule.cron, settings.BOT_TIMEZONE).get_next_fire_time(None, now)
    return fire


def start_scheduler(zone: tzinfo) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=zone, event_loop=asyncio.get_running_loop())
    scheduler.start()
    return scheduler


def scheduler_for(shared: AsyncIOScheduler | None, zone: tzinfo) -> AsyncIOScheduler:
    """The scheduler a scheduled task adds its jobs to: the one its bot's tasks share, else one of its own (a task
    started alone, as in tests)."""
    return shared if shared is not None else start_scheduler(zone)


def release(scheduler: AsyncIOScheduler, shared: AsyncIOScheduler | None, jobs: Iterable[str]) -> None:
    """Stops a task's jobs: takes them off the shared scheduler, or shuts down the task's own."""
    if shared is None or scheduler is not shared:
        scheduler.shutdown(wait=False)
        return
    for job in jobs:
        if shared.get_job(job) is not None:
            shared.remove_job(job)


class Passes:
    """The passes a scheduler starts, each in a task of its own, so stopping the scheduler never cuts a post;
    none starts while one holds `lock`."""

    def __init__(self, name: str, what: str, lock: asyncio.Lock) -> None:
        self.name, self.what, self.lock = name, what, lock
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        if self.lock.locked():
            return
        task = asyncio.get_running_loop().create_task(work(), name=self.name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s pass of %s failed", self.what, self.name, exc_info=task.exception())

    async def settle(self) -> None:
        """Waits for the passes in progress (tests; a clean stop)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def stop(self, timeout: float) -> None:
        """Lets a pass in progress finish (it would otherwise leave its claim taken), cancelling it after `timeout`."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()


class Claims:
    """The ScheduleClaim rows of one job: the database decides who posts, whatever the number of processes."""

    def __init__(self, db: Database, owner: str, *, job: str = JOB, retry_delays: Sequence[float] = RETRY_DELAYS,
                 stale_after: timedelta = STALE_CLAIM) -> None:
        self.db, self.owner, self.job = db, owner, job
        self._retry_delays = tuple(retry_delays)
        self._stale_after = stale_after

    @off_loop
    def take(self, period: str, channel: str, now: datetime) -> int | None:
        """The claim's id when this owner may post now; None when posted, held by another, or backing off."""
        existing = self._row(period, channel)
        if existing is None:
            try:
                with self.db.session() as session:
                    row = ScheduleClaim(job=self.job, period=period, channel_id=channel, owner=self.owner,
                                        claimed_at=now, attempts=1)
                    session.add(row)
                    session.commit()
                    return row.id
            except IntegrityError:  # another process inserted it first
                return None
        if not self._may_take(existing, now):
            return None
        with self.db.session() as session:
            result = session.exec(
                update(ScheduleClaim)
                .where(col(ScheduleClaim.id) == existing.id, col(ScheduleClaim.state) == existing.state,
                       col(ScheduleClaim.attempts) == existing.attempts)
                .values(state="claimed", owner=self.owner, claimed_at=now, attempts=existing.attempts + 1)
            )
            session.commit()
        return existing.id if result.rowcount == 1 else None

    def _may_take(self, claim: ScheduleClaim, now: datetime) -> bool:
        started = as_utc(claim.claimed_at)
        assert started is not None
        if claim.state == "failed":
            return now >= started + timedelta(seconds=self.delay(claim.attempts))
        return claim.state == "claimed" and now >= started + self._stale_after

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the attempts-th failure."""
        return self._retry_delays[min(attempts, len(self._retry_delays)) - 1]

    @off_loop
    def row(self, period: str, channel: str) -> ScheduleClaim | None:
        return self._row(period, channel)

    def _row(self, period: str, channel: str) -> ScheduleClaim | None:
        with self.db.session() as session:
            return session.exec(
                select(ScheduleClaim).where(col(ScheduleClaim.job) == self.job, col(ScheduleClaim.period) == period,
                                            col(ScheduleClaim.channel_id) == channel)
            ).first()

    @off_loop
    def posted(self, period: str, channel: str) -> bool:
        row = self._row(period, channel)
        return row is not None and row.state == "posted"

    @off_loop
    def fail(self, claim_id: int, error: str) -> int:
        """Marks the claim failed (any process may take it after the backoff); returns its attempts."""
        with self.db.session() as session:
            row = session.get(ScheduleClaim, claim_id)
            assert row is not None
            row.state, row.last_error = "failed", error[:MAX_ERROR]
            session.add(row)
            session.commit()
            return row.attempts

    @off_loop
    def done(self, claim_id: int, now: datetime, note: str | None = None) -> None:
        with self.db.session() as session:
            session.exec(
                update(ScheduleClaim).where(col(ScheduleClaim.id) == claim_id)
                .values(state="posted", posted_at=now, last_error=note[:MAX_ERROR] if note else None)
            )
            session.commit()
