"""`/bill budget` replies and the budget warning: text, Block Kit and the forecast chart."""

from __future__ import annotations

from datetime import datetime, tzinfo

from slack_sdk.models.blocks import Block, HeaderBlock, PlainTextObject

from bot.charts import FORECAST, Chart, Line, render
from bot.messages import t
from bot.services.bills import previous_month
from bot.services.budget import Budget, Forecast
from handlers.views.bill import month_label
from handlers.views.common import money
from handlers.views.common import fields, mention, note, plain
from handlers.views.times import local_time


def _percent(forecast: Forecast, budget: Budget) -> str:
    return f"{forecast.percent_of(budget.amount):,.0f}"


def forecast_text(forecast: Forecast, budget: Budget) -> str:
    """The figures in one sentence: the chart's alt text and the status reply."""
    return t("bill.budget_forecast", month=month_label(forecast.year_month), day=forecast.elapsed,
             spent=money(forecast.spent, forecast.currency), forecast=money(forecast.month_end, forecast.currency),
             percent=_percent(forecast, budget), budget=money(budget.amount, forecast.currency))


def status_text(budget: Budget | None, forecast: Forecast | None, zone: tzinfo, next_check: datetime) -> str:
    if budget is None:
        return t("bill.budget_none")
    when = local_time(next_check, zone)
    amount = money(budget.amount, forecast.currency if forecast else None)
    head = t("bill.budget_status", amount=amount, channel=budget.channel,
             user=mention(budget.set_by), when=when)
    return f"{head}\n{forecast_text(forecast, budget)}" if forecast else head


def set_text(budget: Budget, currency: str) -> str:
    return t("bill.budget_set", user=mention(budget.set_by), amount=money(budget.amount, currency),
             channel=budget.channel)


def warning_text(forecast: Forecast, budget: Budget, level: int) -> str:
    return f"{warning_title(forecast, level)}. {forecast_text(forecast, budget)}"


def warning_title(forecast: Forecast, level: int) -> str:
    key = "bill.budget_warning_over" if level >= 100 else "bill.budget_warning_near"
    return t(key, level=level, month=month_label(forecast.year_month))


def warning_blocks(forecast: Forecast, budget: Budget, level: int) -> list[Block]:
    currency = forecast.currency
    previous = forecast.previous_total
    return [
        HeaderBlock(text=PlainTextObject(text=plain(warning_title(forecast, level)))),
        *fields([
            (t("bill.budget_spent", day=forecast.elapsed), money(forecast.spent, currency)),
            (t("bill.budget_month_end"), money(forecast.month_end, currency)),
            (t("bill.budget_amount"), f"{money(budget.amount, currency)} ({_percent(forecast, budget)} %)"),
            (t("bill.budget_last_month", month=month_label(previous_month(forecast.year_month))),
             money(previous, currency) if previous is not None else t("bill.history_missing")),
        ]),
        note(t("bill.budget_note")),
    ]


def chart_title(forecast: Forecast) -> str:
    return plain(t("bill.budget_chart_title", month=month_label(forecast.year_month)))


def _running(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def forecast_chart(forecast: Forecast, budget: Budget) -> bytes:
    """Bars of the running total so far, the forecast on to month end, last month's running total, the budget."""
    days = forecast.days_in_month
    actual = _running(forecast.daily)
    average = forecast.spent / forecast.elapsed if forecast.elapsed else 0.0
    ahead: list[float | None] = [None] * max(0, forecast.elapsed - 1) + [
        forecast.spent + average * (day - forecast.elapsed) for day in range(max(1, forecast.elapsed), days + 1)]
    before = _running(forecast.previous)
    lines = [Line(plain(t("bill.budget_chart_forecast")), ahead[:days], color=FORECAST, dashed=True)]
    if before:
        lines.append(Line(plain(t("bill.chart_previous", month=month_label(previous_month(forecast.year_month)))),
                          [*before[:days], *[None] * (days - len(before))]))
    return render(Chart(
        title=chart_title(forecast),
        x_label=plain(t("bill.chart_day")),
        y_label=plain(t("bill.chart_amount", currency=forecast.currency)),
        labels=[str(day) for day in range(1, days + 1)],
        bars=actual + [0.0] * (days - len(actual)),
        bar_label=plain(t("bill.budget_chart_actual")),
        lines=lines,
        limit=(plain(t("bill.budget_chart_budget", amount=money(budget.amount, forecast.currency))), budget.amount),
    ))
