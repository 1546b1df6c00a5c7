"""The monthly budget and the month-end forecast: the daily amounts so far, carried on at their average."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel.numbers import get_currency_precision

from bot.services.bills import DailyBills, daily_with_previous
from bot.services.errors import InputError, service
from bot.soracom import SoracomClient
from bot.store import Database, off_loop
from bot.store.tables import BudgetSetting

ROW = "monthly"
THRESHOLDS = (80, 100)  # percent of the budget the forecast is warned at
# An amount, with its currency before or after it (a symbol or an ISO code; 円 for yen), once NFKC made full-width
# characters (￥, １２，０００) plain.
AMOUNT = re.compile(r"^(?P<before>[^\d\s.,]*)\s*(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<cents>\d+))?\s*"
                    r"(?P<after>[^\d\s.,]*)$")
SYMBOLS = {"¥": "JPY", "円": "JPY", "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP"}
MAX_AMOUNT = 1e12


@dataclass(frozen=True)
class Budget:
    amount: float
    channel: str
    set_by: str
    set_at: datetime


def parse_amount(text: str, currency: str) -> float:
    """An amount in the bill's `currency`: 12000, 12,000, ¥12,000, ￥１２０００, 12000円, 12000 JPY; in USD also
    $12.50. An amount in another currency ($12 for a bill in yen, 12000USD) or with more decimals than the currency
    has is refused (InputError), never read as a number of the bill's currency."""
    match = AMOUNT.match(unicodedata.normalize("NFKC", text).strip())
    if not match:
        raise InputError("bill.budget_bad_amount", value=text)
    marks = {mark for mark in (match["before"], match["after"]) if mark}
    if len(marks) > 1:
        raise InputError("bill.budget_bad_amount", value=text)
    if marks:
        mark = marks.pop()
        named = SYMBOLS.get(mark) or (mark.upper() if mark.isascii() and mark.isalpha() and len(mark) == 3 else None)
        if named is None:
            raise InputError("bill.budget_bad_amount", value=text)
        if named != currency.upper():
            raise InputError("bill.budget_other_currency", value=text, currency=currency.upper(), given=named)
    cents = match["cents"] or ""
    if len(cents) > get_currency_precision(currency.upper()):
        raise InputError("bill.budget_decimals", value=text, currency=currency.upper(),
                         decimals=get_currency_precision(currency.upper()))
    value = float(Decimal(match["number"].replace(",", "") + (f".{cents}" if cents else "")))
    if not 0 < value <= MAX_AMOUNT:
        raise InputError("bill.budget_bad_amount", value=text)
    return value


@service
async def bill_currency(client: SoracomClient) -> str:
    """The currency SORACOM bills this account in, as its running month's bill says."""
    return (await client.get_latest_billing()).currency or "JPY"


@off_loop
def current_budget(db: Database) -> Budget | None:
    with db.session() as session:
        row = session.get(BudgetSetting, ROW)
    return None if row is None else Budget(row.amount, row.channel_id, row.updated_by, row.updated_at)


@off_loop
def set_budget(db: Database, amount: float, channel: str, by: str, now: datetime) -> None:
    with db.session() as session:
        row = session.get(BudgetSetting, ROW) or BudgetSetting(name=ROW, amount=amount, channel_id=channel,
                                                               updated_by=by)
        row.amount, row.channel_id, row.updated_by, row.updated_at = amount, channel, by, now
        session.add(row)
        session.commit()


@off_loop
def clear_budget(db: Database) -> bool:
    """True when there was a budget to turn off."""
    with db.session() as session:
        row = session.get(BudgetSetting, ROW)
        if row is None:
            return False
        session.delete(row)
        session.commit()
        return True


@dataclass(frozen=True)
class Forecast:
    year_month: str
    currency: str
    days_in_month: int
    daily: list[float]  # day 1 … the last day SORACOM has counted
    previous: list[float]  # the month before, day by day (empty when SORACOM has none)

    @property
    def spent(self) -> float:
        return sum(self.daily)

    @property
    def elapsed(self) -> int:
        return len(self.daily)

    @property
    def month_end(self) -> float:
        """What the month will cost if the rest of its days cost what the days so far did on average."""
        if not self.daily:
            return 0.0
        return self.spent / self.elapsed * self.days_in_month

    @property
    def previous_total(self) -> float | None:
        return sum(self.previous) if self.previous else None

    def percent_of(self, budget: float) -> float:
        return self.month_end * 100 / budget

    def crossed(self, budget: float) -> list[int]:
        """The thresholds (percent) the month-end forecast has reached, lowest first."""
        return [level for level in THRESHOLDS if self.month_end >= budget * level / 100]


def _per_day(daily: DailyBills | None) -> list[float]:
    """Amounts by day of the month from day 1; days SORACOM left out count as nothing."""
    if daily is None or not daily.days:
        return []
    amounts = {day.day: day.amount for day in daily.days if day.day is not None}
    return [amounts.get(day, 0.0) for day in range(1, max(amounts, default=0) + 1)]


@service
async def month_forecast(client: SoracomClient, year_month: str) -> Forecast:
    try:
        this, previous = await daily_with_previous(client, year_month)
    except InputError:  # the first hours of a month: SORACOM has no daily bill of it yet, so nothing is spent
        this, previous = DailyBills(year_month, await bill_currency(client), []), None
    days_in_month = calendar.monthrange(int(year_month[:4]), int(year_month[4:]))[1]
    return Forecast(year_month, this.currency, days_in_month, _per_day(this), _per_day(previous))
