"""Replies of /sim diagnose, ping, reconnect and sms: the diagnosis with its next steps, and one-line results."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.messages import Mrkdwn, t, term
from bot.services.devices import Diagnosis, PingResult, SessionRow, Verdict, WentQuiet
from bot.services.sms import Sms
from handlers.views.common import fields, plain, text, traffic
from handlers.views.sim import sim_label
from handlers.views.times import local_time

ACTIVATE_ACTION = "devices_activate"
RECONNECT_ACTION = "devices_reconnect"
PING_ACTION = "devices_ping"
RESTORE_ACTION = "devices_restore_speed"
DIAGNOSE_ACTION = "devices_diagnose"
SMS_ACTION = "devices_sms"
SMS_CALLBACK_ID = "devices_sms_modal"
SMS_BLOCK_ID = "devices_sms_text"
SMS_INPUT_ID = "text"
SPARKS = "▁▂▃▄▅▆▇█"
SEVERITY_ICONS = {"error": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}


def ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds >= 2 * 86400:
        return t("devices.ago_days", days=seconds // 86400)
    if seconds >= 3600:
        return t("devices.ago_hours", hours=seconds // 3600)
    return t("devices.ago_minutes", minutes=seconds // 60)


def sparkline(values: list[int]) -> str:
    """One character per hour, its height relative to the busiest hour; a dot for none at all."""
    top = max(values, default=0)
    if top <= 0:
        return "·" * len(values)
    return "".join("·" if v <= 0 else SPARKS[min(len(SPARKS) - 1, v * len(SPARKS) // (top + 1))] for v in values)


def target_of(diagnosis: Diagnosis) -> str:
    return diagnosis.sim.name or diagnosis.sim.imsi


def diagnosis_text(diagnosis: Diagnosis) -> str:
    return t("devices.title", sim=sim_label(diagnosis.sim.imsi, diagnosis.sim.name))


def _lock(diagnosis: Diagnosis) -> str:
    lock = diagnosis.sim.imei_lock
    if not lock:
        return t("devices.no_lock")
    if diagnosis.imei_matches is None:
        return t("devices.lock_unknown", imei=lock)
    if diagnosis.imei_matches:
        return t("devices.lock_matches", imei=lock)
    return t("devices.lock_mismatch", imei=lock, device=diagnosis.last_imei or "?")


def _online(diagnosis: Diagnosis, now: datetime, zone: ZoneInfo) -> str:
    session = diagnosis.sim.session
    if session is not None and session.online:
        return t("devices.online_yes")
    if diagnosis.offline_since is not None:
        return t("devices.online_since", when=local_time(diagnosis.offline_since, zone),
                 ago=ago(diagnosis.offline_since, now))
    return t("devices.online_no")


def diagnosis_blocks(diagnosis: Diagnosis, now: datetime, zone: ZoneInfo) -> list[Block]:
    sim = diagnosis.sim
    blocks: list[Block] = [text(diagnosis_text(diagnosis))]
    blocks += fields([
        (t("devices.field_status"), term("sim.status", sim.status)),
        (t("devices.field_online"), Mrkdwn(_online(diagnosis, now, zone))),
        (t("devices.field_speed"), sim.speed_class or "—"),
        (t("devices.field_group"), diagnosis.group or t("devices.no_group")),
        (t("devices.field_imei_lock"), Mrkdwn(_lock(diagnosis))),
        (t("devices.field_last_imei"), diagnosis.last_imei or t("devices.unknown")),
    ])
    if diagnosis.unread:
        parts = ", ".join(t(f"devices.part.{part.value}") for part in diagnosis.unread)
        blocks.append(text(t("devices.unread", parts=Mrkdwn(parts))))
    if diagnosis.sessions is not None:
        lines = [_session_line(row, zone) for row in diagnosis.sessions] or [t("devices.sessions_none")]
        blocks.append(text("\n".join([t("devices.sessions_title"), *lines])))
    if diagnosis.history is not None:
        lines = [t("devices.history_line", when=local_time(row.at, zone), status=term("sim.status", row.status),
                   speed=row.speed_class or "—",
                   by=t("devices.history_by", user=row.by) if row.by else "")
                 for row in diagnosis.history] or [t("devices.history_none")]
        blocks.append(text("\n".join([t("devices.history_title"), *lines])))
    if diagnosis.traffic is not None:
        title = t("devices.traffic_title", total=traffic(diagnosis.traffic_total))
        body = f"`{sparkline(diagnosis.traffic)}`" if diagnosis.traffic_total else t("devices.traffic_none")
        since = local_time(diagnosis.traffic_since, zone, short=True)
        blocks.append(text(f"{title}\n{body} ({since}–)"))
    blocks.append(text("\n".join([t("devices.diagnosis_title"), *_insight_lines(diagnosis)])))
    blocks += [DividerBlock(), text("\n".join([t("devices.verdict_title"),
                                               *(_verdict(diagnosis, v, now, zone) for v in diagnosis.verdicts)]))]
    buttons = _buttons(diagnosis)
    if buttons:
        blocks.append(ActionsBlock(block_id="devices_next_steps", elements=buttons))
    return blocks


def _session_line(row: SessionRow, zone: ZoneInfo) -> str:
    place: str
    if row.place is not None:
        place = t("devices.place", url=row.place.map_url, range=row.place.range_m or 0)
    else:
        place = t("devices.place_unknown") if row.cell else ""
    return t("devices.session_line", when=local_time(row.at, zone), event=term("devices.event", row.event),
             rat=row.rat or "", cell=f" · {row.cell}" if row.cell else "", place=Mrkdwn(place))


def _insight_lines(diagnosis: Diagnosis) -> list[str]:
    if diagnosis.state == "pending":
        return [t("devices.diagnosis_pending")]
    if diagnosis.state != "done":
        return [t(f"devices.diagnosis_{diagnosis.state}", target=target_of(diagnosis))]
    lines: list[str] = []
    for insight in diagnosis.insights:
        message: str = term("devices.insight", insight.insight_id)
        if message == insight.insight_id or not insight.insight_id:  # unknown to the catalogue: SORACOM's words
            message = insight.message
        lines.append(t("devices.insight_line", icon=Mrkdwn(SEVERITY_ICONS.get(insight.severity, "•")),
                       message=message))
    return lines


def _verdict(diagnosis: Diagnosis, verdict: Verdict, now: datetime, zone: ZoneInfo) -> str:
    sim, target = diagnosis.sim, target_of(diagnosis)
    if verdict is Verdict.quiet and diagnosis.offline_since is None:
        return t("devices.verdict.quiet_never", target=target)
    return t(f"devices.verdict.{verdict.value}", status=term("sim.status", sim.status), target=target,
             lock=sim.imei_lock or "", imei=diagnosis.last_imei or "", speed=sim.speed_class or "",
             when=local_time(diagnosis.offline_since, zone) if diagnosis.offline_since else "",
             ago=ago(diagnosis.offline_since, now) if diagnosis.offline_since else "")


def _buttons(diagnosis: Diagnosis) -> list[ButtonElement]:
    imsi, verdicts = diagnosis.sim.imsi, diagnosis.verdicts
    buttons = []
    if Verdict.inactive in verdicts:
        buttons.append(ButtonElement(text=plain(t("devices.button_activate")), action_id=ACTIVATE_ACTION,
                                     value=imsi, style="primary"))
    if Verdict.quiet in verdicts or Verdict.offline in verdicts:
        buttons += [ButtonElement(text=plain(t("devices.button_reconnect")), action_id=RECONNECT_ACTION, value=imsi),
                    ButtonElement(text=plain(t("devices.button_ping")), action_id=PING_ACTION, value=imsi),
                    ButtonElement(text=plain(t("devices.button_sms")), action_id=SMS_ACTION, value=imsi)]
    if Verdict.slowed in verdicts:
        buttons.append(ButtonElement(text=plain(t("devices.button_restore")), action_id=RESTORE_ACTION, value=imsi))
    return buttons


# Ping, reconnect, SMS


def ping_text(result: PingResult, imsi: str, name: str) -> str:
    sim = sim_label(imsi, name)
    if result.success:
        rtt = f"{result.rtt_avg_ms:.1f}" if result.rtt_avg_ms is not None else "?"
        return t("devices.ping_ok", sim=sim, received=result.received if result.received is not None else "?",
                 sent=result.sent, loss=result.loss or "?", rtt=rtt)
    return t("devices.ping_failed", sim=sim, sent=result.sent, loss=result.loss or "100%", target=name or imsi)


def reconnected_text(imsi: str, name: str, user: str) -> str:
    return t("devices.reconnected", sim=sim_label(imsi, name), user=user)


def sms_sent_text(sms: Sms, imsi: str, name: str, user: str) -> str:
    return t("devices.sms_sent", sim=sim_label(imsi, name), length=sms.length,
             encoding=t(f"devices.encoding.{sms.encoding}"), user=user)


def sms_modal(imsi: str, channel: str | None) -> View:
    return View(
        type="modal", callback_id=SMS_CALLBACK_ID, private_metadata=f"{imsi}|{channel or ''}",
        title=PlainTextObject(text=plain(t("devices.sms_modal_title"))),
        submit=PlainTextObject(text=plain(t("devices.sms_modal_submit"))),
        close=PlainTextObject(text=plain(t("common.cancel"))),
        blocks=[text(t("devices.sms_modal_intro", imsi=imsi)),
                InputBlock(block_id=SMS_BLOCK_ID, label=PlainTextObject(text=plain(t("devices.sms_modal_label"))),
                           element=PlainTextInputElement(action_id=SMS_INPUT_ID, multiline=True, max_length=300))],
    )


def sms_submission(view: dict[str, Any]) -> tuple[str, str | None, str]:
    """The SIM, the channel the button was pressed in, and the text typed."""
    imsi, _, channel = (view.get("private_metadata") or "").partition("|")
    value = (((view.get("state") or {}).get("values") or {}).get(SMS_BLOCK_ID) or {}).get(SMS_INPUT_ID) or {}
    return imsi, channel or None, value.get("value") or ""


def diagnose_button(imsi: str) -> ButtonElement:
    return ButtonElement(text=plain(t("devices.button_diagnose")), action_id=DIAGNOSE_ACTION, value=imsi)


def went_quiet_blocks(quiet: list[WentQuiet], zone: ZoneInfo) -> list[Block]:
    """Home: SIMs that went offline in the last day, each with Diagnose."""
    if not quiet:
        return []
    blocks: list[Block] = [text(t("devices.home_quiet_title"))]
    for row in quiet[:5]:
        line = t("devices.home_quiet_line", sim=sim_label(row.imsi, row.name), when=local_time(row.since, zone))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line), accessory=diagnose_button(row.imsi)))
    return blocks
