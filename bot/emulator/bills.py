"""Bill details derived from each month's amount: per day, per SIM and per bill item, always adding up to the bill.

The details of a closed month are computed, not stored: change `bills[yyyyMM]["amount"]` and every breakdown
follows. The month still running has a whole-month estimate instead (`month_estimates`), spread over all its days:
its bill is the sum of the days up to today, so it grows day by day and ends near the months before it.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.emulator.seed import billing_day, stable_int
from bot.emulator.state import EmulatorState, OperatorData

# (category, billItemName, weight): names as the sandbox's applicableBillItemName values.
BILL_ITEMS = (
    ("Air", "dailyChargeTotal", 5),
    ("Air", "dailyDataTrafficChargeTotal", 4),
    ("Beam", "dailySoracomBeamRequestChargeTotal", 1),
)
CSV_HEADER = ("date", "imsi", "simId", "billItemCategory", "billItemName", "amount", "currency")


@dataclass(frozen=True)
class DetailRow:
    date: str  # yyyyMMdd
    imsi: str
    sim_id: str
    category: str
    item: str
    amount: int


def split(total: int, weights: list[int]) -> list[int]:
    """Integer shares of total in proportion to weights, summing exactly to total (largest remainder)."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def month_days(year_month: str) -> list[str]:
    year, month = int(year_month[:4]), int(year_month[4:])
    return [f"{year_month}{day:02d}" for day in range(1, calendar.monthrange(year, month)[1] + 1)]


def sim_id_of(data: OperatorData, imsi: str) -> str:
    """The SIM ID the billing APIs name: the SIM's ICCID."""
    sub = data.subscribers.get(imsi)
    return str(sub["iccid"]) if sub and sub.get("iccid") else f"89811{imsi[-13:]}1"


def _rows(data: OperatorData, year_month: str, amount: int) -> list[DetailRow]:
    imsis = data.billing_imsis or sorted(data.subscribers)[:1]
    keys = [(day, imsi, category, item, weight)
            for day in month_days(year_month) for imsi in imsis for category, item, weight in BILL_ITEMS]
    weights = [weight * (1 + stable_int(year_month, day, imsi, item) % 9) for day, imsi, _, item, weight in keys]
    sim_ids = {imsi: sim_id_of(data, imsi) for imsi in imsis}
    return [DetailRow(day, imsi, sim_ids[imsi], category, item, share)
            for (day, imsi, category, item, _), share in zip(keys, split(amount, weights))]


def _running_rows(data: OperatorData, year_month: str, now: datetime) -> list[DetailRow]:
    today = billing_day(now)
    return [row for row in _rows(data, year_month, data.month_estimates[year_month]) if row.date <= today]


def refresh_running_month(state: EmulatorState, data: OperatorData) -> None:
    """The running month's bill: what its days up to today add up to (call before reading its amount)."""
    for year_month in data.month_estimates:
        if year_month in data.bills and (data.billing_imsis or data.subscribers):
            data.bills[year_month]["amount"] = sum(row.amount for row in _running_rows(data, year_month, state.now()))


def detail_rows(state: EmulatorState, year_month: str, data: OperatorData | None = None) -> list[DetailRow]:
    """Rows of one month of `data` (the demo operator's by default)."""
    data = data or state.demo
    if year_month in data.month_estimates:
        return _running_rows(data, year_month, state.now())
    return _rows(data, year_month, int(data.bills[year_month]["amount"]))


def daily_amounts(state: EmulatorState, year_month: str, data: OperatorData | None = None) -> list[dict[str, Any]]:
    """Newest day first, as the spec's example."""
    data = data or state.demo
    totals: dict[str, int] = defaultdict(int)
    for row in detail_rows(state, year_month, data):
        totals[row.date] += row.amount
    currency = data.bills[year_month].get("currency", "JPY")
    return [{"date": day, "amount": totals[day], "currency": currency} for day in sorted(totals, reverse=True)]


def item_breakdown(state: EmulatorState, year_month: str, data: OperatorData | None = None) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for row in detail_rows(state, year_month, data):
        totals[(row.category, row.item)] += row.amount
    items = [{"amount": amount, "billItemCategory": category, "billItemName": item}
             for (category, item), amount in totals.items()]
    return sorted(items, key=lambda entry: -entry["amount"])


def sim_breakdown(state: EmulatorState, year_month: str, data: OperatorData | None = None) -> list[dict[str, Any]]:
    totals: dict[str, int] = defaultdict(int)
    for row in detail_rows(state, year_month, data):
        totals[row.sim_id] += row.amount
    return sorted(({"amount": amount, "simId": sim_id} for sim_id, amount in totals.items()),
                  key=lambda entry: -entry["amount"])


def export_csv(state: EmulatorState, year_month: str, data: OperatorData | None = None) -> str:
    data = data or state.demo
    currency = data.bills[year_month].get("currency", "JPY")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in detail_rows(state, year_month, data):
        writer.writerow((row.date, row.imsi, row.sim_id, row.category, row.item, row.amount, currency))
    return out.getvalue()
