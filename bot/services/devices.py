"""The device behind a SIM, in SORACOM words: why it is quiet (`diagnose`), and what can be done from afar (a
downlink ping, ending its session so that it attaches again; an SMS is `sms.py`'s).

A diagnosis reads SORACOM in one concurrent round (session events then their cells' places, status history, the
last 24 hours of traffic, the group's name, and SORACOM's own diagnosis asked for), so the first answer waits for
the slowest read, not their sum. A read that fails leaves its part empty and is named in `unread`; the rest stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import TypeVar

from sqlmodel import col, select

from bot.services.errors import WriteUnconfirmed, service
from bot.services.fleet import in_snapshot
from bot.services.groups import group_name
from bot.services.targets import SimInfo, sim_info
from bot.soracom import SoracomClient, SoracomError
from bot.soracom.models import Cell, SessionEvent
from bot.store import Database, off_loop
from bot.store.tables import AuditEvent, FleetSim, as_utc

log = logging.getLogger(__name__)

T = TypeVar("T")

SESSIONS_READ = 10
SESSIONS_SHOWN = 5
HISTORY_SHOWN = 5
TRAFFIC_HOURS = 24
QUIET_AFTER = timedelta(hours=1)  # offline longer than this, an active SIM's device counts as quiet
SLOW_SPEED_CLASS = "s1.minimum"  # what an alert's *Slow down* sets
RESTORED_SPEED_CLASS = "s1.standard"
READ_BUDGET = 1.2  # seconds one read may take before the first answer goes without it
DIAGNOSIS_POLLS = 8  # getDiagnostic reads before the answer says SORACOM's diagnosis did not finish
DIAGNOSIS_INTERVAL = 1.5  # seconds between them
PING_COUNT, PING_TIMEOUT = 5, 2  # the API allows up to 5 pings of up to 3 s each
# The bot's own lifecycle actions: the audit log says who in Slack made a status change SORACOM records.
STATUS_ACTIONS = ("sim.activate", "sim.standby", "sim.deactivate", "sim.suspend", "sim.terminate", "sim.speed",
                  "sim.group", "sim.ungroup", "alerts.slow-down", "devices.restore-speed", "devices.activate")
AUDIT_MATCH = timedelta(minutes=2)
MAP_URL = "https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=15/{lat:.5f}/{lon:.5f}"


class Part(StrEnum):
    """A part of a diagnosis read on its own: the answer names those that could not be read."""

    sessions = "sessions"
    places = "places"
    history = "history"
    traffic = "traffic"
    group = "group"
    diagnosis = "diagnosis"


class Verdict(StrEnum):
    inactive = "inactive"  # not active: Activate
    terminated = "terminated"  # nothing brings it back
    imei_mismatch = "imei_mismatch"  # locked to another IMEI: explain the lock
    quiet = "quiet"  # active, no session for a while: Reconnect, Ping, Send SMS
    offline = "offline"  # active, offline for less than QUIET_AFTER: it may come back; Ping, Reconnect
    slowed = "slowed"  # at the alert's minimum speed: Restore speed
    healthy = "healthy"


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    range_m: int | None

    @property
    def map_url(self) -> str:
        return MAP_URL.format(lat=self.lat, lon=self.lon)


@dataclass(frozen=True)
class SessionRow:
    at: datetime
    event: str  # Created, Modified, Deleted
    rat: str | None
    cell: str | None  # MCC-MNC TAC ECI (or LAC CI)
    place: Place | None
    imei: str | None


@dataclass(frozen=True)
class StatusRow:
    at: datetime
    status: str
    speed_class: str | None
    by: str | None  # the Slack user who made it through the bot, when the audit log knows


@dataclass(frozen=True)
class Insight:
    insight_id: str
    severity: str
    category: str
    message: str  # SORACOM's own words, for an insight the catalogue does not know


@dataclass(frozen=True)
class Diagnosis:
    sim: SimInfo
    group: str | None
    sessions: list[SessionRow] | None  # newest first; None: could not be read
    history: list[StatusRow] | None  # newest first
    traffic: list[int] | None  # bytes per hour, oldest first, TRAFFIC_HOURS of them
    traffic_since: datetime
    last_imei: str | None
    offline_since: datetime | None
    verdicts: tuple[Verdict, ...]
    unread: tuple[Part, ...]
    diagnostic_id: str | None
    insights: tuple[Insight, ...] = ()
    state: str = "pending"  # SORACOM's diagnosis: pending, done, failed, unfinished, unread

    @property
    def imei_matches(self) -> bool | None:
        if not self.sim.imei_lock or not self.last_imei:
            return None
        return self.sim.imei_lock.split("|")[0] == self.last_imei

    @property
    def traffic_total(self) -> int:
        return sum(self.traffic or [])


async def _read(part: Part, unread: list[Part], read: Callable[[], Awaitable[T]]) -> T | None:
    """One part, within READ_BUDGET seconds; a SORACOM failure or a slow answer leaves it None and names it unread
    (logged, never raised): the first answer does not wait on one slow call."""
    try:
        return await asyncio.wait_for(read(), READ_BUDGET)
    except (SoracomError, TimeoutError) as exc:
        log.warning("diagnosis: %s could not be read: %s", part.value, exc or "too slow")
        unread.append(part)
        return None


def _cell_text(cell: Cell | None) -> str | None:
    if cell is None or cell.mcc is None or cell.mnc is None:
        return None
    if cell.eci is not None:
        return f"{cell.mcc}-{cell.mnc:02d} TAC {cell.tac} ECI {cell.eci}"
    return f"{cell.mcc}-{cell.mnc:02d} LAC {cell.lac} CI {cell.ci}"


def _cell_key(cell: Cell) -> dict[str, str] | None:
    """The cell as a CellIdentifier (strings), LTE first; None when it cannot be looked up."""
    if cell.mcc is None or cell.mnc is None:
        return None
    if cell.eci is not None and cell.tac is not None:
        return {"mcc": str(cell.mcc), "mnc": str(cell.mnc), "tac": str(cell.tac), "ecid": str(cell.eci)}
    if cell.lac is not None and cell.ci is not None:
        return {"mcc": str(cell.mcc), "mnc": str(cell.mnc), "lac": str(cell.lac), "cid": str(cell.ci)}
    return None


def _ms(value: int | None) -> datetime:
    return datetime.fromtimestamp((value or 0) / 1000, timezone.utc)


async def _sessions(client: SoracomClient, imsi: str, unread: list[Part]) -> list[SessionRow] | None:
    page = await _read(Part.sessions, unread, lambda: client.list_session_events(imsi, limit=SESSIONS_READ))
    if page is None:
        return None
    events: list[SessionEvent] = sorted(page.items, key=lambda e: -(e.time or 0))
    keys: dict[str, dict[str, str]] = {}
    for event in events:
        key = _cell_key(event.cell) if event.cell else None
        if key is not None:
            keys["-".join(key.values())] = key
    places: dict[str, Place] = {}
    if keys:
        located = await _read(Part.places, unread, lambda: client.batch_get_cell_locations(
            [{**key, "identifier": name} for name, key in keys.items()]))
        for found in located or []:
            if found.identifier and found.lat is not None and found.lon is not None:
                places[found.identifier] = Place(found.lat, found.lon, found.range)
    rows = []
    for event in events:
        key = _cell_key(event.cell) if event.cell else None
        rows.append(SessionRow(at=_ms(event.time), event=event.event or "?",
                               rat=event.cell.radioType if event.cell else None, cell=_cell_text(event.cell),
                               place=places.get("-".join(key.values())) if key else None, imei=event.imei))
    return rows


@off_loop
def _bot_changes(db: Database, imsi: str, since: datetime) -> list[tuple[datetime, str]]:
    """When the bot changed this SIM, and who asked: (time, Slack user), newest first."""
    query = (select(AuditEvent).where(col(AuditEvent.target) == imsi, col(AuditEvent.result) == "ok",
                                      col(AuditEvent.action).in_(STATUS_ACTIONS), col(AuditEvent.at) >= since)
             .order_by(col(AuditEvent.id).desc()).limit(50))
    with db.session() as session:
        return [(as_utc(row.at), row.slack_user_id) for row in session.exec(query).all()]  # type: ignore[misc]


async def _history(client: SoracomClient, db: Database, sim: SimInfo, unread: list[Part]) -> list[StatusRow] | None:
    sim_id = sim.iccid or sim.imsi
    page = await _read(Part.history, unread,
                       lambda: client.list_sim_status_history(sim_id, sort="desc", limit=HISTORY_SHOWN))
    if page is None:
        return None
    entries = page.items[:HISTORY_SHOWN]
    times = [datetime.fromtimestamp(e.applyDateTimeEpochSec or 0, timezone.utc) for e in entries]
    changes = await _bot_changes(db, sim.imsi, min(times) - AUDIT_MATCH) if times else []
    rows = []
    for entry, at in zip(entries, times):
        by = next((user for when, user in changes if abs(when - at) <= AUDIT_MATCH), None)
        rows.append(StatusRow(at=at, status=entry.status or "?", speed_class=entry.speedClass, by=by))
    return rows


async def _traffic(client: SoracomClient, imsi: str, since: datetime, unread: list[Part]) -> list[int] | None:
    end = since + timedelta(hours=TRAFFIC_HOURS)
    stats = await _read(Part.traffic, unread, lambda: client.get_air_stats(
        imsi, int(since.timestamp()), int(end.timestamp()) - 1, period="minutes"))
    if stats is None:
        return None
    hours = [0] * TRAFFIC_HOURS
    for entry in stats:
        index = ((entry.unixtime or 0) - int(since.timestamp())) // 3600
        if 0 <= index < TRAFFIC_HOURS:
            for traffic in (entry.dataTrafficStatsMap or {}).values():
                hours[index] += (traffic.uploadByteSizeTotal or 0) + (traffic.downloadByteSizeTotal or 0)
    return hours


async def _group(client: SoracomClient, group_id: str | None, unread: list[Part]) -> str | None:
    if not group_id:
        return None
    group = await _read(Part.group, unread, lambda: client.get_group(group_id))
    return group_name(group) if group is not None else group_id


def verdicts_of(sim: SimInfo, last_imei: str | None, offline_since: datetime | None,
                now: datetime) -> tuple[Verdict, ...]:
    if sim.status == "terminated":
        return (Verdict.terminated,)
    found: list[Verdict] = []
    if sim.status != "active":
        found.append(Verdict.inactive)
    elif sim.imei_lock and last_imei and sim.imei_lock.split("|")[0] != last_imei:
        found.append(Verdict.imei_mismatch)  # a reconnect or an SMS cannot help: the lock refuses the device
    online = bool(sim.session and sim.session.online)
    if sim.status == "active" and not online and Verdict.imei_mismatch not in found:
        quiet = offline_since is None or now - offline_since >= QUIET_AFTER
        found.append(Verdict.quiet if quiet else Verdict.offline)
    if sim.speed_class == SLOW_SPEED_CLASS:
        found.append(Verdict.slowed)
    return tuple(found) or (Verdict.healthy,)


@service
async def first_look(client: SoracomClient, db: Database, sim: SimInfo, now: datetime) -> Diagnosis:
    """Everything but SORACOM's diagnosis, which is asked for in the same round (`finish` waits for it)."""
    unread: list[Part] = []
    since = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=TRAFFIC_HOURS - 1)
    sim_id = sim.iccid or sim.imsi
    sessions, history, traffic, group, asked = await asyncio.gather(
        _sessions(client, sim.imsi, unread),
        _history(client, db, sim, unread),
        _traffic(client, sim.imsi, since, unread),
        _group(client, sim.group_id, unread),
        _read(Part.diagnosis, unread, lambda: client.send_diagnostic_request(
            sim_id, int((now - timedelta(hours=TRAFFIC_HOURS)).timestamp() * 1000), int(now.timestamp() * 1000))),
    )
    online = bool(sim.session and sim.session.online)
    ended = next((row.at for row in sessions or [] if row.event == "Deleted"), None)
    if ended is None and not online and sim.session and sim.session.last_seen:
        ended = _ms(sim.session.last_seen)
    last_imei = next((row.imei for row in sessions or [] if row.imei), None) or (
        sim.session.imei if sim.session else None)
    return Diagnosis(
        sim=sim, group=group, sessions=sessions[:SESSIONS_SHOWN] if sessions is not None else None,
        history=history, traffic=traffic, traffic_since=since, last_imei=last_imei,
        offline_since=None if online else ended,
        verdicts=verdicts_of(sim, last_imei, None if online else ended, now),
        unread=tuple(unread), diagnostic_id=asked.diagnosticId if asked else None,
        state="pending" if asked and asked.diagnosticId else "unread")


async def finish(client: SoracomClient, diagnosis: Diagnosis, *, polls: int | None = None,
                 interval: float | None = None) -> Diagnosis:
    """SORACOM's diagnosis, read until done (at most `polls` reads, DIAGNOSIS_POLLS by default): `done` with its
    insights, `failed`, `unfinished` (still diagnosing) or `unread` (SORACOM did not answer)."""
    if diagnosis.diagnostic_id is None:
        return diagnosis
    polls = DIAGNOSIS_POLLS if polls is None else polls
    interval = DIAGNOSIS_INTERVAL if interval is None else interval
    for attempt in range(polls):
        if attempt:
            await asyncio.sleep(interval)
        try:
            found = await client.get_diagnostic(diagnosis.diagnostic_id)
        except SoracomError as exc:
            log.warning("diagnosis %s could not be read: %s", diagnosis.diagnostic_id, exc)
            return replace(diagnosis, state="unread", unread=(*diagnosis.unread, Part.diagnosis))
        if found.status == "done":
            insights = tuple(Insight(i.insightId or "", i.severity or "unknown", i.category or "unknown",
                                     i.message or "") for i in found.insights or [])
            return replace(diagnosis, state="done", insights=insights)
        if found.status == "failed":
            return replace(diagnosis, state="failed")
    return replace(diagnosis, state="unfinished")


# Ping, reconnect


@dataclass(frozen=True)
class PingResult:
    success: bool
    sent: int
    received: int | None
    loss: str | None  # "0%"
    rtt_avg_ms: float | None
    rtt: str  # SORACOM's own line


def _ping_result(success: bool, rtt: str, stat: str, count: int) -> PingResult:
    received, loss, average = None, None, None
    words = stat.replace(",", " ").split()
    if "received" in words:
        position = words.index("received")
        received = int(words[position - 1]) if words[position - 1].isdigit() else None
    loss = next((w for w in words if w.endswith("%")), None)
    if "=" in rtt:
        numbers = rtt.split("=", 1)[1].strip().split()[0].split("/")
        try:
            average = float(numbers[1])
        except (IndexError, ValueError):
            average = None
    return PingResult(success, count, received, loss, average, rtt)


@service
async def ping(client: SoracomClient, imsi: str, count: int = PING_COUNT, timeout: int = PING_TIMEOUT) -> PingResult:
    result = await client.subscriber_downlink_ping_to_user_equipment(imsi, count, timeout)
    return _ping_result(bool(result.success), result.rtt or "", result.stat or "", count)


@service
async def reconnect(client: SoracomClient, imsi: str) -> SimInfo:
    """Ends the SIM's data session: the device attaches again with a new one. Not repeated on an ambiguous
    failure (it would end the new session too): the caller is told it may or may not have happened."""
    try:
        return sim_info(await client.delete_subscriber_session(imsi))
    except SoracomError as exc:
        if exc.ambiguous:
            raise WriteUnconfirmed(imsi, None, exc.message) from None
        raise


# Home: SIMs that went offline in the last day


@dataclass(frozen=True)
class WentQuiet:
    imsi: str
    name: str
    since: datetime


@off_loop
def went_offline(db: Database, now: datetime, within: timedelta = timedelta(days=1),
                 limit: int = 5) -> list[WentQuiet]:
    """Active SIMs of the fleet snapshot whose session ended within `within`, the latest first: no SORACOM call."""
    query = (select(FleetSim).where(in_snapshot(), col(FleetSim.status) == "active", col(FleetSim.online).is_(False),
                                    col(FleetSim.last_seen_at) >= now - within)
             .order_by(col(FleetSim.last_seen_at).desc()).limit(limit))
    with db.session() as session:
        return [WentQuiet(row.imsi, row.name, as_utc(row.last_seen_at))  # type: ignore[arg-type]
                for row in session.exec(query).all()]
