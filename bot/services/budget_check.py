"""The daily budget check: at 09:00 BOT_TIMEZONE the month-end forecast is compared with the budget, and
crossing 80 % or 100 % is to be posted to the budget's channel once per month and threshold.

Once comes from the ScheduleClaim rows of bot.services.schedules (job `budget_80` / `budget_100`, period = the
month, channel): whichever process inserts the claim first posts, across replicas and restarts; a failed post is
taken again after the backoff. When the forecast has jumped past both thresholds only 100 % is posted, and the 80 %
claim is closed with it (one warning, the stronger one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from bot.services import bills
from bot.services.budget import THRESHOLDS, Budget, Forecast, current_budget, month_forecast
from bot.services.schedules import RETRY_DELAYS, Claims
from bot.soracom import SoracomClient
from bot.store import Database

log = logging.getLogger(__name__)

CHECK_HOUR = 9
JOB = "budget"

Post = Callable[[Forecast, Budget, int], Awaitable[None]]  # (forecast, budget, level crossed): posts the warning


def job_of(level: int) -> str:
    return f"{JOB}_{level}"


class BudgetOutcome(StrEnum):
    posted = "posted"
    off = "off"  # no budget
    below = "below"  # the forecast is under 80 %
    done = "done"  # this month's warning was posted already (or is being posted by another process)
    failed = "failed"


def next_check(zone: tzinfo, now: datetime) -> datetime:
    local = now.astimezone(zone)
    at = local.replace(hour=CHECK_HOUR, minute=0, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


class BudgetCheck:
    """One process's checks; `post` says the warning (the caller's channel of choice)."""

    def __init__(self, db: Database, soracom: SoracomClient, post: Post, *, owner: str, zone: tzinfo,
                 clock: Callable[[], datetime], retry_delays: tuple[float, ...] | None = None) -> None:
        self.db, self.soracom, self.post, self.owner, self.zone, self.clock = db, soracom, post, owner, zone, clock
        self._claims = {level: Claims(db, owner, job=job_of(level), retry_delays=retry_delays or RETRY_DELAYS)
                        for level in THRESHOLDS}
        self._checked_on: str | None = None  # the local date of this process's last complete check
        self.lock = asyncio.Lock()

    def _today(self, now: datetime) -> tuple[str, bool]:
        """(local date, whether today's check time has passed)."""
        local = now.astimezone(self.zone)
        return local.strftime("%Y-%m-%d"), local.hour >= CHECK_HOUR

    async def run_if_due(self) -> BudgetOutcome | None:
        """Checks once a day after 09:00, and again while a post of this month waits for its retry."""
        today, past_check_time = self._today(self.clock())
        if not past_check_time:
            return None
        if self._checked_on == today and not await self._retry_waiting():
            return None
        return await self.run_now()

    async def _retry_waiting(self) -> bool:
        period = bills.month_of(self.clock(), self.zone)
        budget = await current_budget(self.db)
        if budget is None:
            return False
        for claims in self._claims.values():
            row = await claims.row(period, budget.channel)
            if row is not None and row.state != "posted":
                return True
        return False

    async def run_now(self) -> BudgetOutcome:
        async with self.lock:
            outcome = await self._check()
            if outcome is not BudgetOutcome.failed:
                self._checked_on = self._today(self.clock())[0]
            return outcome

    async def _check(self) -> BudgetOutcome:
        budget = await current_budget(self.db)
        if budget is None:
            return BudgetOutcome.off
        now = self.clock()
        period = bills.month_of(now, self.zone)
        forecast = await month_forecast(self.soracom, period)
        crossed = forecast.crossed(budget.amount)
        if not crossed:
            return BudgetOutcome.below
        level = crossed[-1]
        claim = await self._claims[level].take(period, budget.channel, now)
        if claim is None:
            return BudgetOutcome.done
        try:
            await self.post(forecast, budget, level)
        except Exception as exc:  # noqa: BLE001 - any failure: the claim waits for its retry
            attempts = await self._claims[level].fail(claim, f"{type(exc).__name__}: {exc}")
            log.warning("budget warning of %s (%d %%) not posted (attempt %d): %s", period, level, attempts, exc)
            return BudgetOutcome.failed
        await self._claims[level].done(claim, self.clock())
        for lower in crossed[:-1]:  # superseded: the stronger warning says it
            lower_claim = await self._claims[lower].take(period, budget.channel, now)
            if lower_claim is not None:
                await self._claims[lower].done(lower_claim, self.clock(), f"superseded by {level} %")
        log.info("budget warning of %s (%d %%) posted to %s by %s", period, level, budget.channel, self.owner)
        return BudgetOutcome.posted
