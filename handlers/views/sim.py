"""Replies of /sim: the list with its pages, one SIM in full, change previews, bulk progress and reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.messages import t, term
from bot.services.bulk import BulkResult, Progress
from bot.services.sims import LIFECYCLE, Change, Cursor, Preview, SimDetail, SimRow
from bot.services.targets import SimInfo
from handlers.views.common import MAX_MESSAGE_BLOCKS, MAX_SECTION_TEXT, escape, fields, note, text
from handlers.views.common import traffic as traffic_size
from handlers.views.times import local_time

NEXT_ACTION = "sim_list_next"
PREVIOUS_ACTION = "sim_list_prev"
REFRESH_ACTION = "sim_list_refresh"
MAX_BUTTON_VALUE = 2000
ROWS_PER_SECTION = 10
BAR_WIDTH = 20
STATUS_ICONS = {"active": ":large_green_circle:", "inactive": ":white_circle:", "ready": ":new:",
                "standby": ":double_vertical_bar:", "suspended": ":no_entry:", "terminated": ":x:"}
REPORT_BLOCKS = MAX_MESSAGE_BLOCKS - 5  # room for the title, the sandbox marker and a note


# The list and its pages


@dataclass(frozen=True)
class ListState:
    """Everything a Next/Previous button needs, carried in its value (Slack keeps no state for us)."""

    selector: str
    page: int
    counts: dict[str, int]
    cursors: list[Cursor] = field(default_factory=list)  # start of each page after the first, oldest trimmed

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def cursor(self) -> Cursor:
        return self.cursors[-1] if self.page and self.cursors else Cursor()

    def following(self, cursor: Cursor) -> "ListState":
        return ListState(self.selector, self.page + 1, self.counts, [*self.cursors, cursor])

    def preceding(self) -> "ListState":
        if self.page <= 1 or len(self.cursors) < 2:  # the first page, or its start was trimmed away
            return ListState(self.selector, 0, self.counts)
        return ListState(self.selector, self.page - 1, self.counts, self.cursors[:-1])

    def encode(self) -> str | None:
        """The button value, trimming the oldest cursors to fit; None when even that does not fit."""
        cursors = list(self.cursors)
        while True:
            value = json.dumps({"s": self.selector, "p": self.page, "n": self.counts,
                                "c": [[c.key, c.offset] for c in cursors]}, separators=(",", ":"))
            if len(value) <= MAX_BUTTON_VALUE:
                return value
            if len(cursors) <= 1:
                return None
            cursors.pop(0)

    @classmethod
    def decode(cls, value: str) -> "ListState":
        data = json.loads(value)
        return cls(str(data["s"]), int(data["p"]), {str(k): int(v) for k, v in data["n"].items()},
                   [Cursor(key, int(offset)) for key, offset in data["c"]])


def list_blocks(state: ListState, rows: list[SimRow], next_cursor: Cursor | None, page_size: int) -> list[Block]:
    first = state.page * page_size
    blocks: list[Block] = [text(list_title(state))]
    if not rows:
        return blocks + [text(t("sim.list_empty"))]
    lines = [_row_line(row) for row in rows]
    blocks += [text("\n".join(lines[i : i + ROWS_PER_SECTION])) for i in range(0, len(lines), ROWS_PER_SECTION)]
    blocks.append(note(t("sim.list_range", first=first + 1, last=first + len(rows), total=state.total)))
    buttons = _page_buttons(state, next_cursor if first + len(rows) < state.total else None)
    return blocks + ([buttons] if buttons else [])


def age_words(age: timedelta) -> str:
    """How old a snapshot is, in the unit that reads best."""
    if age < timedelta(minutes=1):
        return t("home.age_seconds", seconds=int(age.total_seconds()))
    if age < timedelta(hours=2):
        return t("home.age_minutes", minutes=int(age.total_seconds() // 60))
    return t("home.age_hours", hours=int(age.total_seconds() // 3600))


def snapshot_blocks(age: timedelta, selector: str) -> list[Block]:
    """Under a listing answered from the snapshot: its age, and a Refresh that reads SORACOM again."""
    return [
        note(f"{age_words(age)} · {t('sim.list_snapshot_hint')}"),
        ActionsBlock(block_id="sim_list_refresh", elements=[
            ButtonElement(text=t("home.refresh"), action_id=REFRESH_ACTION, value=selector[:MAX_BUTTON_VALUE])]),
    ]


def list_title(state: ListState) -> str:
    counts = " · ".join(f"{STATUS_ICONS.get(status, '')} {term('sim.status', status)} *{n}*".strip()
                        for status, n in state.counts.items())
    where = t("sim.list_where", selector=state.selector) if state.selector else ""
    return t("sim.list_title", total=state.total, where=where, counts=counts or "—")


def _row_line(row: SimRow) -> str:
    online = {True: t("sim.online"), False: t("sim.offline"), None: t("sim.no_session")}[row.online]
    return t("sim.list_row", icon=STATUS_ICONS.get(row.status, ":grey_question:"), imsi=row.imsi,
             name=f"*{row.name}*" if row.name else t("sim.unnamed"), status=term("sim.status", row.status),
             online=online, group=row.group or t("sim.no_group"), speed=row.speed_class or "—")


def _page_buttons(state: ListState, next_cursor: Cursor | None) -> ActionsBlock | None:
    elements = []
    if state.page > 0:
        value = state.preceding().encode()
        if value:
            elements.append(ButtonElement(text=t("sim.previous"), action_id=PREVIOUS_ACTION, value=value))
    if next_cursor is not None:
        value = state.following(next_cursor).encode()
        if value:
            elements.append(ButtonElement(text=t("sim.next"), action_id=NEXT_ACTION, value=value))
    return ActionsBlock(block_id="sim_list_pages", elements=elements) if elements else None


# One SIM in full


def detail_blocks(detail: SimDetail, tz: ZoneInfo) -> list[Block]:
    sim = detail.sim
    session = sim.session
    pairs = [
        (t("sim.f_status"), f"{STATUS_ICONS.get(sim.status or '', '')} {term('sim.status', sim.status)}".strip()),
        (t("sim.f_imsi"), f"`{sim.imsi}`"),
        (t("sim.f_iccid"), f"`{sim.iccid}`" if sim.iccid else "—"),
        (t("sim.f_msisdn"), f"`{sim.msisdn}`" if sim.msisdn else "—"),
        (t("sim.f_plan"), sim.plan or "—"),
        (t("sim.f_speed"), sim.speed_class or "—"),
        (t("sim.f_group"), detail.group or t("sim.no_group")),
        (t("sim.f_imei_lock"), f"`{sim.imei_lock}`" if sim.imei_lock else t("sim.off")),
        (t("sim.f_protection"), t("sim.on") if sim.protected else t("sim.off")),
        (t("sim.f_expiry"), _expiry(sim, tz)),
        (t("sim.f_session"), _session(sim, tz)),
        (t("sim.f_session_imei"), f"`{session.imei}`" if session and session.imei else "—"),
        (t("sim.f_location"), _location(sim)),
        (t("sim.f_traffic"), _traffic(detail, tz)),
    ]
    tags = escape(", ".join(f"`{k}={v}`" for k, v in sorted(sim.tags.items())) or "—")
    title = t("sim.show_title", name=sim.name or t("sim.unnamed"), imsi=sim.imsi)
    return [text(title), *fields(pairs), text(f"*{t('sim.f_tags')}*\n{tags}")]


def _when(ms: int | None, tz: ZoneInfo) -> str:
    if not ms:
        return "—"
    return local_time(datetime.fromtimestamp(ms / 1000, timezone.utc), tz)


def _expiry(sim: SimInfo, tz: ZoneInfo) -> str:
    if not sim.expiry_time:
        return t("sim.no_expiry")
    return t("sim.expiry", when=_when(sim.expiry_time, tz), action=sim.expiry_action or "doNothing")


def _session(sim: SimInfo, tz: ZoneInfo) -> str:
    session = sim.session
    if session is None:
        return t("sim.no_session")
    state = t("sim.online") if session.online else t("sim.offline")
    return t("sim.session", state=state, seen=_when(session.last_seen, tz))


def _location(sim: SimInfo) -> str:
    location = sim.session.location if sim.session else None
    if not location or location.get("lat") is None:
        return "—"
    return f"{location['lat']}, {location['lon']}"


def _traffic(detail: SimDetail, tz: ZoneInfo) -> str:
    """SORACOM counts a SIM's month in UTC: its start is shown in the bot's zone, with the zone."""
    traffic = detail.traffic
    if traffic is None:
        return t("sim.no_traffic")
    return t("sim.traffic", up=traffic_size(traffic.upload_bytes), down=traffic_size(traffic.download_bytes),
             since=local_time(traffic.since, tz))


# Changes: what they do, previews, progress and reports


def what(change: Change) -> str:
    """The change in a few words, e.g. "Tag with `site=osaka`"."""
    p = change.params
    return t(f"sim.what.{change.action.value}", tags=_pairs(p.get("tags")), keys=_keys(p.get("keys")),
             group=p.get("group", ""), imei=p.get("imei", ""), speed=p.get("speed_class", ""))


def _pairs(tags: dict[str, str] | None) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in (tags or {}).items())


def _keys(keys: list[str] | None) -> str:
    return ", ".join(f"`{k}`" for k in keys or [])


def sim_label(imsi: str | None, name: str | None) -> str:
    return f"`{imsi}` ({name})" if name else f"`{imsi}`"


def preview_text(preview: Preview, selection: str) -> str:
    return t("sim.preview_title", what=what(preview.change), count=preview.count, selection=selection)


def preview_blocks(preview: Preview, selection: str) -> list[Block]:
    lines = [t("sim.preview_line", sim=sim_label(sim.imsi, sim.name), status=term("sim.status", sim.status))
             for sim in preview.sample]
    if preview.count > len(preview.sample):
        lines.append(t("sim.preview_more", count=preview.count - len(preview.sample)))
    blocks: list[Block] = [text(preview_text(preview, selection)), text("\n".join(lines))]
    cautions = [t(f"sim.caution.{c.value}", count=n, total=preview.count) for c, n in preview.cautions.items()]
    if cautions:
        blocks.append(text("\n".join(cautions)))
    return blocks


def progress_text(change: Change, progress: Progress, user: str) -> str:
    return t("sim.progress", what=what(change), total=progress.total, user=user, done=progress.done,
             failed=progress.failed, left=progress.left, percent=round(progress.fraction * 100))


def progress_blocks(change: Change, progress: Progress, user: str) -> list[Block]:
    filled = round(progress.fraction * BAR_WIDTH)
    bar = "▓" * filled + "░" * (BAR_WIDTH - filled)
    return [
        text(t("sim.progress_title", what=what(change), total=progress.total, user=user)),
        text(t("sim.progress_bar", bar=bar, percent=round(progress.fraction * 100), done=progress.done,
               failed=progress.failed, left=progress.left)),
    ]


def report_text(change: Change, result: BulkResult, user: str) -> str:
    key = "sim.report_ok" if not result.failures else "sim.report_failed"
    return t(key, what=what(change), total=result.total, done=len(result.done), failed=len(result.failures),
             seconds=f"{result.seconds:.1f}", user=user)


def report_blocks(change: Change, result: BulkResult, user: str, names: dict[str, str]) -> list[Block]:
    """The final report: every failed SIM, grouped by reason; sections are filled up to Slack's limits."""
    blocks: list[Block] = [text(report_text(change, result, user))]
    chunks = _failure_chunks(result, names)
    blocks += [text(chunk) for chunk in chunks[:REPORT_BLOCKS]]
    if len(chunks) > REPORT_BLOCKS:
        blocks.append(note(t("sim.report_truncated")))
    return blocks


def report_summary(change: Change, result: BulkResult, user: str, names: dict[str, str]) -> str:
    """The report as one text (the owner's private result, the notification of the channel's report): the failed
    SIMs by reason, as many as one readable message holds."""
    lines = [report_text(change, result, user)]
    for chunk in _failure_chunks(result, names):
        if sum(map(len, lines)) + len(chunk) > MAX_SECTION_TEXT:
            lines.append(t("sim.report_truncated"))
            break
        lines.append(chunk)
    return "\n".join(lines)


def _failure_chunks(result: BulkResult, names: dict[str, str]) -> list[str]:
    by_reason: dict[str, list[str]] = {}
    for failure in result.failures:
        by_reason.setdefault(failure.reason, []).append(escape(sim_label(failure.item, names.get(failure.item))))
    return [chunk for reason, sims in by_reason.items() for chunk in _reason_chunks(reason, sims)]


def _reason_chunks(reason: str, sims: list[str]) -> list[str]:
    """'*reason* (n): sim, sim, …' split into texts that each fit one section."""
    head = t("sim.report_reason", reason=reason[:500], count=len(sims))
    chunks: list[str] = []
    current: str = head
    for sim in sims:
        piece = (", " if current != head else " ") + sim
        if len(current) + len(piece) > MAX_SECTION_TEXT:
            chunks.append(current)
            current, piece = t("sim.report_reason_more"), " " + sim
        current += piece
    return [*chunks, current]


def done_text(change: Change, sim: SimInfo, user: str) -> str:
    """One SIM changed; `sim` as it was before the change."""
    was = t("sim.was", status=term("sim.status", sim.status)) if change.action in LIFECYCLE else ""
    return t("sim.done_one", user=user, what=what(change), sim=sim_label(sim.imsi, sim.name), was=was)


def failed_text(change: Change, sim: SimInfo, reason: str) -> str:
    return t("sim.failed_one", what=what(change), sim=sim_label(sim.imsi, sim.name), reason=reason)
