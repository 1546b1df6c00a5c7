"""The fleet snapshot: every SIM as last read from SORACOM, with this month's bill figures, kept in the database.

SORACOM has no count or summary call, so a dashboard that asked it on every open would page through the whole
fleet (100 SIMs a call). The snapshot is refreshed instead, in the background and on request, paging at a bounded
rate; readers (the Home tab, `/sim list`) answer from the database and say how old it is. One refresh runs at a
time across replicas: it holds the lease on the single FleetSnapshot row, renewed page by page, so a refresh whose
process died is taken over once its lease lapses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select, update

from bot.services.errors import service
from bot.services import bills
from bot.services.budget import month_forecast
from bot.services.sims import SimRow, group_names, month_traffic
from bot.services.targets import NAME_TAG, Query
from bot.soracom import SoracomClient, SoracomError
from bot.soracom.client import MAX_PAGE_SIZE
from bot.soracom.models import Subscriber
from bot.store import Database, off_loop
from bot.store.tables import FleetSim, FleetSnapshot, as_utc

log = logging.getLogger(__name__)

ROW = "fleet"
LEASE = timedelta(minutes=2)  # renewed after every page
FRESH = timedelta(minutes=10)  # younger than this, readers do not ask for a refresh
REFRESH_EVERY = 300.0  # seconds between background refreshes
PAGES_PER_SECOND = 10.0  # SORACOM reads of the refresh, at most
TRAFFIC_PER_REFRESH = 100  # SIMs whose month traffic one refresh reads (the least recently read first)
TRAFFIC_CONCURRENCY = 4
SEEN_WITHIN = timedelta(hours=1)
TOP = 5
NO_TRAFFIC = ("terminated", "ready")  # SORACOM has no traffic to give for these


@dataclass(frozen=True)
class TrafficRow:
    imsi: str
    name: str
    bytes: int


@dataclass(frozen=True)
class Snapshot:
    refreshed_at: datetime | None  # None: never refreshed
    refreshing: bool  # a refresh holds the lease now
    sim_count: int
    by_status: dict[str, int]
    online: int
    seen_last_hour: int
    bill_month: str | None
    currency: str | None
    bill_amount: float | None
    forecast: float | None
    last_month: float | None
    top_traffic: list[TrafficRow]
    traffic_read: int  # SIMs whose traffic of this month the snapshot has
    last_error: str | None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.refreshed_at is None else max(timedelta(0), now - self.refreshed_at)

    def fresh(self, now: datetime, within: timedelta = FRESH) -> bool:
        age = self.age(now)
        return age is not None and age < within


# A Refresh reads the whole fleet from SORACOM (one call per 100 SIMs): not again while the snapshot is this young,
# whoever asks, nor twice by one user within the longer span.
REFRESH_COOLDOWN = timedelta(seconds=60)
USER_REFRESH_COOLDOWN = timedelta(minutes=5)


def refresh_wait(snapshot: Snapshot, last_by_user: datetime | None, now: datetime) -> timedelta:
    """How long until a Refresh may read SORACOM again (zero: now). A running refresh is joined, not waited out."""
    waits = [timedelta(0)]
    age = snapshot.age(now)
    if age is not None and not snapshot.refreshing:
        waits.append(REFRESH_COOLDOWN - age)
    if last_by_user is not None:
        waits.append(USER_REFRESH_COOLDOWN - (now - last_by_user))
    return max(waits)


def _row_of(sub: Subscriber, generation: str) -> dict[str, Any]:
    session = sub.sessionStatus
    seen = session.lastUpdatedAt if session and session.lastUpdatedAt else None
    return {
        "imsi": sub.imsi or "", "sim_id": sub.simId or sub.iccid, "name": (sub.tags or {}).get(NAME_TAG, "")[:200],
        "status": sub.status or "unknown",
        "online": session.online if session else None,
        "last_seen_at": datetime.fromtimestamp(seen / 1000, timezone.utc) if seen else None,
        "group_id": sub.groupId, "speed_class": sub.speedClass or "", "tags_json": json.dumps(sub.tags or {}),
        "generation": generation,
    }


LISTED = ("sim_id", "name", "status", "online", "last_seen_at", "group_id", "speed_class", "tags_json", "generation")


@off_loop
def _store_page(db: Database, rows: list[dict[str, Any]]) -> None:
    """Upserts the SIMs of one page; their traffic readings stay."""
    if not rows:
        return
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(FleetSim).values(rows)
    statement = statement.on_conflict_do_update(index_elements=["imsi"],
                                                set_={name: statement.excluded[name] for name in LISTED})
    with db.session() as session:
        session.exec(statement)
        session.commit()


@off_loop
def take_lease(db: Database, owner: str, now: datetime, lease: timedelta = LEASE) -> bool:
    """True when this owner now holds the refresh lease (it was free or lapsed)."""
    try:
        with db.session() as session:
            if session.get(FleetSnapshot, ROW) is None:
                session.add(FleetSnapshot(name=ROW))
                session.commit()
    except IntegrityError:  # another process made the row first
        pass
    with db.session() as session:
        result = session.exec(
            update(FleetSnapshot)
            .where(col(FleetSnapshot.name) == ROW,
                   or_(col(FleetSnapshot.lease_until).is_(None), col(FleetSnapshot.lease_until) < now))
            .values(lease_owner=owner, lease_until=now + lease)
        )
        session.commit()
    return result.rowcount == 1


@off_loop
def _renew(db: Database, owner: str, now: datetime, lease: timedelta = LEASE) -> bool:
    with db.session() as session:
        result = session.exec(update(FleetSnapshot)
                              .where(col(FleetSnapshot.name) == ROW, col(FleetSnapshot.lease_owner) == owner)
                              .values(lease_until=now + lease))
        session.commit()
    return result.rowcount == 1


@off_loop
def _finish(db: Database, owner: str, generation: str | None, now: datetime, figures: dict[str, Any],
            error: str | None) -> None:
    """Ends the refresh: a complete one drops the SIMs it did not see and becomes the snapshot; the lease is freed."""
    with db.session() as session:
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error}
        if generation is not None:
            session.exec(delete(FleetSim).where(col(FleetSim.generation) != generation))
            count = session.exec(select(func.count()).select_from(FleetSim)).one()
            values |= {"refreshed_at": now, "generation": generation, "sim_count": count, **figures}
        session.exec(update(FleetSnapshot)
                     .where(col(FleetSnapshot.name) == ROW, col(FleetSnapshot.lease_owner) == owner)
                     .values(**values))
        session.commit()


@off_loop
def _traffic_due(db: Database, month: str, limit: int) -> list[str]:
    with db.session() as session:
        return list(session.exec(
            select(FleetSim.imsi)
            .where(col(FleetSim.status).not_in(NO_TRAFFIC))
            .order_by(col(FleetSim.traffic_month) == month, col(FleetSim.traffic_read_at).is_not(None),
                      col(FleetSim.traffic_read_at), col(FleetSim.imsi))
            .limit(limit)
        ).all())


@off_loop
def _store_traffic(db: Database, readings: Sequence[tuple[str, int]], month: str, now: datetime) -> None:
    with db.session() as session:
        for imsi, total in readings:
            session.exec(update(FleetSim).where(col(FleetSim.imsi) == imsi)
                         .values(traffic_month=month, traffic_bytes=total, traffic_read_at=now))
        session.commit()


@service
async def refresh(db: Database, client: SoracomClient, *, owner: str, clock: Callable[[], datetime],
                  zone: Any, pages_per_second: float = PAGES_PER_SECOND,
                  traffic_per_refresh: int = TRAFFIC_PER_REFRESH) -> bool:
    """Reads the fleet from SORACOM into the snapshot; False when another refresh holds the lease."""
    if not await take_lease(db, owner, clock()):
        return False
    generation = secrets.token_hex(8)
    error: str | None = None
    figures: dict[str, Any] = {}
    try:
        await _read_sims(db, client, owner, clock, generation, pages_per_second)
        figures = await _bill_figures(client, bills.month_of(clock(), zone))
        await _read_traffic(db, client, clock, traffic_per_refresh)
    except (SoracomError, LeaseLost) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("fleet snapshot refresh by %s failed: %s", owner, error)
    except BaseException:
        await _finish(db, owner, None, clock(), {}, "interrupted")
        raise
    await _finish(db, owner, None if error else generation, clock(), figures, error)  # a failed one is no snapshot
    return error is None


class LeaseLost(Exception):
    """Another process took the lease over (this one was too slow): its refresh wins."""


async def _read_sims(db: Database, client: SoracomClient, owner: str, clock: Callable[[], datetime],
                     generation: str, pages_per_second: float) -> None:
    key: str | None = None
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        page = await client.list_subscribers(limit=MAX_PAGE_SIZE, last_evaluated_key=key)
        await _store_page(db, [_row_of(sub, generation) for sub in page.items if sub.imsi])
        if not await _renew(db, owner, clock()):
            raise LeaseLost("the refresh lease was taken over")
        if not page.next_key or page.next_key == key:
            return
        key = page.next_key
        await asyncio.sleep(max(0.0, 1 / pages_per_second - (loop.time() - started)))


async def _bill_figures(client: SoracomClient, month: str) -> dict[str, Any]:
    """Month to date, the month-end forecast and last month; left out (None) where SORACOM has none."""
    figures: dict[str, Any] = {"bill_month": month}
    try:
        forecast = await month_forecast(client, month)
        figures |= {"bill_currency": forecast.currency, "bill_amount": forecast.spent,
                    "bill_forecast": forecast.month_end}
    except Exception as exc:  # noqa: BLE001 - the fleet is still worth showing without its bill
        log.info("no bill figures for the snapshot: %s", exc)
    try:
        figures["bill_last_month"] = (await client.get_billing(bills.previous_month(month))).amount
    except SoracomError:
        figures["bill_last_month"] = None
    return figures


async def _read_traffic(db: Database, client: SoracomClient, clock: Callable[[], datetime], limit: int) -> None:
    now = clock()
    month = now.astimezone(timezone.utc).strftime("%Y%m")  # SORACOM aggregates traffic by UTC month
    due = await _traffic_due(db, month, limit)
    gate = asyncio.Semaphore(TRAFFIC_CONCURRENCY)

    async def one(imsi: str) -> tuple[str, int] | None:
        async with gate:
            traffic = await month_traffic(client, imsi, now)
        return None if traffic is None else (imsi, traffic.upload_bytes + traffic.download_bytes)

    readings = [r for r in await asyncio.gather(*(one(imsi) for imsi in due)) if r is not None]
    await _store_traffic(db, readings, month, now)


@off_loop
def read_snapshot(db: Database, now: datetime) -> Snapshot:
    """Everything the Home tab shows, from the database alone."""
    with db.session() as session:
        row = session.get(FleetSnapshot, ROW)
        by_status = dict(session.exec(select(FleetSim.status, func.count()).group_by(FleetSim.status)).all())
        online = session.exec(select(func.count()).select_from(FleetSim).where(col(FleetSim.online).is_(True))).one()
        seen = session.exec(select(func.count()).select_from(FleetSim)
                            .where(col(FleetSim.last_seen_at) >= now - SEEN_WITHIN)).one()
        month = now.astimezone(timezone.utc).strftime("%Y%m")
        top = session.exec(select(FleetSim.imsi, FleetSim.name, FleetSim.traffic_bytes)
                           .where(col(FleetSim.traffic_month) == month, col(FleetSim.traffic_bytes) > 0)
                           .order_by(col(FleetSim.traffic_bytes).desc(), col(FleetSim.imsi)).limit(TOP)).all()
        read = session.exec(select(func.count()).select_from(FleetSim)
                            .where(col(FleetSim.traffic_month) == month)).one()
    lease = as_utc(row.lease_until) if row else None
    return Snapshot(
        refreshed_at=as_utc(row.refreshed_at) if row else None,
        refreshing=lease is not None and lease > now,
        sim_count=sum(by_status.values()),
        by_status=dict(sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
        online=online, seen_last_hour=seen,
        bill_month=row.bill_month if row else None, currency=row.bill_currency if row else None,
        bill_amount=row.bill_amount if row else None, forecast=row.bill_forecast if row else None,
        last_month=row.bill_last_month if row else None,
        top_traffic=[TrafficRow(imsi, name, int(total or 0)) for imsi, name, total in top],
        traffic_read=read, last_error=row.last_error if row else None,
    )


class FleetRefresher:
    """Refreshes the snapshot every `every` seconds in the background (skipping while another process does)."""

    def __init__(self, db: Database, client: SoracomClient, *, owner: str, clock: Callable[[], datetime],
                 zone: Any, every: float = REFRESH_EVERY, **options: Any) -> None:
        self.db, self.client, self.owner, self.clock, self.zone = db, client, owner, clock, zone
        self.every, self.options = every, options
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop(), name=f"fleet-refresh:{self.owner}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def _loop(self) -> None:
        while True:
            try:
                snapshot = await read_snapshot(self.db, self.clock())
                if not snapshot.fresh(self.clock(), timedelta(seconds=self.every)):
                    await refresh(self.db, self.client, owner=self.owner, clock=self.clock, zone=self.zone,
                                  **self.options)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("background fleet refresh failed")
            await asyncio.sleep(self.every)


# `/sim list` from the snapshot


@dataclass(frozen=True)
class FleetPage:
    counts: dict[str, int]  # by status, of every SIM the query selects
    rows: list[FleetSim]
    total: int
    refreshed_at: datetime


@off_loop
def snapshot_page(db: Database, query: Query, offset: int, size: int) -> FleetPage | None:
    """One page (by IMSI) of the SIMs the query selects and their counts; None when there is no snapshot.
    Status and group are filtered by the database; tags here (their JSON differs between SQLite and PostgreSQL),
    on the three columns that takes."""
    conditions: list[ColumnElement[bool]] = []
    if query.statuses:
        conditions.append(col(FleetSim.status).in_(query.statuses))
    if query.group_id:
        conditions.append(col(FleetSim.group_id) == query.group_id)
    with db.session() as session:
        row = session.get(FleetSnapshot, ROW)
        if row is None or row.refreshed_at is None:
            return None
        if query.tags:
            selected = [(imsi, status) for imsi, status, tags in session.exec(
                select(FleetSim.imsi, FleetSim.status, FleetSim.tags_json).where(*conditions)
                .order_by(col(FleetSim.imsi))).all() if _has_tags(tags, query.tags)]
            counts = Counter(status for _, status in selected)
            wanted = [imsi for imsi, _ in selected[offset : offset + size]]
            rows = list(session.exec(select(FleetSim).where(col(FleetSim.imsi).in_(wanted))
                                     .order_by(col(FleetSim.imsi))).all())
        else:
            counts = Counter(dict(session.exec(select(FleetSim.status, func.count()).where(*conditions)
                                               .group_by(FleetSim.status)).all()))
            rows = list(session.exec(select(FleetSim).where(*conditions).order_by(col(FleetSim.imsi))
                                     .offset(offset).limit(size)).all())
    return FleetPage(dict(counts.most_common()), rows, sum(counts.values()),
                     as_utc(row.refreshed_at))  # type: ignore[arg-type]


def _has_tags(tags_json: str, tags: tuple[tuple[str, str], ...]) -> bool:
    held = json.loads(tags_json or "{}")
    return all(held.get(key) == value for key, value in tags)


@service
async def page_rows(client: SoracomClient, sims: list[FleetSim]) -> list[SimRow]:
    """The listing's rows; group names are read from SORACOM (one call) only when a SIM of the page has a group."""
    names = await group_names(client) if any(sim.group_id for sim in sims) else {}
    return [SimRow(imsi=sim.imsi, name=sim.name, status=sim.status, online=sim.online,
                   group=names.get(sim.group_id, sim.group_id) if sim.group_id else None,
                   speed_class=sim.speed_class) for sim in sims]


@off_loop
def names_by_sim_id(db: Database, sim_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(IMSI, name) of the SIMs the snapshot knows among these SIM IDs (the billing API's names for SIMs)."""
    with db.session() as session:
        rows = session.exec(select(FleetSim.sim_id, FleetSim.imsi, FleetSim.name)
                            .where(col(FleetSim.sim_id).in_(list(sim_ids)))).all()
    return {sim_id: (imsi, name) for sim_id, imsi, name in rows if sim_id}
