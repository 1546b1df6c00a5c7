"""The daily budget warning in Slack: the check of bot.services.budget_check, run by APScheduler, posting here."""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.services.budget import Budget, Forecast
from bot.services.language import writing_in
from bot.services.budget_check import CHECK_HOUR, JOB, BudgetCheck, BudgetOutcome
from bot.services.schedules import Passes, release, scheduler_for
from handlers.views import budget as views
from handlers.views.common import with_marker

log = logging.getLogger(__name__)


class BudgetWatch:
    """`await start()` … `await stop()`; `run_now()` checks at once (tests, the console)."""

    def __init__(self, rt: Runtime, client: AsyncWebClient, *, owner: str | None = None,
                 check_every: float = 600.0, retry_delays: tuple[float, ...] | None = None,
                 scheduler: AsyncIOScheduler | None = None) -> None:
        self.rt, self.client = rt, client
        self.owner = (owner or rt.worker_id)[:64]
        self.check = BudgetCheck(rt.db, rt.soracom, self._post, owner=self.owner, zone=rt.settings.timezone,
                                 clock=rt.clock, retry_delays=retry_delays)
        self._check_every = check_every
        self._shared = scheduler  # the one the bot's scheduled tasks share; None: one of its own
        self._scheduler: AsyncIOScheduler | None = None
        self._passes = Passes(f"{JOB}:{self.owner}", "budget check", self.check.lock)

    async def start(self) -> None:
        zone = self.rt.settings.timezone
        self._scheduler = scheduler_for(self._shared, zone)
        self._scheduler.add_job(self._fire, CronTrigger(hour=CHECK_HOUR, minute=0, timezone=zone), id=JOB,
                                coalesce=True, max_instances=1, misfire_grace_time=None)
        # Makes up a check missed while down, and retries a failed post.
        self._scheduler.add_job(self._fire, IntervalTrigger(seconds=self._check_every), id=f"{JOB}_check",
                                coalesce=True, max_instances=1)
        self._fire()

    async def stop(self, timeout: float = 10.0) -> None:
        if self._scheduler is not None:
            release(self._scheduler, self._shared, (JOB, f"{JOB}_check"))
            self._scheduler = None
        await self._passes.stop(timeout)

    async def settle(self) -> None:
        await self._passes.settle()

    def _fire(self) -> None:
        self._passes.start(self.check.run_if_due)

    async def run_if_due(self) -> BudgetOutcome | None:
        return await self.check.run_if_due()

    async def run_now(self) -> BudgetOutcome:
        return await self.check.run_now()

    async def _post(self, forecast: Forecast, budget: Budget, level: int) -> None:
        with writing_in(self.rt.settings.BOT_LANG):  # a channel's post: the workspace's language
            await self._post_warning(forecast, budget, level)

    async def _post_warning(self, forecast: Forecast, budget: Budget, level: int) -> None:
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
