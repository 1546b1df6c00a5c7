"""/bill budget and the daily forecast check: set through signed commands, warned once per month and threshold
by two processes (two Runtimes, two Database objects) on one database, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.charts import FORECAST, LIMIT
from bot.config import Settings
from bot.emulator import EmulatorState
from bot.emulator.bills import daily_amounts
from bot.local import LOCAL_BOT_TOKEN
from bot.localslack import FakeSlack
from bot.runtime import Runtime
from bot.services import audit
from bot.services.budget import current_budget, set_budget
from bot.services.budget_check import BudgetOutcome, job_of
from bot.store.tables import ScheduleClaim
from handlers.budget_watch import BudgetWatch
from tests.clock import Clock
from tests.conftest import ADMIN, OPERATOR
from tests.harness import Harness, assert_valid_slack_payloads
from tests.test_bill import bar_heights, colour_pixels, png_title, reply_text

SEPTEMBER_10_2019 = datetime(2019, 9, 10, 3, 0, tzinfo=timezone.utc)  # 12:00 in Tokyo, after the 09:00 check
MONTH = "201909"


def forecast_of(state: EmulatorState) -> float:
    days = daily_amounts(state, MONTH)
    return sum(d["amount"] for d in days) / len(days) * 30


# The command


async def test_a_month_without_a_daily_bill_yet_has_spent_nothing(harness: Harness) -> None:
    """In the first hours of a month SORACOM has no daily bill of it: the forecast starts at nothing spent."""
    await harness.command("/bill budget 50000", user=ADMIN)
    harness.emulator.faults.fail_next("GET", r"^/v1/bills/\d{6}/daily$", status=404, times=2)
    await harness.command("/bill budget", user=ADMIN)
    text = reply_text(harness, ADMIN)
    assert "The monthly budget is ¥50,000" in text and "¥0" in text and "no bill" not in text.lower()


async def test_budget_is_for_admins_checked_stored_shown_and_audited(harness: Harness) -> None:
    rt = harness.rt
    await harness.command("/bill budget 50000", user=OPERATOR)
    assert "needs the *admin* role" in reply_text(harness, OPERATOR)
    for bad in ("/bill budget lots", "/bill budget -5", "/bill budget 0", "/bill budget 5000 C1 extra"):
        await harness.command(bad, user=ADMIN)
    assert await current_budget(rt.db) is None
    text = reply_text(harness, ADMIN)
    assert "`lots` is not an amount" in text and "Type `/bill budget AMOUNT [CHANNEL]`" in text

    await harness.command("/bill budget 50,000 <#C0BUDGET|budget>", user=ADMIN)
    saved = await current_budget(rt.db)
    assert saved is not None and (saved.amount, saved.channel, saved.set_by) == (50000, "C0BUDGET", ADMIN)
    assert "set the monthly budget to ¥50,000" in reply_text(harness, ADMIN)

    harness.emulator.requests.clear()
    await harness.command("/bill budget", user=ADMIN)
    text = reply_text(harness, ADMIN)
    assert "The monthly budget is ¥50,000" in text and "<#C0BUDGET>" in text and "forecast at month end" in text
    assert any(r.path.endswith("/daily") for r in harness.emulator.requests)

    await harness.command("/bill budget 12345678", user=ADMIN, channel="C_HERE")
    saved = await current_budget(rt.db)
    assert saved is not None and (saved.amount, saved.channel) == (12345678, "C_HERE")
    await harness.command("/bill budget off", user=ADMIN)
    assert await current_budget(rt.db) is None
    entries = [(e.user_id, e.action, e.target, e.result) for e in await audit.latest(rt.db, 20)][::-1]
    assert entries == [
        (OPERATOR, "bill.budget", "50000", "refused"),
        (ADMIN, "bill.budget", "lots", "refused"),
        (ADMIN, "bill.budget", "-5", "refused"),
        (ADMIN, "bill.budget", "0", "refused"),
        (ADMIN, "bill.budget", "5000 C1 extra", "refused"),
        (ADMIN, "bill.budget", "50000 C0BUDGET", "ok"),
        (ADMIN, "bill.budget", "12345678 C_HERE", "ok"),
        (ADMIN, "bill.budget", "off", "ok"),
    ]
    assert not harness.fake.calls_to("chat.postMessage")


# The daily check, two processes on one database

Start = Callable[..., Awaitable[BudgetWatch]]


@pytest.fixture
def clock() -> Clock:
    return Clock(SEPTEMBER_10_2019)


@pytest.fixture
def emulator(clock: Clock) -> EmulatorState:
    return EmulatorState(now=clock)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
        assert_valid_slack_payloads(fake)
    finally:
        fake.stop()


@pytest.fixture
async def processes(database_url: str, tmp_path: Path, emulator: EmulatorState, clock: Clock,
                    slack: FakeSlack) -> AsyncIterator[Start]:
    settings = Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                        BOT_DATA_DIR=str(tmp_path / "data"), BOT_ADMINS=ADMIN)
    async with AsyncExitStack() as stack:

        async def start(owner: str, **options: Any) -> BudgetWatch:
            rt = Runtime.create(settings, emulator=emulator, clock=clock)
            stack.push_async_callback(rt.aclose)
            watch = BudgetWatch(rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=slack.api_url), owner=owner,
                                **options)
            await watch.start()
            stack.push_async_callback(watch.stop)
            await watch.settle()
            return watch

        yield start


def warnings_in(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if not m.get("upload")]


def claims(watch: BudgetWatch) -> list[tuple[str, str, str, str]]:
    with watch.rt.db.session() as session:
        rows = session.exec(select(ScheduleClaim).order_by(ScheduleClaim.job)).all()  # type: ignore[arg-type]
    return [(r.job, r.period, r.channel_id, r.state) for r in rows]


async def test_each_threshold_is_posted_once_by_two_processes(processes: Start, slack: FakeSlack,
                                                             emulator: EmulatorState) -> None:
    a = await processes("bot-a")
    b = await processes("bot-b")
    assert warnings_in(slack, "C_BUDGET") == []  # no budget yet: the checks at start did nothing
    await set_budget(a.rt.db, round(forecast_of(emulator) / 0.9), "C_BUDGET", ADMIN, SEPTEMBER_10_2019)

    outcomes = await asyncio.gather(a.run_now(), b.run_now(), a.run_now(), b.run_now())
    assert sorted(outcomes) == sorted([BudgetOutcome.posted, BudgetOutcome.done, BudgetOutcome.done, BudgetOutcome.done])
    [warning] = warnings_in(slack, "C_BUDGET")
    assert "heading for 80 % of the budget" in warning["text"] and "90 % of the budget" in warning["text"]
    [chart] = [f for f in slack.files if "C_BUDGET" in f.channels]
    assert png_title(chart.content) == "Bill of 2019-09: actual and forecast against the budget"
    assert len(bar_heights(chart.content)) == 10  # the running total of days 1-10
    assert colour_pixels(chart.content, FORECAST) > 0 and colour_pixels(chart.content, LIMIT) > 0

    emulator.month_estimates[MONTH] = int(emulator.month_estimates[MONTH] * 1.2)  # the days so far: now 108 %
    outcomes = await asyncio.gather(a.run_now(), b.run_now())
    assert sorted(outcomes) == sorted([BudgetOutcome.posted, BudgetOutcome.done])
    assert len(warnings_in(slack, "C_BUDGET")) == 2
    assert "forecast to exceed the budget" in warnings_in(slack, "C_BUDGET")[-1]["text"]

    restarted = await processes("bot-c")  # a restart checks at start and posts nothing new
    assert await restarted.run_now() is BudgetOutcome.done
    assert len(warnings_in(slack, "C_BUDGET")) == 2
    assert claims(restarted) == [(job_of(100), MONTH, "C_BUDGET", "posted"), (job_of(80), MONTH, "C_BUDGET", "posted")]


async def test_a_jump_past_both_thresholds_posts_only_the_stronger_warning(processes: Start, slack: FakeSlack,
                                                                          emulator: EmulatorState) -> None:
    a = await processes("bot-a")
    await set_budget(a.rt.db, round(forecast_of(emulator) / 1.5), "C_BUDGET", ADMIN, SEPTEMBER_10_2019)
    assert await a.run_now() is BudgetOutcome.posted
    assert await a.run_now() is BudgetOutcome.done
    [warning] = warnings_in(slack, "C_BUDGET")
    assert "exceed the budget" in warning["text"] and "150 % of the budget" in warning["text"]
    assert {c[0]: c[3] for c in claims(a)} == {job_of(80): "posted", job_of(100): "posted"}


async def test_below_the_thresholds_and_before_nine_nothing_is_posted(processes: Start, slack: FakeSlack,
                                                                      emulator: EmulatorState, clock: Clock) -> None:
    a = await processes("bot-a")
    await set_budget(a.rt.db, round(forecast_of(emulator) * 2), "C_BUDGET", ADMIN, SEPTEMBER_10_2019)
    assert await a.run_now() is BudgetOutcome.below
    clock.now = datetime(2019, 9, 10, 23, 30, tzinfo=timezone.utc)  # 08:30 on the 11th in Tokyo
    await set_budget(a.rt.db, 1, "C_BUDGET", ADMIN, clock.now)
    emulator.requests.clear()
    assert await a.run_if_due() is None
    assert emulator.requests == [] and warnings_in(slack, "C_BUDGET") == [] and claims(a) == []


async def test_a_failed_warning_is_retried_and_posted_once(processes: Start, slack: FakeSlack,
                                                           emulator: EmulatorState) -> None:
    a = await processes("bot-a", retry_delays=(0.0,))
    await set_budget(a.rt.db, round(forecast_of(emulator) / 0.9), "C_BUDGET", ADMIN, SEPTEMBER_10_2019)
    slack.fail_next("chat.postMessage", "internal_error")
    assert await a.run_now() is BudgetOutcome.failed
    assert claims(a) == [(job_of(80), MONTH, "C_BUDGET", "failed")]
    assert await a.run_if_due() is BudgetOutcome.posted  # the failed claim makes the next pass check again
    assert await a.run_if_due() is None
    assert len(warnings_in(slack, "C_BUDGET")) == 1

