"""The monthly bill summary: once per (month, channel) across processes and restarts, retried after failures.

Each "process" is a Runtime (its own database engine and SORACOM client) with a BillScheduler; they share
the database (SQLite and PostgreSQL), the emulator (one SORACOM account) and the fake Slack (one workspace).
The bot's clock stands in September 2019 and runs in real time, so the summary is of 201908.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.config import Settings
from bot.emulator import EmulatorState
from bot.local import LOCAL_BOT_TOKEN, LocalBot
from bot.localslack import FakeSlack
from bot.runtime import Runtime
from bot.services.schedules import JOB, Claims, Schedule
from bot.store import Database
from handlers.bill_summary import BillScheduler, SummaryOutcome, current_schedule, save_schedule
from bot.store.tables import ScheduleClaim
from tests.conftest import ADMIN
from tests.harness import assert_valid_slack_payloads
from tests.test_bill import bar_heights

TOKYO = "Asia/Tokyo"
SEPTEMBER_10_2019 = datetime(2019, 9, 10, 3, 0, tzinfo=timezone.utc)  # 12:00 in Tokyo
EVERY_SECOND = CronTrigger(second="*", timezone=TOKYO)

Start = Callable[..., Awaitable[BillScheduler]]  # start(owner, settings=…, **scheduler options)


class RunningClock:
    """Starts at a given moment and runs in real time (the retry backoff needs time to pass)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@pytest.fixture
def clock() -> RunningClock:
    return RunningClock(SEPTEMBER_10_2019)


@pytest.fixture
def emulator(clock: RunningClock) -> EmulatorState:
    return EmulatorState(now=clock)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack().start()
    try:
        yield slack
        assert_valid_slack_payloads(slack)
    finally:
        slack.stop()


@pytest.fixture
def bot_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                    BOT_DATA_DIR=str(tmp_path / "data"), BOT_ADMINS=ADMIN, BILL_SUMMARY_CHANNEL="C_BILLS",
                    BILL_SUMMARY_CRON="0 0 1 * *")


@pytest.fixture
async def processes(bot_settings: Settings, emulator: EmulatorState, clock: RunningClock,
                    fake: FakeSlack) -> AsyncIterator[Start]:
    """start(owner, **scheduler options) → a started BillScheduler in a process of its own."""
    async with AsyncExitStack() as stack:

        async def start(owner: str, settings: Settings = bot_settings, **options: Any) -> BillScheduler:
            rt = Runtime.create(settings, emulator=emulator, clock=clock)
            stack.push_async_callback(rt.aclose)
            scheduler = BillScheduler(rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=fake.api_url), owner=owner,
                                      **options)
            await scheduler.start()
            stack.push_async_callback(scheduler.stop)
            return scheduler

        yield start


def summaries(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages(channel) if not m.get("upload")]


def charts(fake: FakeSlack, channel: str) -> list[Any]:
    return [f for f in fake.files if channel in f.channels]


def claims(scheduler: BillScheduler) -> list[ScheduleClaim]:
    with scheduler.rt.db.session() as session:
        return list(session.exec(select(ScheduleClaim).order_by(ScheduleClaim.id)))  # type: ignore[arg-type]


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_two_processes_firing_every_second_post_once_per_month_and_channel(processes: Start,
                                                                               fake: FakeSlack) -> None:
    a = await processes("bot-a", trigger=EVERY_SECOND, check_every=0.5)
    b = await processes("bot-b", trigger=EVERY_SECOND, check_every=0.5)
    await wait_until(lambda: len(charts(fake, "C_BILLS")) == 1)
    await asyncio.sleep(1.1)  # every scheduler has fired again meanwhile
    [summary] = summaries(fake, "C_BILLS")
    assert "2019-08" in summary["text"] and "¥13,203" in summary["text"] and "closed" in summary["text"]
    assert "+¥723 (+5.8%)" in str(summary["blocks"])
    [chart] = charts(fake, "C_BILLS")
    assert len(bar_heights(chart.content)) == 12  # 2018-09 … 2019-08

    await save_schedule(a.rt, channel="C_OTHER", cron=None, enabled=True, by=ADMIN)  # b learns it from the database
    await wait_until(lambda: len(charts(fake, "C_OTHER")) == 1)
    await asyncio.sleep(1.1)
    assert len(summaries(fake, "C_OTHER")) == 1 and len(summaries(fake, "C_BILLS")) == 1
    rows = claims(b)
    assert [(r.job, r.period, r.channel_id, r.state) for r in rows] == [
        (JOB, "201908", "C_BILLS", "posted"), (JOB, "201908", "C_OTHER", "posted")]
    assert {r.owner for r in rows} <= {"bot-a", "bot-b"}


FAILURES = {"slack": "internal_error", "soracom": "400", "bill not closed": "not closed yet"}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_failed_post_is_retried_then_posted_once(processes: Start, fake: FakeSlack, emulator: EmulatorState,
                                                         caplog: pytest.LogCaptureFixture, failure: str) -> None:
    if failure == "slack":
        fake.fail_next("chat.postMessage", "internal_error")
    elif failure == "soracom":
        emulator.faults.fail_next("GET", r"^/v1/bills/201908$", status=400)
    else:
        emulator.bills["201908"]["state"] = "temporary"
    caplog.set_level(logging.WARNING, logger="handlers.bill_summary")
    # A retry 2 s later: a loaded machine (CI runs two of these suites at once) must not see it before the checks.
    scheduler = await processes("bot-a", check_every=0.2, retry_delays=(2.0, 2.0))
    await scheduler.settle()  # the make-up pass at start: it fails
    [claim] = claims(scheduler)
    assert (claim.state, claim.attempts) == ("failed", 1)
    assert FAILURES[failure] in (claim.last_error or "")
    assert summaries(fake, "C_BILLS") == []
    assert any("failed" in r.getMessage() and "201908" in r.getMessage() for r in caplog.records)

    emulator.bills["201908"]["state"] = "closed"
    await wait_until(lambda: len(charts(fake, "C_BILLS")) == 1, timeout=8.0)
    await asyncio.sleep(0.4)
    assert len(summaries(fake, "C_BILLS")) == 1
    [claim] = claims(scheduler)
    assert (claim.state, claim.attempts, claim.posted_at is not None) == ("posted", 2, True)


async def test_claims_taken_at_the_same_moment_by_two_processes_have_one_winner(database_url: str) -> None:
    """Threads with their own engines race on INSERT: the unique key, not the code, picks the winner."""
    databases = [Database(database_url), Database(database_url)]
    databases[0].create_schema()
    now = SEPTEMBER_10_2019
    racers = [Claims(db, f"bot-{i}") for i, db in enumerate(databases)]
    try:
        for month in range(1, 13):
            period = f"2019{month:02d}"
            won = await asyncio.gather(*(c.take(period, "C_BILLS", now) for c in racers))
            assert sum(w is not None for w in won) == 1, won
        with databases[0].session() as session:
            assert len(session.exec(select(ScheduleClaim)).all()) == 12
    finally:
        for db in databases:
            db.dispose()


async def test_missed_run_is_made_up_at_start_and_not_repeated_after_a_restart(processes: Start,
                                                                               fake: FakeSlack) -> None:
    first = await processes("bot-a")  # the cron's fire time this month (the 1st, 00:00) passed while it was down
    await first.settle()
    assert len(summaries(fake, "C_BILLS")) == 1
    await first.stop()
    restarted = await processes("bot-a-again")
    await restarted.settle()
    assert await restarted.run_now() is SummaryOutcome.done
    assert len(summaries(fake, "C_BILLS")) == 1 and len(charts(fake, "C_BILLS")) == 1
    assert [c.state for c in claims(restarted)] == ["posted"]


async def test_nothing_is_posted_before_this_months_fire_time(processes: Start, fake: FakeSlack,
                                                              bot_settings: Settings) -> None:
    later = bot_settings.model_copy(update={"BILL_SUMMARY_CRON": "0 9 20 * *"})  # the 20th; the clock is on the 10th
    scheduler = await processes("bot-a", later)
    await scheduler.settle()
    assert await scheduler.run_if_due() is SummaryOutcome.not_due
    assert fake.messages("C_BILLS") == [] and claims(scheduler) == []
    assert scheduler.next_fire_time is not None and scheduler.next_fire_time.day == 20


async def test_a_claim_left_by_a_dead_process_is_taken_over(processes: Start, fake: FakeSlack,
                                                            clock: RunningClock) -> None:
    scheduler = await processes("bot-a", stale_after=timedelta(minutes=30))
    await scheduler.stop()
    with scheduler.rt.db.session() as session:
        session.delete(session.exec(select(ScheduleClaim)).one())
        session.flush()
        session.add(ScheduleClaim(job=JOB, period="201908", channel_id="C_BILLS", owner="dead",
                                  claimed_at=clock() - timedelta(hours=1), attempts=1))
        session.commit()
    assert await scheduler.run_now() is SummaryOutcome.posted
    [claim] = claims(scheduler)
    assert (claim.owner, claim.state, claim.attempts) == ("bot-a", "posted", 2)
    assert len(summaries(fake, "C_BILLS")) == 2  # the first start posted, then the dead process's turn


async def test_schedule_override_survives_a_restart(database_url: str, tmp_path: Path, fake: FakeSlack,
                                                    clock: RunningClock) -> None:
    settings = Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                        BOT_DATA_DIR=str(tmp_path / "data"), BOT_ADMINS=ADMIN)
    async with LocalBot(settings, clock=clock) as local:
        running = BillScheduler(local.rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=local.fake.api_url),
                                owner="bot-a")
        await running.start()
        try:
            assert running.next_fire_time is None  # no channel configured: off
            await local.sender.command("/bill", "schedule <#C_NEW|new> 0 0 1 * *", user_id=ADMIN, channel_id="C_OPS")
            await local.settle()
            fire = running.next_fire_time
            assert fire is not None and (fire.day, fire.hour, fire.minute) == (1, 0, 0)
            assert fire.utcoffset() == timedelta(hours=9)
        finally:
            await running.stop()

    rt = Runtime.create(settings, emulator=EmulatorState(now=clock), clock=clock)
    restarted = BillScheduler(rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=fake.api_url), owner="bot-b")
    try:
        assert await current_schedule(rt) == Schedule("C_NEW", "0 0 1 * *", True, ADMIN)
        await restarted.start()
        await restarted.settle()
        assert len(summaries(fake, "C_NEW")) == 1 and len(charts(fake, "C_NEW")) == 1
    finally:
        await restarted.stop()
        await rt.aclose()


async def test_running_schedulers_hang_off_their_runtime(processes: Start) -> None:
    """`/bill schedule` reschedules the schedulers of its own Runtime at once; another process reads the database."""
    a, b = await processes("bot-a"), await processes("bot-b")
    await a.settle()
    await b.settle()
    assert a.rt.schedule_listeners == [a.reload] and b.rt.schedule_listeners == [b.reload]
    await save_schedule(a.rt, channel="C_OTHER", cron="0 0 2 * *", enabled=True, by=ADMIN)
    assert a.next_fire_time is not None and a.next_fire_time.day == 2
    assert b.next_fire_time is not None and b.next_fire_time.day == 1  # until its next check reads the change
    assert await b.reload() == Schedule("C_OTHER", "0 0 2 * *", True, ADMIN)
    await a.stop()
    assert a.rt.schedule_listeners == [] and b.rt.schedule_listeners == [b.reload]


async def test_a_bots_scheduled_tasks_share_one_scheduler(tmp_path: Path, fake: FakeSlack) -> None:
    """The bill summary and the budget watch add their jobs to one APScheduler, which stops with the bot."""
    settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",  # type: ignore[call-arg]
                        BOT_DATA_DIR=str(tmp_path / "data"), BOT_ADMINS=ADMIN)
    async with LocalBot(settings, scheduler=True) as local:
        assert local.scheduled is not None and local.sender is not None
        scheduler = local.scheduled.scheduler
        assert {job.id for job in scheduler.get_jobs()} == {"bill_summary_check", "budget", "budget_check"}
        await local.sender.command("/bill", "schedule <#C_NEW|new> 0 0 1 * *", user_id=ADMIN, channel_id="C_OPS")
        await local.settle()
        assert "bill_summary" in {job.id for job in scheduler.get_jobs()}  # the cron job, on the same scheduler
        await local.scheduled.budget_watch.stop()
        assert {job.id for job in scheduler.get_jobs()} == {"bill_summary", "bill_summary_check"}
        assert scheduler.running
    for _ in range(10):  # AsyncIOScheduler stops on the loop's next turn
        await asyncio.sleep(0)
    assert not scheduler.running
