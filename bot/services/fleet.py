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

from sqlalchemy import ColumnElement, Connection, Dialect, Table, and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, delete, select, update

from bot.services.errors import service
from bot.services import bills
from bot.services.budget import month_forecast
from bot.services.sims import SimRow, group_names, month_traffic
from bot.services.targets import NAME_TAG, Query
from bot.soracom import SoracomClient, SoracomError
from bot.soracom.models import RateWindow
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


# The columns a refresh writes, in the order of the rows it builds (the table's own order is no matter).
_SIM_COLUMNS = ("generation", "imsi", "sim_id", "name", "status", "online", "last_seen_at", "group_id", "speed_class",
                "tags_json", "traffic_month", "traffic_bytes", "traffic_read_at")
_TAG_COLUMNS = ("generation", "imsi", "key", "value")
_SIMS: Table = FleetSim.__table__  # type: ignore[attr-defined]
_TAGS: Table = FleetSimTag.__table__  # type: ignore[attr-defined]
_HELD = _SIMS.alias("held")
_tags_json = json.JSONEncoder().encode  # json.dumps' own encoder, without its per-call look at the options


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _plain_tags(tags: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if type(value) is str}


class _Rows:
    """The rows of some pages of SIMs, built from SORACOM's JSON as each page comes in and written together: the
    SIMs' in _SIM_COLUMNS order, their tags' (but the name, a column of the SIM's) in _TAG_COLUMNS order, the
    values already as the columns' bind processors make them for this database, so that the driver takes them as
    they are. Each SIM is read as untrusted JSON: a field of another type than SORACOM's counts as missing (a tag
    that is not text is left out), a SIM without an IMSI is skipped."""

    def __init__(self, generation: str, dialect: Dialect) -> None:
        self.generation = generation
        columns = _SIMS.columns
        self._online: Callable[[Any], Any] = (columns["online"].type._cached_bind_processor(dialect)
                                              or (lambda online: online))
        self._when: Callable[[Any], Any] = (columns["last_seen_at"].type._cached_bind_processor(dialect)
                                            or (lambda when: when))
        self.sims: list[tuple[Any, ...]] = []
        self.tags: list[tuple[str, str, str, str]] = []

    def __len__(self) -> int:
        return len(self.sims)

    def add(self, items: list[Any]) -> None:
        generation, sims, tag_rows = self.generation, self.sims, self.tags
        for item in items:
            if type(item) is not dict or type(imsi := item.get("imsi")) is not str or not imsi:
                continue
            tags = item.get("tags")
            if type(tags) is not dict:
                tags = {}
            elif not all(type(value) is str for value in tags.values()):
                tags = _plain_tags(tags)
            for key, value in tags.items():
                if key != NAME_TAG and len(key) <= TAG_LENGTH and len(value) <= TAG_LENGTH:
                    tag_rows.append((generation, imsi, key, value))
            online = seen = None
            if type(session := item.get("sessionStatus")) is dict:
                online = self._online(online) if type(online := session.get("online")) is bool else None
                seen = self._seen(session.get("lastUpdatedAt"))
            sims.append((generation, imsi, _text(item.get("simId")) or _text(item.get("iccid")),
                         tags.get(NAME_TAG, "")[:200], _text(item.get("status")) or "unknown", online, seen,
                         _text(item.get("groupId")), _text(item.get("speedClass")) or "", _tags_json(tags),
                         None, None, None))

    def _seen(self, epoch_ms: Any) -> Any:
        """SORACOM's lastUpdatedAt (milliseconds since the epoch) as the column takes it."""
        if type(epoch_ms) not in (int, float) or not epoch_ms:
            return None
        try:
            return self._when(datetime.fromtimestamp(epoch_ms / 1000, timezone.utc))
        except (OverflowError, OSError, ValueError):
            return None


def _insert(connection: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING (a SIM listed twice while the fleet changes) of many rows at once, the values
    as the driver takes them: SQLite's executemany steps through the rows in C; psycopg's handles each row in
    Python (most of a page's write), so PostgreSQL is sent one statement of column arrays instead."""
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(f"%b::{table.c[name].type.compile(dialect=connection.dialect)}[]" for name in columns)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) "
                                   "ON CONFLICT DO NOTHING", tuple(list(values) for values in zip(*rows)))
        return
    marks = ", ".join("?" if connection.dialect.paramstyle == "qmark" else "%s" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows)


def _carry_traffic(generation: str, current: str, first: str, last: str) -> Any:
    """The traffic readings of the current snapshot's SIMs copied onto the same SIMs just written to the
    refresh's generation (IMSIs first…last), by the database in one statement."""
    return (sa_update(_SIMS)  # the range on both sides: each is read by its primary key, whatever the planner's
            .where(_SIMS.c.generation == generation, _SIMS.c.imsi >= first, _SIMS.c.imsi <= last,  # estimates
                   _HELD.c.generation == current, _HELD.c.imsi >= first, _HELD.c.imsi <= last,
                   _HELD.c.imsi == _SIMS.c.imsi, _HELD.c.traffic_bytes.is_not(None))
            .values(traffic_month=_HELD.c.traffic_month, traffic_bytes=_HELD.c.traffic_bytes,
                    traffic_read_at=_HELD.c.traffic_read_at))


@off_loop
def _store_page(db: Database, owner: str, current: str | None, stale: Sequence[str], rows: _Rows, now: datetime,
                lease: timedelta = LEASE) -> bool:
    """Writes some pages into the refresh's generation (carrying the SIMs' traffic readings over from the current
    one), drops the rows of the stale generations up to the same IMSI (so the snapshot a refresh replaced goes as
    the next one is written, at no cost of its own), and renews the lease, in one transaction; False, and nothing
    written, when the lease was taken over."""
    with db.session() as session:
        if rows.sims:
            connection = session.connection()
            _insert(connection, _SIMS, _SIM_COLUMNS, rows.sims)
            first, last = min(row[1] for row in rows.sims), max(row[1] for row in rows.sims)
            if current is not None:
                connection.execute(_carry_traffic(rows.generation, current, first, last))
            for table in (FleetSimTag, FleetSim):
                for generation in stale:
                    session.exec(delete(table).where(col(table.generation) == generation, col(table.imsi) <= last))
            if rows.tags:
                _insert(connection, _TAGS, _TAG_COLUMNS, rows.tags)
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


def _delete_generation(session: Session, generation: str) -> None:
    for table in (FleetSimTag, FleetSim):
        session.exec(delete(table).where(col(table.generation) == generation))


@off_loop
def _swap(db: Database, owner: str, generation: str, stale: Sequence[str], now: datetime,
          figures: dict[str, Any]) -> None:
    """Makes the refresh's generation the snapshot and frees the lease, in one transaction, if this owner still
    holds the lease; stale rows past the last IMSI written go too."""
    with db.session() as session:
        counts = _figures(session, generation, _traffic_month(now))
        for old in stale:
            _delete_generation(session, old)
        swapped = session.exec(update(FleetSnapshot)
                               .where(col(FleetSnapshot.name) == ROW, col(FleetSnapshot.lease_owner) == owner)
                               .values(refreshed_at=now, generation=generation,
                                       sim_count=sum(counts["by_status"].values()), figures_json=json.dumps(counts),
                                       last_error=None, lease_owner=None, lease_until=None, **figures))
        if swapped.rowcount != 1:
            session.rollback()
            raise LeaseLost("the refresh lease was taken over")
        session.commit()


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
    """Not read this month first, never read first among them, then the oldest readings. (A comparison with a
    NULL month is NULL, which PostgreSQL sorts after true, SQLite before: the case makes it false on both.)"""
    with db.session() as session:
        return list(session.exec(
            select(FleetSim.imsi)
            .where(col(FleetSim.generation) == generation, col(FleetSim.status).not_in(NO_TRAFFIC))
            .order_by(case((col(FleetSim.traffic_month) == month, 1), else_=0),
                      col(FleetSim.traffic_read_at).is_not(None), col(FleetSim.traffic_read_at), col(FleetSim.imsi))
            .limit(limit)
        ).all())


@off_loop
def _store_traffic(db: Database, generation: str, readings: Sequence[tuple[str, int]], now: datetime) -> None:
    month = _traffic_month(now)
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
    """Reads the fleet from SORACOM into the snapshot; False when another refresh holds the lease.

    The bill figures and the traffic readings are read while the fleet is paged (they take calls of their own, not
    pages): the refresh takes as long as the paging. The SIMs whose traffic is read are the current snapshot's
    least recently read (on the first refresh, the first SIMs written), stored into the new generation once it is
    all written."""
    if not await take_lease(db, owner, clock()):
        return False
    generation, now = secrets.token_hex(8), clock()
    beside: list[asyncio.Future[Any]] = []
    try:
        current, stale = await _begin(db)
        written = asyncio.Event()
        figures = asyncio.ensure_future(_bill_figures(client, bills.month_of(now, zone)))
        traffic = asyncio.ensure_future(_read_traffic(db, client, now, current or generation, traffic_per_refresh,
                                                      after=None if current else written))
        beside += [figures, traffic]
        await _read_sims(db, client, owner, clock, generation, current, stale, pages_per_second, written)
        await _store_traffic(db, generation, await traffic, now)
        await _swap(db, owner, generation, stale, clock(), await figures)
    except (SoracomError, LeaseLost) as exc:
        await _cancel(beside)
        error = f"{type(exc).__name__}: {exc}"
        log.warning("fleet snapshot refresh by %s failed: %s", owner, error)
        await _give_up(db, owner, generation, error)  # the snapshot stays as it was, whole
        return False
    except BaseException:
        await _cancel(beside)
        await _give_up(db, owner, generation, "interrupted")
        raise
    return True  # the snapshot it replaced is dropped while the next refresh writes


async def _cancel(futures: Sequence[asyncio.Future[Any]]) -> None:
    for future in futures:
        if not future.done():
            future.cancel()
        with contextlib.suppress(BaseException):
            await future


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
                     pages_per_second: float | None, written: asyncio.Event) -> None:
    """Pages through the fleet in IMSI order, the calls one after the other (each after the previous one's cursor),
    while what was read is written in the background: the refresh takes as long as SORACOM's answers, and holds no
    more than the SIMs of one write and of the page being read. `written` is set once rows are in the database."""
    loop = asyncio.get_running_loop()
    dialect = db.engine.dialect
    writing: asyncio.Future[bool] | None = None
    rows = _Rows(generation, dialect)

    async def store(rows: _Rows) -> bool:
        if stored := await _store_page(db, owner, current, stale, rows, clock()):
            written.set()
        return stored

    async def wrote() -> None:
        if writing is not None and not await writing:
            raise LeaseLost("the refresh lease was taken over")

    def pause(rate: RateWindow | None, started: float) -> float:
        return _pause(rate, started, loop.time(), pages_per_second)

    pages = client.subscriber_pages(pause=pause)
    try:
        async for page in pages:  # the next page's call is on its way already
            rows.add(page.items)
            if len(rows) >= STORE_ROWS:
                await wrote()  # one write at a time, in IMSI order
                writing = asyncio.ensure_future(store(rows))
                rows = _Rows(generation, dialect)
        await wrote()
        writing = asyncio.ensure_future(store(rows))
        await wrote()
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


async def _read_traffic(db: Database, client: SoracomClient, now: datetime, generation: str, limit: int, *,
                        after: asyncio.Event | None) -> list[tuple[str, int]]:
    """This month's traffic (bytes) of up to `limit` SIMs of `generation` (once `after` is set), the least recently
    read first."""
    if after is not None:
        await after.wait()
    due = await _traffic_due(db, generation, _traffic_month(now), limit)
    gate = asyncio.Semaphore(TRAFFIC_CONCURRENCY)

    async def one(imsi: str) -> tuple[str, int] | None:
        async with gate:
            traffic = await month_traffic(client, imsi, now)
        return None if traffic is None else (imsi, traffic.upload_bytes + traffic.download_bytes)

    return [r for r in await asyncio.gather(*(one(imsi) for imsi in due)) if r is not None]


def _traffic_month(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y%m")  # SORACOM aggregates traffic by UTC month


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
    month = _traffic_month(now)
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
                session, row, _traffic_month(as_utc(row.refreshed_at)))["by_status"].items()  # type: ignore[arg-type]
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
