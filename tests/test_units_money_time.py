"""One unit for traffic, money with its currency, whole months on charts, times in BOT_TIMEZONE with their zone."""

from __future__ import annotations

import calendar
import json
import re
from datetime import datetime, timezone

import pytest

from bot.messages import in_language
from bot.services.bills import DailyBills, DayAmount
from bot.services.budget import current_budget, parse_amount
from bot.services.errors import InputError
from handlers.views import alerts as alert_views
from handlers.views.bill import daily_chart_of
from handlers.views.common import traffic
from handlers.views.order import order_time
from tests.conftest import ADMIN, VIEWER
from tests.harness import Harness
from tests.test_alerts import OPS, cards
from tests.test_order import place_order

DECIMAL_UNITS = re.compile(r"\d\s?(?:kB|KB|MB|GB|TB)\b")


# Traffic: binary units, one formatting function


def test_traffic_is_written_in_binary_units_with_the_readers_grouping() -> None:
    assert [traffic(n) for n in (0, 1023, 1024, 150 * 2**20, 151.1 * 2**20, 100 * 2**30, 1536 * 2**30)] == [
        "0 B", "1,023 B", "1 KiB", "150 MiB", "151.1 MiB", "100 GiB", "1.5 TiB"]
    with in_language("ja"):
        assert traffic(12_345 * 2**20) == "12.1 GiB" and traffic(1_000 * 2**20) == "1,000 MiB"


async def test_one_unit_from_the_threshold_to_the_console_card_and_sim_show(harness: Harness) -> None:
    await harness.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
    await harness.command("/alerts setup daily-traffic 100MB", user=ADMIN)  # MB typed: read as MiB, and said so
    [rule] = harness.emulator.event_handlers.values()
    assert rule["ruleConfig"]["properties"]["limitTotalTrafficMegaByte"] == "100"
    said = await harness.local.add_traffic("sensor-02", "150MiB")
    assert said.startswith("(150 MiB added to 440100000000002")
    [card] = cards(harness)
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    value = re.search(r"(\d[\d,.]*) MiB", shown.split("Traffic")[-1] if "Traffic" in shown else shown)
    assert value and "100 MiB" in shown
    await harness.command("/sim show sensor-02", user=VIEWER)
    await harness.command("/alerts list", user=VIEWER)
    everything = harness.all_text()
    assert "&gt; 100 MiB" in everything and "↓ " in everything and "MiB" in everything.split("↓ ")[-1][:20]
    assert DECIMAL_UNITS.findall(everything) == [], "a decimal unit beside the binary ones"


@pytest.mark.parametrize("typed, mib", [("100MB", 100), ("100MiB", 100), ("100", 100), ("2GB", 2048),
                                        ("2GiB", 2048), ("2 gib", 2048)])
def test_limits_accept_both_spellings_as_binary_units(typed: str, mib: int) -> None:
    from bot.services.alerts import parse_limit

    assert parse_limit(typed) == mib


# Money: the bill's currency, read and written with it


@pytest.mark.parametrize("typed", ["12000", "12,000", "¥12,000", "￥12000", "￥１２，０００", "１２０００", "12000円",
                                   "12000JPY", "12000 jpy", "JPY12000", "¥ 12000"])
def test_a_yen_amount_is_read_in_every_way_a_japanese_team_types_it(typed: str) -> None:
    assert parse_amount(typed, "JPY") == 12000


@pytest.mark.parametrize("typed, key", [("$12.00", "bill.budget_other_currency"),
                                        ("12000USD", "bill.budget_other_currency"),
                                        ("€50", "bill.budget_other_currency"),
                                        ("12000.50", "bill.budget_decimals"),
                                        ("¥12000USD", "bill.budget_bad_amount"),
                                        ("12,00", "bill.budget_bad_amount"),
                                        ("12 apples", "bill.budget_bad_amount")])
def test_another_currency_is_refused_not_taken_as_yen(typed: str, key: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_amount(typed, "JPY")
    assert refused.value.message_id == key


def test_dollars_for_a_bill_in_dollars() -> None:
    assert parse_amount("$12.50", "USD") == 12.5 and parse_amount("12.5 USD", "usd") == 12.5
    with pytest.raises(InputError):
        parse_amount("¥1200", "USD")


async def test_budget_replies_carry_the_currency_and_refuse_another(harness: Harness) -> None:
    await harness.command("/bill budget $12.00", user=ADMIN)
    await harness.command("/bill budget 12000USD", user=ADMIN)
    assert await current_budget(harness.rt.db) is None
    refusals = harness.all_text()
    assert refusals.count("SORACOM bills this account in JPY") >= 2  # reply text and block
    await harness.command("/bill budget ￥18000", user=ADMIN)
    saved = await current_budget(harness.rt.db)
    assert saved is not None and saved.amount == 18000
    harness.fake.clear()
    await harness.command("/bill budget", user=ADMIN)
    assert "The monthly budget is ¥18,000" in harness.all_text()


# Charts: every day of the month


@pytest.mark.parametrize("year_month", ["202612", "202611", "202602", "202802", "210002", "202401"])
def test_the_daily_chart_runs_to_the_last_day_of_its_month(year_month: str) -> None:
    year, month = int(year_month[:4]), int(year_month[4:])
    last = calendar.monthrange(year, month)[1]
    previous = "202611" if year_month == "202612" else year_month
    daily = DailyBills(year_month, "JPY", [DayAmount(f"{year_month}{day:02d}", 10.0) for day in range(1, 8)])
    before = DailyBills(previous, "JPY", [DayAmount(f"{previous}{day:02d}", 5.0) for day in range(1, 31)])
    chart = daily_chart_of(daily, before)
    assert chart.labels[0] == "1" and chart.labels[-1] == str(last) and len(chart.bars) == last
    assert {"202612": 31, "202602": 28, "202802": 29, "210002": 28}.get(year_month, last) == last


# Times: the bot's zone, said


def test_order_times_are_shown_in_the_bots_zone_with_it() -> None:
    from zoneinfo import ZoneInfo

    assert order_time("20261231153000", ZoneInfo("Asia/Tokyo")) == "2027-01-01 00:30 JST"
    assert order_time("20261231153000") == "2026-12-31 15:30 UTC"
    assert order_time("not a time") == "not a time"


async def test_order_list_and_sim_show_name_the_zone(harness: Harness) -> None:
    from tests.conftest import OPERATOR

    order_id = await place_order(harness, await harness.enroll(OPERATOR))
    harness.fake.clear()
    await harness.command("/order list", user=VIEWER)
    await harness.command(f"/order show {order_id}", user=VIEWER)
    await harness.command("/sim show sensor-03", user=VIEWER)
    text = harness.all_text()
    ordered = harness.emulator.orders[order_id]["orderDateTime"]
    local = datetime.strptime(ordered, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc).astimezone(
        harness.rt.settings.timezone)
    assert text.count(local.strftime("%Y-%m-%d %H:%M JST")) >= 2
    assert "UTC" not in text
    month_start = harness.clock.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert f"since {month_start.astimezone(harness.rt.settings.timezone):%Y-%m-%d %H:%M} JST" in text


def test_card_fields_use_the_one_unit() -> None:
    card = alert_views.Card(rule="daily-traffic", imsi="440100000000002", name="sensor-02", group=None,
                            limit_mib=2048, value_bytes=int(151.1 * 2**20), when="2026-12-07 09:00 JST")
    shown = json.dumps([b.to_dict() for b in alert_views.card_blocks(card, 1)])
    assert "2 GiB" in shown and "151.1 MiB" in shown and not DECIMAL_UNITS.search(shown)
