"""/bill: a month's bill, its CSV export, its daily amounts, the schedule of the monthly summary, the budget."""

from __future__ import annotations

import asyncio
import functools

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.config import check_cron
from bot.messages import t
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services import bills
from bot.services import budget as budget_service
from bot.services import fleet
from bot.services.budget_check import next_check
from bot.services.schedules import Schedule
from handlers import bill_summary
from handlers.common import Request, Subcommand, UserError, parse_channel, register_command
from handlers.views import bill as views
from handlers.views import budget as budget_views
from handlers.views.common import mention

MAX_ALT_TEXT = 1000  # Slack's limit for a file's alt text


def _current(request: Request) -> str:
    return bills.month_of(request.rt.clock(), request.rt.settings.timezone)


def _month(request: Request, example: str) -> str:
    """The month argument (default: this month), checked before anything is fetched."""
    if len(request.args) > 1:
        raise UserError(t("bill.too_many_args", example=example))
    current = _current(request)
    return bills.parse_month(request.args[0], current) if request.args else current


async def show(request: Request) -> None:
    month = _month(request, "/bill 201908")
    bill = await bills.month_bill(request.rt.soracom, month, _current(request),
                                  known=functools.partial(fleet.names_by_sim_id, request.rt.db))
    await request.reply(views.bill_text(bill), views.bill_blocks(bill))


async def export(request: Request) -> None:
    month = _month(request, "/bill export 201908")
    url = await bills.export_link(request.rt.soracom, month)
    await request.reply(views.export_text(month, url))


async def daily(request: Request) -> None:
    """The chart goes to the channel with its text form as comment; where it cannot, the text comes privately."""
    month = _month(request, "/bill daily 201908")
    amounts, previous = await bills.daily_with_previous(request.rt.soracom, month)
    summary = views.daily_text(amounts)
    if not amounts.days:
        await request.reply(summary)
        return
    comment = f"{summary}\n{t('common.sandbox_marker')}" if request.rt.sandbox else summary
    chart = await asyncio.to_thread(views.daily_chart, amounts, previous)  # drawing takes a core for a moment
    try:
        await request.client.files_upload_v2(
            channel=request.channel_id or request.user_id,
            file=chart,
            filename=f"soracom-daily-{month}.png",
            title=views.daily_title(amounts),
            alt_txt=summary[:MAX_ALT_TEXT],
            initial_comment=comment,
        )
    except SlackApiError as exc:
        await request.reply(f"{t('bill.daily_chart_failed', error=exc.response.get('error'))}\n{summary}")


async def schedule(request: Request) -> None:
    rt = request.rt
    if not request.args:
        await request.reply(status_text(rt, await bill_summary.current_schedule(rt)))
        return
    if len(request.args) == 1 and request.args[0].lower() == "off":
        async with request.audited("bill.schedule", "off"):
            await bill_summary.save_schedule(rt, channel=None, cron=None, enabled=False, by=request.user_id)
        await request.reply(t("bill.schedule_off", user=request.user_id))
        return
    try:
        channel = parse_channel(request.args[0])
    except UserError as exc:
        raise UserError(f"{exc} {t('bill.schedule_usage', tz=rt.settings.BOT_TIMEZONE)}") from None
    cron = " ".join(request.args[1:]) or None
    if cron is not None:
        try:
            check_cron(cron, rt.settings.BOT_TIMEZONE)
        except ValueError as exc:
            raise UserError(t("bill.schedule_bad_cron", error=exc)) from None
    async with request.audited("bill.schedule", " ".join(filter(None, (channel, cron)))) as entry:
        saved = await bill_summary.save_schedule(rt, channel=channel, cron=cron, enabled=True, by=request.user_id)
        entry.target = f"{channel} {saved.cron}"
    await request.reply(t("bill.schedule_set", user=request.user_id, channel=channel, cron=saved.cron,
                          tz=rt.settings.BOT_TIMEZONE, next=_next_text(rt, saved)))


async def budget(request: Request) -> None:
    """`/bill budget` shows it with the forecast now; `AMOUNT [CHANNEL]` sets it; `off` removes it."""
    rt, args = request.rt, request.args
    if not args:
        await request.reply(await _budget_status(rt))
        return
    if len(args) == 1 and args[0].lower() == "off":
        async with request.audited("bill.budget", "off"):
            removed = await budget_service.clear_budget(rt.db)
        await request.reply(t("bill.budget_off", user=mention(request.user_id)) if removed else t("bill.budget_none"))
        return
    if len(args) > 2:
        raise UserError(t("bill.budget_usage"))
    currency = await budget_service.bill_currency(rt.soracom)
    amount = budget_service.parse_amount(args[0], currency)
    try:
        channel = parse_channel(args[1]) if len(args) == 2 else request.channel_id
    except UserError as exc:
        raise UserError(f"{exc} {t('bill.budget_usage')}") from None
    if not channel:
        raise UserError(t("bill.budget_usage"))
    async with request.audited("bill.budget", f"{amount:.2f}".rstrip("0").rstrip(".") + f" {channel}"):
        await budget_service.set_budget(rt.db, amount, channel, request.user_id, rt.clock())
    saved = await budget_service.current_budget(rt.db)
    assert saved is not None
    await request.reply(budget_views.set_text(saved, currency))


async def _budget_status(rt: Runtime) -> str:
    saved = await budget_service.current_budget(rt.db)
    forecast = None
    if saved is not None:
        forecast = await budget_service.month_forecast(rt.soracom, bills.month_of(rt.clock(), rt.settings.timezone))
    return budget_views.status_text(saved, forecast, rt.settings.timezone, next_check(rt.settings.timezone, rt.clock()))


def status_text(rt: Runtime, current: Schedule) -> str:
    source = (t("bill.schedule_source_admin", user=current.set_by) if current.set_by
              else t("bill.schedule_source_config"))
    if not current.active:
        return t("bill.schedule_status_off", source=source)
    return t("bill.schedule_status", channel=current.channel, cron=current.cron, tz=rt.settings.BOT_TIMEZONE,
             source=source, next=_next_text(rt, current))


def _next_text(rt: Runtime, current: Schedule) -> str:
    when = bill_summary.next_run(rt, current)
    if when is None:
        return ""
    return t("bill.schedule_next", when=when.astimezone(rt.settings.timezone).strftime("%Y-%m-%d %H:%M %Z"))


def register(app: AsyncApp, rt: Runtime) -> None:
    register_command(
        app,
        rt,
        "/bill",
        [
            Subcommand("show", show),
            Subcommand("export", export),
            Subcommand("daily", daily),
            Subcommand("schedule", schedule, role=Role.admin, mutating=True),
            Subcommand("budget", budget, role=Role.admin, mutating=True),
        ],
        usage_id="bill.usage",
        default=Subcommand("show", show),
    )
