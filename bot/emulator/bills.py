"""Bill details derived from each month's amount: per day, per SIM and per bill item, always adding up to the bill.

The details are computed, not stored: change `state.bills[yyyyMM]["amount"]` and every breakdown follows.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bot.emulator.seed import stable_int
from bot.emulator.state import EmulatorState

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
    exact = [total * w / whole for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def billed_days(state: EmulatorState, year_month: str) -> list[str]:
    year, month = int(year_month[:4]), int(year_month[4:])
    days = calendar.monthrange(year, month)[1]
    if year_month == state.now().strftime("%Y%m"):
        days = state.now().day
    return [f"{year_month}{day:02d}" for day in range(1, days + 1)]


def sim_id_of(state: EmulatorState, imsi: str) -> str:
    """The SIM ID the billing APIs name: the SIM's ICCID."""
    sub = state.subscribers.get(imsi)
    return str(sub["iccid"]) if sub and sub.get("iccid") else f"89811{imsi[-13:]}1"


def detail_rows(state: EmulatorState, year_month: str) -> list[DetailRow]:
    amount = int(state.bills[year_month]["amount"])
    imsis = state.billing_imsis or sorted(state.subscribers)[:1]
    keys = [(day, imsi, category, item, weight)
            for day in billed_days(state, year_month) for imsi in imsis for category, item, weight in BILL_ITEMS]
    weights = [weight * (1 + stable_int(year_month, day, imsi, item) % 9) for day, imsi, _, item, weight in keys]
    sim_ids = {imsi: sim_id_of(state, imsi) for imsi in imsis}
    return [DetailRow(day, imsi, sim_ids[imsi], category, item, share)
            for (day, imsi, category, item, _), share in zip(keys, split(amount, weights))]


def daily_amounts(state: EmulatorState, year_month: str) -> list[dict[str, Any]]:
    """Newest day first, as the spec's example."""
    totals: dict[str, int] = defaultdict(int)
    for row in detail_rows(state, year_month):
        totals[row.date] += row.amount
    currency = state.bills[year_month].get("currency", "JPY")
    return [{"date": day, "amount": totals[day], "currency": currency} for day in sorted(totals, reverse=True)]


def item_breakdown(state: EmulatorState, year_month: str) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for row in detail_rows(state, year_month):
        totals[(row.category, row.item)] += row.amount
    items = [{"amount": amount, "billItemCategory": category, "billItemName": item}
             for (category, item), amount in totals.items()]
    return sorted(items, key=lambda entry: -entry["amount"])


def sim_breakdown(state: EmulatorState, year_month: str) -> list[dict[str, Any]]:
    totals: dict[str, int] = defaultdict(int)
    for row in detail_rows(state, year_month):
        totals[row.sim_id] += row.amount
    return sorted(({"amount": amount, "simId": sim_id} for sim_id, amount in totals.items()),
                  key=lambda entry: -entry["amount"])


def export_csv(state: EmulatorState, year_month: str) -> str:
    currency = state.bills[year_month].get("currency", "JPY")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in detail_rows(state, year_month):
        writer.writerow((row.date, row.imsi, row.sim_id, row.category, row.item, row.amount, currency))
    return out.getvalue()
