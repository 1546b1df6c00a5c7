"""The daily budget check: at 09:00 BOT_TIMEZONE the month-end forecast is compared with the budget, and
crossing 80 % or 100 % is posted to the budget's channel once per month and threshold.

Once comes from the ScheduleClaim rows of bot.scheduler (job `budget_80` / `budget_100`, period = the month,
channel): whichever process inserts the claim first posts, across replicas and restarts; a failed post is taken
again after the backoff. When the forecast has jumped past both thresholds only 100 % is posted, and the 80 %
claim is closed with it (one warning, the stronger one).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta
from enum import StrEnum

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.scheduler import RETRY_DELAYS, Claims, Passes
from bot.services import bills
from bot.services.budget import THRESHOLDS, Budget, Forecast, current_budget, month_forecast
from handlers.views import budget as views
from handlers.views.common import with_marker

log = logging.getLogger(__name__)

CHECK_HOUR = 9
JOB = "budget"


def job_of(level: int) -> str:
    return f"{JOB}_{level}"


class BudgetOutcome(StrEnum):
    posted = "posted"
    off = "off"  # no budget
    below = "below"  # the forecast is under 80 %
    done = "done"  # this month's warning was posted already (or is being posted by another process)
    failed = "failed"


class BudgetWatch:
    """`await start()` … `await stop()`; `run_now()` checks at once (tests, the console)."""

    def __init__(self, rt: Runtime, client: AsyncWebClient, *, owner: str | None = None,
                 check_every: float = 600.0, retry_delays: tuple[float, ...] | None = None) -> None:
        self.rt, self.client = rt, client
        self.owner = (owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[:64]
        self._claims = {level: Claims(rt.db, self.owner, job=job_of(level), retry_delays=retry_delays or RETRY_DELAYS)
                        for level in THRESHOLDS}
        self._check_every = check_every
        self._scheduler: AsyncIOScheduler | None = None
        self._checked_on: str | None = None  # the local date of this process's last complete check
        self._lock = asyncio.Lock()
        self._passes = Passes(f"{JOB}:{self.owner}", "budget check", self._lock)

    async def start(self) -> None:
        zone = self.rt.settings.timezone
        self._scheduler = AsyncIOScheduler(timezone=zone, event_loop=asyncio.get_running_loop())
        self._scheduler.start()
        self._scheduler.add_job(self._fire, CronTrigger(hour=CHECK_HOUR, minute=0, timezone=zone), id=JOB,
                                coalesce=True, max_instances=1, misfire_grace_time=None)
        # Makes up a check missed while down, and retries a failed post.
        self._scheduler.add_job(self._fire, IntervalTrigger(seconds=self._check_every), id=f"{JOB}_check",
                                coalesce=True, max_instances=1)
        self._fire()

    async def stop(self, timeout: float = 10.0) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await self._passes.stop(timeout)

    async def settle(self) -> None:
        await self._passes.settle()

    def _fire(self) -> None:
        self._passes.start(self.run_if_due)

    def _today(self, now: datetime) -> tuple[str, bool]:
        """(local date, whether today's check time has passed)."""
        local = now.astimezone(self.rt.settings.timezone)
        return local.strftime("%Y-%m-%d"), local.hour >= CHECK_HOUR

    async def run_if_due(self) -> BudgetOutcome | None:
        """Checks once a day after 09:00, and again while a post of this month waits for its retry."""
        today, past_check_time = self._today(self.rt.clock())
        if not past_check_time:
            return None
        if self._checked_on == today and not await self._retry_waiting():
            return None
        return await self.run_now()

    async def _retry_waiting(self) -> bool:
        period = bills.month_of(self.rt.clock(), self.rt.settings.timezone)
        budget = await current_budget(self.rt.db)
        if budget is None:
            return False
        for claims in self._claims.values():
            row = await claims.row(period, budget.channel)
            if row is not None and row.state != "posted":
                return True
        return False

    async def run_now(self) -> BudgetOutcome:
        async with self._lock:
            outcome = await self._check()
            if outcome is not BudgetOutcome.failed:
                self._checked_on = self._today(self.rt.clock())[0]
            return outcome

    async def _check(self) -> BudgetOutcome:
        budget = await current_budget(self.rt.db)
        if budget is None:
            return BudgetOutcome.off
        now = self.rt.clock()
        period = bills.month_of(now, self.rt.settings.timezone)
        forecast = await month_forecast(self.rt.soracom, period)
        crossed = forecast.crossed(budget.amount)
        if not crossed:
            return BudgetOutcome.below
        level = crossed[-1]
        claim = await self._claims[level].take(period, budget.channel, now)
        if claim is None:
            return BudgetOutcome.done
        try:
            await self._post(forecast, budget, level)
        except Exception as exc:  # noqa: BLE001 - any failure: the claim waits for its retry
            attempts = await self._claims[level].fail(claim, f"{type(exc).__name__}: {exc}")
            log.warning("budget warning of %s (%d %%) not posted (attempt %d): %s", period, level, attempts, exc)
            return BudgetOutcome.failed
        await self._claims[level].done(claim, self.rt.clock())
        for lower in crossed[:-1]:  # superseded: the stronger warning says it
            lower_claim = await self._claims[lower].take(period, budget.channel, now)
            if lower_claim is not None:
                await self._claims[lower].done(lower_claim, self.rt.clock(), f"superseded by {level} %")
        log.info("budget warning of %s (%d %%) posted to %s by %s", period, level, budget.channel, self.owner)
        return BudgetOutcome.posted

    async def _post(self, forecast: Forecast, budget: Budget, level: int) -> None:
        """The message first, then the chart; a chart that fails is logged (the message has the figures)."""
        blocks = with_marker([b.to_dict() for b in views.warning_blocks(forecast, budget, level)], self.rt.sandbox)
        await self.client.chat_postMessage(channel=budget.channel, text=views.warning_text(forecast, budget, level),
                                           blocks=blocks)
        try:
            await self.client.files_upload_v2(
                channel=budget.channel,
                file=await asyncio.to_thread(views.forecast_chart, forecast, budget),
                filename=f"soracom-budget-{forecast.year_month}.png",
                title=views.chart_title(forecast),
                alt_txt=views.forecast_text(forecast, budget)[:1000],
            )
        except Exception as exc:  # noqa: BLE001 - the warning is out; a retry would post it twice
            log.warning("budget chart of %s not posted: %s", forecast.year_month, exc)


def next_check(rt: Runtime, now: datetime) -> datetime:
    local = now.astimezone(rt.settings.timezone)
    at = local.replace(hour=CHECK_HOUR, minute=0, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)
