"""Bills in SORACOM words: a month's bill with its breakdown, the daily amounts, the CSV export, the history."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from bot.services.errors import InputError, service
from bot.soracom import NotFound, SoracomClient, SoracomError

log = logging.getLogger(__name__)

MONTH = re.compile(r"^(\d{4})-?(\d{2})$")
FIRST_YEAR = 2000
HISTORY_MONTHS = 12
NAMED_SIMS = 5  # the breakdown shows this many SIMs; only they are looked up
# SIM IDs → (IMSI, name) of those it knows: the fleet snapshot, which saves paging the fleet.
KnownSims = Callable[[list[str]], Awaitable[Mapping[str, tuple[str, str]]]]


def month_of(moment: datetime, zone: tzinfo) -> str:
    """The yyyyMM a moment falls in, in the bot's time zone."""
    return moment.astimezone(zone).strftime("%Y%m")


def previous_month(year_month: str) -> str:
    year, month = int(year_month[:4]), int(year_month[4:])
    return f"{year - 1}12" if month == 1 else f"{year}{month - 1:02d}"


def months_until(year_month: str, count: int) -> list[str]:
    """The `count` months ending with `year_month`, oldest first."""
    months = [year_month]
    while len(months) < count:
        months.append(previous_month(months[-1]))
    return months[::-1]


def parse_month(text: str, current: str) -> str:
    """YYYYMM (or YYYY-MM) of a month that has begun; InputError otherwise, before anything is fetched."""
    match = MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < FIRST_YEAR:
        raise InputError("bill.bad_month", value=text)
    year_month = match.group(1) + match.group(2)
    if year_month > current:
        raise InputError("bill.future_month", value=text, current=current)
    return year_month


@dataclass(frozen=True)
class ItemCost:
    name: str
    category: str | None
    amount: float


@dataclass(frozen=True)
class SimCost:
    sim_id: str
    amount: float
    imsi: str | None = None  # None: no SIM of the fleet has that SIM ID (terminated since)
    name: str | None = None


@dataclass(frozen=True)
class MonthBill:
    year_month: str
    amount: float
    currency: str
    state: str  # closed | temporary
    payment_status: str | None
    previous_amount: float | None
    items: list[ItemCost]
    sims: list[SimCost]
    breakdown_known: bool  # the summaries cover only the last four months
    # A running month is compared day by day: its daily charges through `through_day` (`compared_amount`) against
    # the month before's through the same day (`previous_amount`). A whole month against part of one says nothing.
    through_day: int | None = None
    compared_amount: float | None = None

    @property
    def change(self) -> float | None:
        if self.previous_amount is None:
            return None
        return (self.amount if self.compared_amount is None else self.compared_amount) - self.previous_amount

    @property
    def change_percent(self) -> float | None:
        if self.change is None or not self.previous_amount:
            return None
        return self.change * 100 / self.previous_amount


@dataclass(frozen=True)
class DayAmount:
    date: str  # yyyyMMdd
    amount: float

    @property
    def day(self) -> int | None:
        """The day of the month; None for a date that is not yyyyMMdd."""
        return int(self.date[6:8]) if len(self.date) == 8 and self.date[6:8].isdigit() else None


@dataclass(frozen=True)
class DailyBills:
    year_month: str
    currency: str
    days: list[DayAmount]

    @property
    def total(self) -> float:
        return sum(day.amount for day in self.days)


@dataclass(frozen=True)
class MonthAmount:
    year_month: str
    amount: float | None  # None: no bill for that month


@dataclass(frozen=True)
class MonthlyReport:
    bill: MonthBill
    history: list[MonthAmount]  # the last 12 months, oldest first, ending with bill.year_month


class BillNotClosed(Exception):
    """The month's bill is still being aggregated: the summary waits for the closed figures."""

    def __init__(self, year_month: str, state: str) -> None:
        super().__init__(f"the bill of {year_month} is {state}, not closed yet")


@service
async def month_bill(client: SoracomClient, year_month: str, current: str, known: KnownSims | None = None) -> MonthBill:
    """The bill of a month with the change against the month before and the breakdown where the API has one."""
    bill, previous, items, sims = await asyncio.gather(
        _bill(client, year_month, current),
        _amount_or_none(client, previous_month(year_month)),
        _item_costs(client, year_month),
        _sim_costs(client, year_month),
    )
    amount, currency, state, payment_status = bill
    if sims:
        sims = await name_sims(client, sims, NAMED_SIMS, known)
    month = MonthBill(
        year_month=year_month,
        amount=amount,
        currency=currency,
        state=state,
        payment_status=payment_status,
        previous_amount=previous,
        items=items or [],
        sims=sims or [],
        breakdown_known=items is not None or sims is not None,
    )
    return await _day_by_day(client, month) if year_month == current and state != "closed" else month


async def _day_by_day(client: SoracomClient, bill: MonthBill) -> MonthBill:
    """The running month compared with the month before through the same day; as it was if either has no daily
    bills."""
    try:
        days, before = await daily_with_previous(client, bill.year_month)
    except (InputError, SoracomError) as exc:
        log.info("no day-by-day comparison of %s: %s", bill.year_month, exc)
        return bill
    if before is None:
        return bill
    through = max((entry.day or 0 for entry in days.days), default=0)
    return replace(bill, through_day=through, compared_amount=_through(days, through),
                   previous_amount=_through(before, through))


def _through(daily: DailyBills, day: int) -> float:
    return sum(entry.amount for entry in daily.days if entry.day is not None and entry.day <= day)


async def _bill(client: SoracomClient, year_month: str, current: str) -> tuple[float, str, str, str | None]:
    """(amount, currency, state, payment status); this month's running total comes from getLatestBilling."""
    try:
        bill = await client.get_billing(year_month)
        return bill.amount or 0.0, bill.currency or "JPY", bill.state or "temporary", bill.paymentStatus
    except NotFound:
        if year_month != current:
            raise InputError("bill.not_found", month=year_month) from None
    latest = await client.get_latest_billing()
    return latest.amount or 0.0, latest.currency or "JPY", "temporary", None


async def _amount_or_none(client: SoracomClient, year_month: str) -> float | None:
    try:
        return (await client.get_billing(year_month)).amount
    except NotFound:
        return None


async def _item_costs(client: SoracomClient, year_month: str) -> list[ItemCost] | None:
    """None when the API has no breakdown of that month (or will not give it to these credentials)."""
    try:
        summaries = await client.get_billing_summary_of_bill_items()
    except SoracomError as exc:
        log.info("no bill item summary: %s", exc)
        return None
    for summary in summaries:
        if summary.yearMonth == year_month:
            return [ItemCost(item.billItemName or "?", item.billItemCategory, item.amount or 0.0)
                    for item in summary.costBreakdownList or []]
    return None


async def _sim_costs(client: SoracomClient, year_month: str) -> list[SimCost] | None:
    try:
        summaries = await client.get_billing_summary_of_sims()
    except SoracomError as exc:
        log.info("no SIM cost summary: %s", exc)
        return None
    for summary in summaries:
        if summary.yearMonth == year_month:
            return [SimCost(sim.simId or "?", sim.amount or 0.0) for sim in summary.costBreakdownList or []]
    return None


@service
async def name_sims(client: SoracomClient, sims: list[SimCost], top: int,
                    known: KnownSims | None = None) -> list[SimCost]:
    """The first `top` SIMs with their IMSI and name. The billing API names SIMs by SIM ID only and SORACOM has no
    lookup by it: `known` (the fleet snapshot) answers first, and the fleet is paged only for the SIMs it lacks,
    until every one is found (early for the usual few SIMs)."""
    wanted = {sim.sim_id for sim in sims[:top]}
    found: dict[str, tuple[str | None, str | None]] = dict(await known(sorted(wanted))) if known else {}
    try:
        if len(found) < len(wanted):
            async for sub in client.iter_subscribers(limit=100):
                for key in wanted.intersection((sub.simId, sub.iccid)):
                    found[key] = (sub.imsi, (sub.tags or {}).get("name"))
                if len(found) == len(wanted):
                    break
    except SoracomError as exc:  # the amounts still stand without names
        log.info("SIM names of the bill breakdown not read: %s", exc)
    return [replace(sim, imsi=found[sim.sim_id][0], name=found[sim.sim_id][1]) if sim.sim_id in found else sim
            for sim in sims]


@service
async def daily_bills(client: SoracomClient, year_month: str) -> DailyBills:
    try:
        days = await client.get_billing_per_day(year_month)
    except NotFound:
        raise InputError("bill.not_found", month=year_month) from None
    currency = next((day.currency for day in days if day.currency), "JPY")
    amounts = sorted((DayAmount(day.date or "", day.amount or 0.0) for day in days), key=lambda d: d.date)
    return DailyBills(year_month, currency, amounts)


@service
async def export_link(client: SoracomClient, year_month: str) -> str:
    """The download URL of the month's detailed CSV (the client polls when the API answers asynchronously)."""
    try:
        export = await client.export_billing(year_month)
    except NotFound:
        raise InputError("bill.not_found", month=year_month) from None
    if not export.url:
        raise SoracomError(0, None, f"the export of {year_month} gave no download URL")
    return export.url


@service
async def monthly_report(client: SoracomClient, year_month: str, current: str,
                         known: KnownSims | None = None) -> MonthlyReport:
    """The closed bill of a month and the 12 months up to it; BillNotClosed while it is still temporary."""
    bill, history = await asyncio.gather(month_bill(client, year_month, current, known), client.get_billing_history())
    if bill.state != "closed":
        raise BillNotClosed(year_month, bill.state)
    amounts = {entry.yearMonth: entry.amount for entry in history if entry.yearMonth}
    amounts[year_month] = bill.amount
    if bill.previous_amount is not None:
        amounts[previous_month(year_month)] = bill.previous_amount
    return MonthlyReport(bill, [MonthAmount(m, amounts.get(m)) for m in months_until(year_month, HISTORY_MONTHS)])


@service
async def daily_with_previous(client: SoracomClient, year_month: str) -> tuple[DailyBills, DailyBills | None]:
    """A month's daily amounts and the month before's (None where SORACOM has none), for comparison."""
    async def previous() -> DailyBills | None:
        try:
            return await daily_bills(client, previous_month(year_month))
        except InputError:
            return None

    return await asyncio.gather(daily_bills(client, year_month), previous())
