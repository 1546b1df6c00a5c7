"""The App Home tab: the fleet at a glance, from the snapshot. A pure function of what it is given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.messages import t, unescape
from bot.services.alerts import OpenAlert
from bot.services.audit import AuditEntry
from bot.services.fleet import Snapshot
from handlers.views.bill import month_label
from handlers.views.common import money
from handlers.views.common import fields, mention_channel, note, plain, sandbox_marker, text
from handlers.views.sim import STATUS_ICONS, age_words

REFRESH_ACTION = "home_refresh"
LIST_ACTION = "home_sim_list"
BILL_ACTION = "home_bill"


def age_text(snapshot: Snapshot, now: datetime) -> str:
    age = snapshot.age(now)
    return t("home.never_refreshed") if age is None else age_words(age)


def snapshot_note(snapshot: Snapshot, now: datetime, tz: ZoneInfo) -> str:
    """How old the figures are, when they were read, and whether a refresh is under way."""
    parts = [age_text(snapshot, now)]
    if snapshot.refreshed_at is not None:
        parts.append(t("home.read_at", at=snapshot.refreshed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")))
    if snapshot.refreshing:
        parts.append(t("home.refreshing"))
    elif snapshot.last_error:
        parts.append(t("home.refresh_failed", error=snapshot.last_error))
    return " · ".join(parts)


def _fleet_fields(snapshot: Snapshot) -> list[tuple[str, str]]:
    statuses = "\n".join(f"{STATUS_ICONS.get(status, '')} {status}: {count:,}".strip()
                         for status, count in snapshot.by_status.items()) or "—"
    active = snapshot.by_status.get("active", 0)
    share = f"{snapshot.online * 100 / active:.0f}" if active else "0"
    return [
        (t("home.sims"), f"{snapshot.sim_count:,}"),
        (t("home.by_status"), statuses),
        (t("home.online"), t("home.online_value", online=snapshot.online, active=active, share=share)),
        (t("home.seen_last_hour"), f"{snapshot.seen_last_hour:,}"),
    ]


def _bill_fields(snapshot: Snapshot) -> list[tuple[str, str]]:
    currency = snapshot.currency or "JPY"

    def amount(value: float | None) -> str:
        return money(value, currency) if value is not None else t("home.unknown")

    month = month_label(snapshot.bill_month) if snapshot.bill_month else "—"
    return [
        (t("home.month_to_date", month=month), amount(snapshot.bill_amount)),
        (t("home.forecast"), amount(snapshot.forecast)),
        (t("home.last_month"), amount(snapshot.last_month)),
    ]


def _megabytes(value: int) -> str:
    return f"{value / 1_000_000:,.1f} MB"


def _top_traffic(snapshot: Snapshot) -> str:
    if not snapshot.top_traffic:
        return t("home.top_traffic_none")
    lines = [t("home.top_line", rank=rank, name=row.name or t("sim.unnamed"), imsi=row.imsi,
               traffic=_megabytes(row.bytes)) for rank, row in enumerate(snapshot.top_traffic, 1)]
    return "\n".join(lines)


def _audit_lines(entries: list[AuditEntry], tz: ZoneInfo) -> str:
    if not entries:
        return t("home.audit_none")
    return "\n".join(
        t("home.audit_line", at=e.at.astimezone(tz).strftime("%m-%d %H:%M"), user=e.user_id, action=e.action,
          target=f" `{unescape(e.target)[:80]}`" if e.target else "", result=e.result)
        for e in entries
    )


def _alert_lines(alerts: list[OpenAlert], tz: ZoneInfo) -> str:
    if not alerts:
        return t("home.alerts_none")
    return "\n".join(
        t("home.alert_line", at=a.at.astimezone(tz).strftime("%m-%d %H:%M"), alert=a.alert, imsi=a.imsi,
          where=mention_channel(a.channel_id) if a.channel_id else "")
        for a in alerts
    )


def buttons() -> ActionsBlock:
    return ActionsBlock(block_id="home_buttons", elements=[
        ButtonElement(text=plain(t("home.refresh")), action_id=REFRESH_ACTION, value="refresh", style="primary"),
        ButtonElement(text=plain(t("home.list_sims")), action_id=LIST_ACTION, value="list"),
        ButtonElement(text=plain(t("home.this_month_bill")), action_id=BILL_ACTION, value="bill"),
    ])


def home_view(snapshot: Snapshot, audit: list[AuditEntry], *, now: datetime, tz: ZoneInfo, sandbox: bool,
              own_audit_only: bool, alerts: tuple[list[OpenAlert], int] = ([], 0), notice: str | None = None,
              went_offline: Sequence[Block] = ()) -> View:
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=plain(t("home.title")))),
        note(snapshot_note(snapshot, now, tz) + (f" · {notice}" if notice else "")),
        buttons(),
        DividerBlock(),
        text(t("home.fleet_title")),
        *fields(_fleet_fields(snapshot)),
        text(t("home.bill_title")),
        *fields(_bill_fields(snapshot)),
        text(f"{t('home.top_traffic_title')}\n{_top_traffic(snapshot)}"),
    ]
    if snapshot.top_traffic or snapshot.traffic_read:
        blocks.append(note(t("home.traffic_note", read=snapshot.traffic_read, total=snapshot.sim_count)))
    open_alerts, alert_count = alerts
    blocks += [DividerBlock(), text(f"{t('home.alerts_title', count=alert_count)}\n{_alert_lines(open_alerts, tz)}")]
    if went_offline:
        blocks += [DividerBlock(), *went_offline]
    title = t("home.audit_title_own") if own_audit_only else t("home.audit_title")
    blocks += [DividerBlock(), text(f"{title}\n{_audit_lines(audit, tz)}")]
    if sandbox:
        blocks.append(sandbox_marker())
    return View(type="home", blocks=blocks, callback_id="home")
