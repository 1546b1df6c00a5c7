"""The monthly bill summary: an APScheduler job that posts last month's closed bill once per (month, channel).

Exactly once comes from the database, not from the scheduler: before posting, a process takes the
ScheduleClaim row of (job, month, channel), whose unique key lets only one INSERT succeed, whichever
process or restart tries. A failed post marks its claim failed; it is taken again (by any process) after
a backoff, until it is posted. Besides the cron job, a short periodic check makes up a run missed while
the bot was down, retries failed posts and picks up a schedule changed by another process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from bot.config import check_cron
from bot.messages import in_language
from bot.runtime import Runtime
from bot.services import bills, fleet
from bot.store import Database, off_loop
from bot.store.tables import ScheduleClaim, ScheduleSetting, as_utc
from handlers.views import bill as views
from handlers.views.common import with_marker

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
def current_schedule(rt: Runtime) -> Schedule:
    """The admin's override from the database where there is one, else the configuration."""
    with rt.db.session() as session:
        row = session.get(ScheduleSetting, JOB)
    configured = Schedule(rt.settings.BILL_SUMMARY_CHANNEL, rt.settings.BILL_SUMMARY_CRON, True, None)
    if row is None:
        return configured
    return Schedule(row.channel_id or configured.channel, row.cron or configured.cron, row.enabled, row.updated_by)


async def save_schedule(rt: Runtime, *, channel: str | None, cron: str | None, enabled: bool, by: str) -> Schedule:
    """Stores the override (cron None: the configured one); running schedulers of this process follow at once."""
    if cron is not None:
        check_cron(cron, rt.settings.BOT_TIMEZONE)
    await _store_schedule(rt, channel=channel, cron=cron, enabled=enabled, by=by)
    for scheduler in _RUNNING.get(id(rt), []):
        await scheduler.reload()
    return await current_schedule(rt)


@off_loop
def _store_schedule(rt: Runtime, *, channel: str | None, cron: str | None, enabled: bool, by: str) -> None:
    with rt.db.session() as session:
        row = session.get(ScheduleSetting, JOB) or ScheduleSetting(name=JOB, updated_by=by)
        if channel is not None:
            row.channel_id = channel
            row.cron = cron
        row.enabled = enabled
        row.updated_by = by
        row.updated_at = rt.clock()
        session.add(row)
        session.commit()


def next_run(rt: Runtime, schedule: Schedule) -> datetime | None:
    if not schedule.active:
        return None
    return check_cron(schedule.cron, rt.settings.BOT_TIMEZONE).get_next_fire_time(None, rt.clock())


class SummaryOutcome(StrEnum):
    posted = "posted"
    off = "off"  # no channel, or turned off
    not_due = "not_due"  # this month's fire time has not come yet
    done = "done"  # posted already, by this process or another
    busy = "busy"  # another attempt holds the claim, or the backoff after a failure has not passed
    failed = "failed"


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


class BillScheduler:
    """`await start()` … `await stop()`; `trigger` replaces the cron (tests fire every second)."""

    def __init__(
        self,
        rt: Runtime,
        client: AsyncWebClient,
        *,
        owner: str | None = None,
        trigger: BaseTrigger | None = None,
        check_every: float = 60.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        stale_after: timedelta = STALE_CLAIM,
    ) -> None:
        self.rt = rt
        self.client = client
        self.owner = (owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[:64]
        self.claims = Claims(rt.db, self.owner, retry_delays=retry_delays, stale_after=stale_after)
        self._trigger_override = trigger
        self._check_every = check_every
        self._scheduler: AsyncIOScheduler | None = None
        self._applied: Schedule | None = None  # what the cron job was set up for
        self._lock = asyncio.Lock()
        self._passes = Passes(f"{JOB}:{self.owner}", "bill summary", self._lock)

    @property
    def next_fire_time(self) -> datetime | None:
        """When the cron job fires next; None when off or not started."""
        job = self._scheduler.get_job(JOB) if self._scheduler is not None else None
        return job.next_run_time if job is not None else None

    async def settle(self) -> None:
        """Waits for the passes in progress (tests; a clean stop)."""
        await self._passes.settle()

    async def start(self) -> None:
        """Schedules the job and makes up this month's post if it is due and was never made."""
        self._scheduler = AsyncIOScheduler(timezone=self.rt.settings.timezone, event_loop=asyncio.get_running_loop())
        self._scheduler.start()
        self._scheduler.add_job(self._fire, IntervalTrigger(seconds=self._check_every), id=f"{JOB}_check",
                                coalesce=True, max_instances=1)
        _RUNNING.setdefault(id(self.rt), []).append(self)
        self._applied = None
        await self.reload()
        await self._fire()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stops firing and lets a post in progress finish (it would otherwise be left claimed)."""
        running = _RUNNING.get(id(self.rt), [])
        if self in running:
            running.remove(self)
            if not running:
                del _RUNNING[id(self.rt)]
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await self._passes.stop(timeout)

    async def reload(self) -> Schedule:
        """Reads the schedule again; the cron job follows when it changed."""
        schedule = await current_schedule(self.rt)
        if self._scheduler is not None and schedule != self._applied:
            if schedule.active:
                self._scheduler.add_job(self._fire, self._trigger(schedule), id=JOB, replace_existing=True,
                                        coalesce=True, max_instances=1, misfire_grace_time=None)
            elif self._scheduler.get_job(JOB) is not None:
                self._scheduler.remove_job(JOB)
            self._applied = schedule
            log.info("bill summary schedule (%s): %s", self.owner, self._describe(schedule))
        return schedule

    def _trigger(self, schedule: Schedule) -> BaseTrigger:
        return self._trigger_override or check_cron(schedule.cron, self.rt.settings.BOT_TIMEZONE)

    def _describe(self, schedule: Schedule) -> str:
        if not schedule.active:
            return "off"
        return f"to {schedule.channel} at {schedule.cron!r} ({self.rt.settings.BOT_TIMEZONE})"

    async def _fire(self) -> None:
        """The jobs' function."""
        self._passes.start(self.run_if_due)

    def due(self, schedule: Schedule, now: datetime) -> bool:
        """This month's first fire time has passed (so a run missed while the bot was down is made up)."""
        zone = self.rt.settings.timezone
        month_start = now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        first = self._trigger(schedule).get_next_fire_time(None, month_start)
        return first is not None and first <= now

    async def run_if_due(self) -> SummaryOutcome:
        schedule = await self.reload()
        if not schedule.active:
            return SummaryOutcome.off
        if not self.due(schedule, self.rt.clock()):
            return SummaryOutcome.not_due
        return await self.run_now()

    async def run_now(self) -> SummaryOutcome:
        """One pass: last month's summary to the channel, unless it was posted there already."""
        async with self._lock:
            schedule = await self.reload()
            if not schedule.active:
                return SummaryOutcome.off
            assert schedule.channel is not None
            now = self.rt.clock()
            current = bills.month_of(now, self.rt.settings.timezone)
            period = bills.previous_month(current)
            claim = await self.claims.take(period, schedule.channel, now)
            if claim is None:
                posted = await self.claims.posted(period, schedule.channel)
                return SummaryOutcome.done if posted else SummaryOutcome.busy
            try:
                chart_error = await self._post(period, current, schedule.channel)
            except Exception as exc:  # noqa: BLE001 - any failure releases the claim for a retry
                attempts = await self.claims.fail(claim, _plain(exc))
                log.warning("bill summary of %s to %s failed (attempt %d, %s); retrying in %.0f s: %s", period,
                            schedule.channel, attempts, self.owner, self.claims.delay(attempts), _plain(exc))
                return SummaryOutcome.failed
            await self.claims.done(claim, self.rt.clock(), chart_error)
            log.info("bill summary of %s posted to %s by %s", period, schedule.channel, self.owner)
            return SummaryOutcome.posted

    async def _post(self, period: str, current: str, channel: str) -> str | None:
        with in_language(self.rt.settings.BOT_LANG):  # a channel's post: the workspace's language, not a user's
            return await self._post_summary(period, current, channel)

    async def _post_summary(self, period: str, current: str, channel: str) -> str | None:
        """Posts the summary, then the chart; a chart that fails is logged (the message has its figures)."""
        report = await bills.monthly_report(self.rt.soracom, period, current,
                                            functools.partial(fleet.names_by_sim_id, self.rt.db))
        blocks = with_marker([b.to_dict() for b in views.summary_blocks(report)], self.rt.sandbox)
        await self.client.chat_postMessage(channel=channel, text=views.summary_text(report), blocks=blocks)
        try:
            await self.client.files_upload_v2(
                channel=channel,
                file=await asyncio.to_thread(views.history_chart, report),
                filename=f"soracom-bills-{period}.png",
                title=views.history_chart_title(),
                alt_txt=views.history_text(report),
            )
        except Exception as exc:  # noqa: BLE001 - the summary is out; a retry would post it twice
            log.warning("bill summary chart of %s to %s not posted: %s", period, channel, _plain(exc))
            return _plain(exc)
        return None


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


def _plain(exc: BaseException) -> str:
    """One line for the log: Slack's error code, or the exception's own (secret-free) text."""
    if isinstance(exc, SlackApiError):
        return f"Slack error {exc.response.get('error')}"
    return f"{type(exc).__name__}: {exc}"


# The schedulers running in this process, by Runtime: `/bill schedule` reschedules them at once.
_RUNNING: dict[int, list[BillScheduler]] = {}
