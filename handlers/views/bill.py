"""Replies of /bill and the scheduled monthly summary: Block Kit, text forms and the PNG charts."""

from __future__ import annotations

import calendar

from slack_sdk.models.blocks import Block, HeaderBlock, PlainTextObject

from bot.charts import Chart, Line, render
from bot.messages import Mrkdwn, catalogue, t, term
from bot.services.bills import DailyBills, ItemCost, MonthBill, MonthlyReport, SimCost, previous_month
from handlers.views.common import money
from handlers.views.common import fields, note, plain, text

TOP_ITEMS = 10
TOP_SIMS = 5


def month_label(year_month: str) -> str:
    return f"{year_month[:4]}-{year_month[4:]}"


def change_label(bill: MonthBill) -> str:
    previous = month_label(previous_month(bill.year_month))
    if bill.through_day:
        return t("bill.change_through", previous=previous, day=bill.through_day)
    return t("bill.change", previous=previous)


def change_text(bill: MonthBill) -> str:
    previous = month_label(previous_month(bill.year_month))
    if bill.through_day == 0:
        return t("bill.change_no_days")
    if bill.change is None:
        return t("bill.change_unknown", previous=previous)
    sign = "+" if bill.change >= 0 else "-"
    amount = money(abs(bill.change), bill.currency)
    if bill.change_percent is None:
        return t("bill.change_no_percent", sign=sign, amount=amount)
    return t("bill.change_value", sign=sign, amount=amount, percent=f"{abs(bill.change_percent):.1f}")


def state_text(bill: MonthBill) -> str:
    return t("bill.state_closed") if bill.state == "closed" else t("bill.state_temporary")


def payment_text(bill: MonthBill) -> str:
    return term("bill.payment_status", bill.payment_status) if bill.payment_status else t("bill.payment_none")


def bill_text(bill: MonthBill) -> str:
    return t("bill.text", month=month_label(bill.year_month), amount=money(bill.amount, bill.currency),
             state=state_text(bill), payment=payment_text(bill), comparison=change_label(bill),
             change=change_text(bill))


def bill_blocks(bill: MonthBill, title: str | None = None) -> list[Block]:
    month = month_label(bill.year_month)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=plain(title or t("bill.title", month=month)))),
        *fields([
            (t("bill.amount"), money(bill.amount, bill.currency)),
            (t("bill.state"), state_text(bill)),
            (t("bill.payment"), payment_text(bill)),
            (change_label(bill), change_text(bill)),
        ]),
    ]
    if not bill.breakdown_known:
        return [*blocks, note(t("bill.no_breakdown"))]
    if not bill.items and not bill.sims:
        return [*blocks, note(t("bill.empty_breakdown"))]
    if bill.items:
        blocks.append(text(_breakdown(t("bill.items_title"), [_item_line(i, bill.currency) for i in bill.items],
                                      TOP_ITEMS)))
    if bill.sims:
        lines = [_sim_line(sim, bill.currency) for sim in bill.sims]
        blocks.append(text(_breakdown(t("bill.sims_title"), lines, TOP_SIMS)))
    return blocks


def item_words(item: ItemCost) -> Mrkdwn:
    """`dailyDataTrafficChargeTotal` of Air reads "data traffic, Air"; an item the catalogue lacks keeps its name."""
    known = f"bill.item.{item.name}"
    name = t(known) if known in catalogue() else item.name
    return t("bill.item_named", item=name, category=item.category) if item.category else t("bill.item_plain", item=name)


def _item_line(item: ItemCost, currency: str) -> str:
    return t("bill.item_line", name=item_words(item), amount=money(item.amount, currency))


def _sim_line(sim: SimCost, currency: str) -> str:
    amount = money(sim.amount, currency)
    if sim.imsi is None:
        return t("bill.sim_line_unknown", sim=sim.sim_id, amount=amount)
    if sim.name:
        return t("bill.sim_line_named", name=sim.name, imsi=sim.imsi, amount=amount)
    return t("bill.sim_line", imsi=sim.imsi, amount=amount)


def _breakdown(title: str, lines: list[str], top: int) -> str:
    shown = lines[:top]
    if len(lines) > top:
        shown.append(t("bill.more", count=len(lines) - top))
    return "\n".join([title, *shown])


# The scheduled summary


def summary_text(report: MonthlyReport) -> str:
    return f"{t('bill.summary_title', month=month_label(report.bill.year_month))}. {bill_text(report.bill)}"


def summary_blocks(report: MonthlyReport) -> list[Block]:
    title = t("bill.summary_title", month=month_label(report.bill.year_month))
    return [*bill_blocks(report.bill, title), note(history_text(report))]


def history_text(report: MonthlyReport) -> str:
    currency, missing = report.bill.currency, t("bill.history_missing")
    months = ", ".join(
        f"{month_label(m.year_month)} {money(m.amount, currency) if m.amount is not None else missing}"
        for m in report.history
    )
    return t("bill.history_text", months=months)


def history_chart_title() -> str:
    return t("bill.history_chart_title")


def history_chart(report: MonthlyReport) -> bytes:
    """Bars of the 12 months; a line at the month before's amount to compare the last bar with."""
    bill = report.bill
    lines = []
    if bill.previous_amount is not None:
        previous = month_label(previous_month(bill.year_month))
        lines.append(Line(plain(t("bill.chart_previous_amount", month=previous,
                                  amount=money(bill.previous_amount, bill.currency))),
                          [bill.previous_amount] * len(report.history), dashed=True))
    return render(Chart(
        title=plain(history_chart_title()),
        x_label=plain(t("bill.chart_month")),
        y_label=plain(t("bill.chart_amount", currency=bill.currency)),
        labels=[month_label(m.year_month)[2:] for m in report.history],  # yy-MM fits under a bar
        bars=[m.amount or 0.0 for m in report.history],
        bar_label=plain(t("bill.chart_monthly")),
        lines=lines,
    ))


# Daily amounts


def daily_title(daily: DailyBills) -> str:
    return t("bill.daily_title", month=month_label(daily.year_month))


def daily_text(daily: DailyBills) -> str:
    """One line a screen reader or the console reads well: the total, the peak, then day: amount."""
    if not daily.days:
        return t("bill.daily_none", month=month_label(daily.year_month))
    peak = max(daily.days, key=lambda d: d.amount)
    peak_text = t("bill.daily_peak", amount=money(peak.amount, daily.currency),
                  day=peak.day) if peak.amount else ""
    days = " · ".join(f"{d.day}: {money(d.amount, daily.currency)}" for d in daily.days)
    return t("bill.daily_text", month=month_label(daily.year_month),
             total=money(daily.total, daily.currency), peak=peak_text, days=days)


def daily_chart(daily: DailyBills, previous: DailyBills | None = None) -> bytes:
    return render(daily_chart_of(daily, previous))


def daily_chart_of(daily: DailyBills, previous: DailyBills | None = None) -> Chart:
    """Bars of every day of the month (to its last, whatever days have amounts yet); the month before's days as a
    line over the same day numbers."""
    this = {d.day: d.amount for d in daily.days if d.day is not None}
    before = {d.day: d.amount for d in previous.days if d.day is not None} if previous else {}
    days = list(range(1, calendar.monthrange(int(daily.year_month[:4]), int(daily.year_month[4:6]))[1] + 1))
    lines = []
    if before:
        lines.append(Line(plain(t("bill.chart_previous", month=month_label(previous.year_month))),  # type: ignore[union-attr]
                          [before.get(day) for day in days]))
    return Chart(
        title=plain(daily_title(daily)),
        x_label=plain(t("bill.chart_day")),
        y_label=plain(t("bill.chart_amount", currency=daily.currency)),
        labels=[str(day) for day in days],
        bars=[this.get(day, 0.0) for day in days],
        bar_label=month_label(daily.year_month),
        lines=lines,
    )


def export_text(year_month: str, url: str) -> str:
    return t("bill.export_done", month=year_month, url=url)
