"""The monthly bill summary: an APScheduler job that posts last month's closed bill once per (month, channel).

Once comes from the claims of bot.services.schedules. Besides the cron job, a short periodic check makes up a run
missed while the bot was down, retries failed posts and picks up a schedule changed by another process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import check_cron
from bot.services.language import writing_in
from bot.runtime import Runtime
from bot.services import bills, fleet, schedules
from bot.services.schedules import JOB, RETRY_DELAYS, STALE_CLAIM, Claims, Passes, Schedule, release, scheduler_for
from handlers.views import bill as views
from handlers.views.common import with_marker

log = logging.getLogger(__name__)


async def current_schedule(rt: Runtime) -> Schedule:
    return await schedules.load_schedule(rt.db, rt.settings)


async def save_schedule(rt: Runtime, *, channel: str | None, cron: str | None, enabled: bool, by: str) -> Schedule:
    """Stores the override (cron None: the configured one); running schedulers of this Runtime follow at once."""
    if cron is not None:
        check_cron(cron, rt.settings.BOT_TIMEZONE)
    await schedules.store_schedule(rt.db, channel=channel, cron=cron, enabled=enabled, by=by, now=rt.clock())
    for reload in list(rt.schedule_listeners):
        await reload()
    return await current_schedule(rt)


def next_run(rt: Runtime, schedule: Schedule) -> datetime | None:
    return schedules.next_run(schedule, rt.settings, rt.clock())


class SummaryOutcome(StrEnum):
    posted = "posted"
    off = "off"  # no channel, or turned off
    not_due = "not_due"  # this month's fire time has not come yet
    done = "done"  # posted already, by this process or another
    busy = "busy"  # another attempt holds the claim, or the backoff after a failure has not passed
    failed = "failed"


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
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self.rt = rt
        self.client = client
        self.owner = (owner or rt.worker_id)[:64]
        self.claims = Claims(rt.db, self.owner, retry_delays=retry_delays, stale_after=stale_after)
        self._trigger_override = trigger
        self._check_every = check_every
        self._shared = scheduler  # the one the bot's scheduled tasks share; None: one of its own
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
        self._scheduler = scheduler_for(self._shared, self.rt.settings.timezone)
        self._scheduler.add_job(self._fire, IntervalTrigger(seconds=self._check_every), id=f"{JOB}_check",
                                coalesce=True, max_instances=1)
        self.rt.schedule_listeners.append(self.reload)
        self._applied = None
        await self.reload()
        await self._fire()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stops firing and lets a post in progress finish (it would otherwise be left claimed)."""
        if self.reload in self.rt.schedule_listeners:
            self.rt.schedule_listeners.remove(self.reload)
        if self._scheduler is not None:
            release(self._scheduler, self._shared, (JOB, f"{JOB}_check"))
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
        with writing_in(self.rt.settings.BOT_LANG):  # a channel's post: the workspace's language, not a user's
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


def _plain(exc: BaseException) -> str:
    """One line for the log: Slack's error code, or the exception's own (secret-free) text."""
    if isinstance(exc, SlackApiError):
        return f"Slack error {exc.response.get('error')}"
    return f"{type(exc).__name__}: {exc}"
