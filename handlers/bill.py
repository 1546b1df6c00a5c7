"""/bill: a month's bill, its CSV export, its daily amounts, and the schedule of the monthly summary."""

from __future__ import annotations

import asyncio

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import scheduler
from bot.config import check_cron
from bot.messages import t
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services import bills
from handlers.common import Request, Subcommand, UserError, parse_channel, register_command
from handlers.views import bill as views

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
    bill = await bills.month_bill(request.rt.soracom, month, _current(request))
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
        await request.reply(status_text(rt, await scheduler.current_schedule(rt)))
        return
    if len(request.args) == 1 and request.args[0].lower() == "off":
        await scheduler.save_schedule(rt, channel=None, cron=None, enabled=False, by=request.user_id)
        await request.audit("bill.schedule", "off", "ok")
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
            await request.audit("bill.schedule", f"{channel} {cron}", "refused", str(exc))
            raise UserError(t("bill.schedule_bad_cron", error=exc)) from None
    saved = await scheduler.save_schedule(rt, channel=channel, cron=cron, enabled=True, by=request.user_id)
    await request.audit("bill.schedule", f"{channel} {saved.cron}", "ok")
    await request.reply(t("bill.schedule_set", user=request.user_id, channel=channel, cron=saved.cron,
                          tz=rt.settings.BOT_TIMEZONE, next=_next_text(rt, saved)))


def status_text(rt: Runtime, current: scheduler.Schedule) -> str:
    source = (t("bill.schedule_source_admin", user=current.set_by) if current.set_by
              else t("bill.schedule_source_config"))
    if not current.active:
        return t("bill.schedule_status_off", source=source)
    return t("bill.schedule_status", channel=current.channel, cron=current.cron, tz=rt.settings.BOT_TIMEZONE,
             source=source, next=_next_text(rt, current))


def _next_text(rt: Runtime, current: scheduler.Schedule) -> str:
    when = scheduler.next_run(rt, current)
    if when is None:
        return ""
    return t("bill.schedule_next", when=when.astimezone(rt.settings.timezone).strftime("%Y-%m-%d %H:%M"))


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
        ],
        usage_id="bill.usage",
        default=Subcommand("show", show),
    )
