"""The fleet snapshot: every SIM as last read from SORACOM, with this month's bill figures, kept in the database.

SORACOM has no count or summary call, so a dashboard that asked it on every open would page through the whole
fleet (100 SIMs a call). The snapshot is refreshed instead, in the background and on request, paging at a bounded
rate; readers (the Home tab, `/sim list`) answer from the database and say how old it is. One refresh runs at a
time across replicas: it holds the lease on the single FleetSnapshot row, renewed page by page, so a refresh whose
process died is taken over once its lease lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, delete, select, update

from bot.services.errors import service
from bot.services import bills
from bot.services.budget import month_forecast
from bot.services.sims import SimRow, group_names, month_traffic
from bot.services.targets import NAME_TAG, Query
from bot.soracom import SoracomClient, SoracomError
from bot.soracom.models import RateWindow, Subscriber
from bot.store import Database, off_loop
from bot.store.tables import FleetSim, FleetSimTag, FleetSnapshot, as_utc

log = logging.getLogger(__name__)

ROW = "fleet"
LEASE = timedelta(minutes=2)  # renewed after every page
FRESH = timedelta(minutes=10)  # younger than this, readers do not ask for a refresh
REFRESH_EVERY = 300.0  # seconds between background refreshes
# The refresh pages as fast as SORACOM answers, within the rate limit SORACOM announces on each answer
# (X-Soracom-Ratelimit-*): it leaves this share of the window to everything else, so other calls meet no 429.
# A pace of its own (pages a second) may be set on top; none by default: 100,000 SIMs are 1,000 sequential calls.
PAGES_PER_SECOND: float | None = None
RATE_RESERVE = 0.1
TAG_LENGTH = 200  # FleetSimTag's key and value columns
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


def _rows_of(sub: Subscriber, generation: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The SIM's row of this generation and its tag rows (those that fit the tag columns)."""
    session = sub.sessionStatus
    seen = session.lastUpdatedAt if session and session.lastUpdatedAt else None
    tags = sub.tags or {}
    imsi = sub.imsi or ""
    sim = {
        "generation": generation, "imsi": imsi, "sim_id": sub.simId or sub.iccid,
        "name": tags.get(NAME_TAG, "")[:200], "status": sub.status or "unknown",
        "online": session.online if session else None,
        "last_seen_at": datetime.fromtimestamp(seen / 1000, timezone.utc) if seen else None,
        "group_id": sub.groupId, "speed_class": sub.speedClass or "", "tags_json": json.dumps(tags),
        "traffic_month": None, "traffic_bytes": None, "traffic_read_at": None,
    }
    return sim, [{"generation": generation, "imsi": imsi, "key": key, "value": value} for key, value in tags.items()
                 if key != NAME_TAG and len(key) <= TAG_LENGTH and len(str(value)) <= TAG_LENGTH]


_INSERTS: dict[tuple[str, str], tuple[str, list[tuple[str, Any]]]] = {}


def _insert_many(session: Session, table: type[FleetSim] | type[FleetSimTag], rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING (a SIM listed twice while the fleet changes) of many rows through the driver's
    executemany: SQLAlchemy's per-row parameter handling was a third of a page's write. Values go through the
    columns' own bind processors (SQLite's datetimes), so what is read back is what the ORM would have written."""
    connection = session.connection()
    dialect = connection.dialect
    key = (dialect.name, table.__tablename__)
    if key not in _INSERTS:
        columns = list(table.__table__.columns)  # type: ignore[union-attr]
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        sql = (f"INSERT INTO {table.__tablename__} ({', '.join(c.name for c in columns)}) "
               f"VALUES ({', '.join(mark for _ in columns)}) ON CONFLICT DO NOTHING")
        _INSERTS[key] = sql, [(c.name, c.type._cached_bind_processor(dialect)) for c in columns]
    sql, processors = _INSERTS[key]
    connection.exec_driver_sql(sql, [tuple(row[name] if process is None or row[name] is None else process(row[name])
                                           for name, process in processors) for row in rows])


@off_loop
def _store_page(db: Database, owner: str, current: str | None, stale: Sequence[str], sims: list[dict[str, Any]],
                tags: list[dict[str, Any]], now: datetime, lease: timedelta = LEASE) -> bool:
    """Writes some pages into the refresh's generation (carrying the SIMs' traffic readings over from the current
    one), drops the rows of the stale generations up to the same IMSI (so the snapshot a refresh replaced goes as
    the next one is written, at no cost of its own), and renews the lease, in one transaction; False, and nothing
    written, when the lease was taken over."""
    with db.session() as session:
        if current is not None and sims:
            carried = {imsi: (month, total, read_at) for imsi, month, total, read_at in session.exec(
                select(FleetSim.imsi, FleetSim.traffic_month, FleetSim.traffic_bytes, FleetSim.traffic_read_at)
                .where(col(FleetSim.generation) == current, col(FleetSim.imsi).in_([row["imsi"] for row in sims]),
                       col(FleetSim.traffic_bytes).is_not(None))).all()}
            for row in sims:
                if (reading := carried.get(row["imsi"])) is not None:
                    row["traffic_month"], row["traffic_bytes"], row["traffic_read_at"] = reading
        if sims:
            _insert_many(session, FleetSim, sims)
            upto = sims[-1]["imsi"]
            for table in (FleetSimTag, FleetSim):
                for generation in stale:
                    session.exec(delete(table).where(col(table.generation) == generation, col(table.imsi) <= upto))
        if tags:
            _insert_many(session, FleetSimTag, tags)
        renewed = session.exec(update(FleetSnapshot)
                               .where(col(FleetSnapshot.name) == ROW, col(FleetSnapshot.lease_owner) == owner)
                               .values(lease_until=now + lease))
        if renewed.rowcount != 1:
            session.rollback()
            return False
        session.commit()
    return True


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
def _begin(db: Database) -> tuple[str | None, list[str]]:
    """The current generation, and the stale ones: the snapshot the last refresh replaced, and what refreshes that
    did not finish left behind (the lease is held: no other refresh writes)."""
    with db.session() as session:
        row = session.get(FleetSnapshot, ROW)
        current = row.generation if row else None
        held = session.exec(select(FleetSim.generation).distinct()).all()
    return current, [generation for generation in held if generation != current]


def _figures(session: Session, generation: str, month: str) -> dict[str, Any]:
    """The counts the Home shows, summed over one generation (once, when its refresh makes it current)."""
    rows = session.connection().execute(
        sa_select(col(FleetSim.status), func.count(),
                  func.sum(case((col(FleetSim.online).is_(True), 1), else_=0)),
                  func.sum(case((col(FleetSim.traffic_month) == month, 1), else_=0)))
        .where(col(FleetSim.generation) == generation).group_by(col(FleetSim.status))).all()
    return {"by_status": {status: int(count) for status, count, _, _ in rows},
            "online": sum(int(online or 0) for _, _, online, _ in rows),
            "traffic_month": month, "traffic_read": sum(int(read or 0) for *_, read in rows)}


@off_loop
def _swap(db: Database, owner: str, generation: str, stale: Sequence[str], now: datetime,
          figures: dict[str, Any]) -> None:
    """Makes the refresh's generation the snapshot and frees the lease, in one transaction, if this owner still
    holds the lease; stale rows past the last IMSI written go too."""
    month = now.astimezone(timezone.utc).strftime("%Y%m")
    with db.session() as session:
        counts = _figures(session, generation, month)
        for table in (FleetSimTag, FleetSim):
            for old in stale:
                session.exec(delete(table).where(col(table.generation) == old))
        swapped = session.exec(update(FleetSnapshot)
                               .where(col(FleetSnapshot.name) == ROW, col(FleetSnapshot.lease_owner) == owner)
                               .values(refreshed_at=now, generation=generation,
                                       sim_count=sum(counts["by_status"].values()), figures_json=json.dumps(counts),
                                       last_error=None, lease_owner=None, lease_until=None, **figures))
        if swapped.rowcount != 1:
            session.rollback()
            raise LeaseLost("the refresh lease was taken over")
        session.commit()


def _delete_generation(session: Session, generation: str) -> None:
    for table in (FleetSimTag, FleetSim):
        session.exec(delete(table).where(col(table.generation) == generation))


@off_loop
def _give_up(db: Database, owner: str, generation: str, error: str) -> None:
    """Drops what a refresh that failed before its swap wrote, and frees its lease: the snapshot stays whole."""
    with db.session() as session:
        _delete_generation(session, generation)
        session.exec(update(FleetSnapshot)
                     .where(col(FleetSnapshot.name) == ROW, col(FleetSnapshot.lease_owner) == owner)
                     .values(lease_owner=None, lease_until=None, last_error=error))
        session.commit()


@off_loop
def _traffic_due(db: Database, generation: str, month: str, limit: int) -> list[str]:
    with db.session() as session:
        return list(session.exec(
            select(FleetSim.imsi)
            .where(col(FleetSim.generation) == generation, col(FleetSim.status).not_in(NO_TRAFFIC))
            .order_by(col(FleetSim.traffic_month) == month, col(FleetSim.traffic_read_at).is_not(None),
                      col(FleetSim.traffic_read_at), col(FleetSim.imsi))
            .limit(limit)
        ).all())


@off_loop
def _store_traffic(db: Database, generation: str, readings: Sequence[tuple[str, int]], month: str,
                   now: datetime) -> None:
    with db.session() as session:
        for imsi, total in readings:
            session.exec(update(FleetSim).where(col(FleetSim.generation) == generation, col(FleetSim.imsi) == imsi)
                         .values(traffic_month=month, traffic_bytes=total, traffic_read_at=now))
        session.commit()


def in_snapshot() -> ColumnElement[bool]:
    """FleetSim rows of the current snapshot (not of a refresh still writing its own generation)."""
    current = select(FleetSnapshot.generation).where(col(FleetSnapshot.name) == ROW).scalar_subquery()
    return col(FleetSim.generation) == current


@service
async def refresh(db: Database, client: SoracomClient, *, owner: str, clock: Callable[[], datetime],
                  zone: Any, pages_per_second: float | None = PAGES_PER_SECOND,
                  traffic_per_refresh: int = TRAFFIC_PER_REFRESH) -> bool:
    """Reads the fleet from SORACOM into the snapshot; False when another refresh holds the lease."""
    if not await take_lease(db, owner, clock()):
        return False
    generation = secrets.token_hex(8)
    try:
        current, stale = await _begin(db)
        await _read_sims(db, client, owner, clock, generation, current, stale, pages_per_second)
        figures = await _bill_figures(client, bills.month_of(clock(), zone))
        await _read_traffic(db, client, clock, generation, traffic_per_refresh)
        await _swap(db, owner, generation, stale, clock(), figures)
    except (SoracomError, LeaseLost) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("fleet snapshot refresh by %s failed: %s", owner, error)
        await _give_up(db, owner, generation, error)  # the snapshot stays as it was, whole
        return False
    except BaseException:
        await _give_up(db, owner, generation, "interrupted")
        raise
    return True  # the snapshot it replaced is dropped while the next refresh writes


class LeaseLost(Exception):
    """Another process took the lease over (this one was too slow): its refresh wins."""


def _pause(rate: RateWindow | None, since: float, now: float, pages_per_second: float | None) -> float:
    """Seconds to wait before the next page: SORACOM's window when this refresh has used all but its reserve of it,
    and the refresh's own pace where one is set."""
    wait = 0.0
    if pages_per_second:
        wait = max(wait, 1 / pages_per_second - (now - since))
    if rate is not None and rate.remaining <= max(1, math.ceil(rate.limit * RATE_RESERVE)):
        wait = max(wait, rate.seconds_before_refresh)
    return wait


STORE_ROWS = 500  # SIMs written in one transaction (five pages): fewer commits, no page held long


async def _read_sims(db: Database, client: SoracomClient, owner: str, clock: Callable[[], datetime],
                     generation: str, current: str | None, stale: Sequence[str],
                     pages_per_second: float | None) -> None:
    """Pages through the fleet in IMSI order, the calls one after the other (each after the previous one's cursor),
    while what was read is written in the background: the refresh takes as long as SORACOM's answers, and holds no
    more than the SIMs of one write and of the page being read."""
    loop = asyncio.get_running_loop()
    writing: asyncio.Future[bool] | None = None
    sims: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []

    async def written() -> None:
        if writing is not None and not await writing:
            raise LeaseLost("the refresh lease was taken over")

    def pause(rate: RateWindow | None, started: float) -> float:
        return _pause(rate, started, loop.time(), pages_per_second)

    pages = client.subscriber_pages(pause=pause)
    try:
        async for page in pages:
            for sub in page.items:
                if sub.imsi:
                    sim, its_tags = _rows_of(sub, generation)
                    sims.append(sim)
                    tags += its_tags
            if len(sims) >= STORE_ROWS:
                await written()  # one write at a time, in IMSI order
                writing = asyncio.ensure_future(_store_page(db, owner, current, stale, sims, tags, clock()))
                sims, tags = [], []
        await written()
        writing = asyncio.ensure_future(_store_page(db, owner, current, stale, sims, tags, clock()))
        await written()
    finally:
        await pages.aclose()  # type: ignore[attr-defined]
        if writing is not None and not writing.done():
            with contextlib.suppress(BaseException):  # let it end before the refresh drops what it wrote
                await asyncio.shield(writing)


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


async def _read_traffic(db: Database, client: SoracomClient, clock: Callable[[], datetime], generation: str,
                        limit: int) -> None:
    now = clock()
    month = now.astimezone(timezone.utc).strftime("%Y%m")  # SORACOM aggregates traffic by UTC month
    due = await _traffic_due(db, generation, month, limit)
    gate = asyncio.Semaphore(TRAFFIC_CONCURRENCY)

    async def one(imsi: str) -> tuple[str, int] | None:
        async with gate:
            traffic = await month_traffic(client, imsi, now)
        return None if traffic is None else (imsi, traffic.upload_bytes + traffic.download_bytes)

    readings = [r for r in await asyncio.gather(*(one(imsi) for imsi in due)) if r is not None]
    await _store_traffic(db, generation, readings, month, now)


def _stored_figures(session: Session, row: FleetSnapshot | None, month: str) -> dict[str, Any]:
    """The snapshot's counts as its refresh summed them (summed now for a snapshot older than that, or of a month
    gone by)."""
    if row is None or row.generation is None:
        return {"by_status": {}, "online": 0, "traffic_read": 0}
    stored = json.loads(row.figures_json) if row.figures_json else None
    if stored is None or stored.get("traffic_month") != month:
        stored = _figures(session, row.generation, month)
    return stored


@off_loop
def read_snapshot(db: Database, now: datetime) -> Snapshot:
    """Everything the Home tab shows, from the database alone: the counts the refresh summed, the SIMs seen in the
    last hour and the top traffic from their indexes."""
    month = now.astimezone(timezone.utc).strftime("%Y%m")
    with db.session() as session:
        row = session.get(FleetSnapshot, ROW)
        current = row.generation if row else None
        figures = _stored_figures(session, row, month)
        seen = session.exec(select(func.count()).select_from(FleetSim)
                            .where(col(FleetSim.generation) == current,
                                   col(FleetSim.last_seen_at) >= now - SEEN_WITHIN)).one()
        top = session.exec(select(FleetSim.imsi, FleetSim.name, FleetSim.traffic_bytes)
                           .where(col(FleetSim.generation) == current, col(FleetSim.traffic_month) == month,
                                  col(FleetSim.traffic_bytes) > 0)
                           .order_by(col(FleetSim.traffic_bytes).desc(), col(FleetSim.imsi)).limit(TOP)).all()
    by_status: dict[str, int] = figures["by_status"]
    lease = as_utc(row.lease_until) if row else None
    return Snapshot(
        refreshed_at=as_utc(row.refreshed_at) if row else None,
        refreshing=lease is not None and lease > now,
        sim_count=sum(by_status.values()),
        by_status=dict(sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
        online=figures["online"], seen_last_hour=seen,
        bill_month=row.bill_month if row else None, currency=row.bill_currency if row else None,
        bill_amount=row.bill_amount if row else None, forecast=row.bill_forecast if row else None,
        last_month=row.bill_last_month if row else None,
        top_traffic=[TrafficRow(imsi, name, int(total or 0)) for imsi, name, total in top],
        traffic_read=figures["traffic_read"], last_error=row.last_error if row else None,
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
    """One page (by IMSI) of the SIMs the query selects and their counts, by SQL on the selectors' indexes; None
    when there is no snapshot, or when a tag is longer than the snapshot indexes (SORACOM is read instead)."""
    if any(len(key) > TAG_LENGTH or len(value) > TAG_LENGTH for key, value in query.tags):
        return None
    with db.session() as session:
        row = session.get(FleetSnapshot, ROW)
        if row is None or row.refreshed_at is None or row.generation is None:
            return None
        conditions: list[ColumnElement[bool]] = [col(FleetSim.generation) == row.generation]
        if query.statuses:
            conditions.append(col(FleetSim.status).in_(query.statuses))
        if query.group_id:
            conditions.append(col(FleetSim.group_id) == query.group_id)
        counting = select(FleetSim.status, func.count()).select_from(FleetSim)
        listing = select(FleetSim)
        for key, value in query.tags:
            if key == NAME_TAG:  # the name is a column of the SIM's own row
                conditions.append(col(FleetSim.name) == value)
                continue
            tag = aliased(FleetSimTag)
            joined = and_(col(tag.generation) == col(FleetSim.generation), col(tag.imsi) == col(FleetSim.imsi),
                          col(tag.key) == key, col(tag.value) == value)
            counting, listing = counting.join(tag, joined), listing.join(tag, joined)
        if query.tags or query.group_id:
            counts = Counter(dict(session.exec(counting.where(*conditions).group_by(FleetSim.status)).all()))
        else:  # the whole fleet, or some statuses of it: as the refresh counted them
            counts = Counter({status: count for status, count in _stored_figures(
                session, row, as_utc(row.refreshed_at).strftime("%Y%m"))["by_status"].items()  # type: ignore[union-attr]
                if not query.statuses or status in query.statuses})
        rows = list(session.exec(listing.where(*conditions).order_by(col(FleetSim.imsi))
                                 .offset(offset).limit(size)).all())
    return FleetPage(dict(counts.most_common()), rows, sum(counts.values()),
                     as_utc(row.refreshed_at))  # type: ignore[arg-type]


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
                            .where(in_snapshot(), col(FleetSim.sim_id).in_(list(sim_ids)))).all()
    return {sim_id: (imsi, name) for sim_id, imsi, name in rows if sim_id}
