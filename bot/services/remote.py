"""Remote access to a device (SORACOM Napter): what a request asks for, the durable record of every access the bot
opened, and the calls that open, find and close it at SORACOM.

The endpoint (address, port, host name) is a way into a device: it leaves this module only as an `Endpoint` for
the person who opened it, and is never stored. A row keeps a keyed hash of it (`mapping_key`, an HMAC under
BOT_SECRET_KEY: address and port are too few to hide behind a plain hash), enough to find the mapping again at
SORACOM to show it to its opener or to delete it.

Exactly once: a close (by command or at expiry) is claimed with a conditional UPDATE of the row's state and a lease,
so of several processes, restarts and takeovers one does it; a lease that lapses (its process died) is taken over.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from bot.config import REMOTE_LIMIT, Settings, parse_source, parse_span
from bot.security.crypto import SecretBox
from bot.services.errors import InputError, WriteUnconfirmed, service
from bot.soracom import SoracomClient
from bot.soracom.errors import SoracomError
from bot.soracom.models import PortMapping
from bot.store import Database, off_loop
from bot.store.tables import AuditEvent, RemoteAccess, as_utc

DEFAULT_DURATION = timedelta(minutes=30)
WIDEST_FOR_OPERATORS = 16  # a prefix shorter than /16 (more than 65,536 addresses) needs an admin
MAX_SOURCES = 10
LEASE = timedelta(seconds=60)
# An access still `opening` this long after its expiry: its job never finished; the sweep ends it.
OPENING_GRACE = timedelta(minutes=5)
LIVE = ("opening", "open")
ENDED = ("closed", "expired")


# What a request asks for


@dataclass(frozen=True)
class Ask:
    """`/sim remote TARGET PORT [DURATION] [from CIDR…] [tls]`, parsed; the SIM is not looked up yet."""

    target: str
    port: int
    duration: timedelta
    sources: tuple[str, ...]
    tls: bool
    default_sources: bool  # BOT_REMOTE_SOURCES, no `from`

    @property
    def wide(self) -> bool:
        """A range wider than /16 is allowed by admins only."""
        return any(ipaddress.IPv4Network(s).prefixlen < WIDEST_FOR_OPERATORS for s in self.sources)


def parse_ask(args: Sequence[str], settings: Settings) -> Ask:
    """InputError saying what to type for anything it does not understand; nothing is looked up or changed."""
    if len(args) < 2:
        raise InputError("remote.usage_open")
    target, port_text, rest = args[0], args[1], list(args[2:])
    port = _port(port_text)
    duration: timedelta | None = None
    tls = False
    sources: list[str] | None = None
    while rest:
        word = rest.pop(0)
        lowered = word.lower()
        if lowered == "tls":
            tls = True
        elif lowered == "from":
            sources = []
            while rest and rest[0].lower() != "tls":
                sources.extend(part for part in rest.pop(0).split(",") if part.strip())
            if not sources:
                raise InputError("remote.from_empty")
        elif duration is None and sources is None:
            duration = _duration(word, settings)
        else:
            raise InputError("remote.unknown_word", word=word)
    default = sources is None
    if sources is None:
        sources = [str(s) for s in settings.remote_sources]
        if not sources:
            raise InputError("remote.no_sources", target=target, port=port)
    if len(sources) > MAX_SOURCES:
        raise InputError("remote.too_many_sources", count=len(sources), limit=MAX_SOURCES)
    checked = tuple(dict.fromkeys(_source(s) for s in sources))
    return Ask(target, port, duration or min(DEFAULT_DURATION, _cap(settings)), checked, tls, default)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputError("remote.bad_port", value=text)
    return int(text)


def _cap(settings: Settings) -> timedelta:
    return min(settings.remote_max, REMOTE_LIMIT)


def _duration(text: str, settings: Settings) -> timedelta:
    try:
        span = parse_span(text)
    except ValueError:
        raise InputError("remote.bad_duration", value=text) from None
    if span > _cap(settings):
        raise InputError("remote.too_long", value=text, limit=format_span(_cap(settings)))
    return span


def _source(text: str) -> str:
    try:
        return str(parse_source(text))
    except ValueError as exc:
        raise InputError("remote.bad_source", value=text, detail=str(exc)) from None


def format_span(span: timedelta) -> str:
    """The duration grammar's own spelling: 1h30m, 45m, 90s → 1m30s."""
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n) or "0s"


# The endpoint, for its opener only


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    hostname: str
    device_port: int
    tls: bool

    def __repr__(self) -> str:  # a log line or a traceback must not show it
        return "Endpoint(<hidden>)"

    @property
    def link(self) -> str | None:
        """A browser link for a web port: HTTPS when SORACOM terminates TLS, or the device speaks HTTPS itself."""
        if self.tls or self.device_port == 443:
            return f"https://{self.hostname}:{self.port}/"
        if self.device_port == 80:
            return f"http://{self.hostname}:{self.port}/"
        return None

    @property
    def ssh(self) -> str | None:
        return f"ssh -p {self.port} user@{self.hostname}" if self.device_port == 22 else None


def mapping_key(keys: SecretBox, access_id: str, mapping: PortMapping) -> str:
    return keys.digest("remote endpoint", _keyed_text(access_id, mapping))


def _legacy_key(access_id: str, mapping: PortMapping) -> str:
    """The plain hash rows kept before 2026-12 (an access lives at most REMOTE_LIMIT): still found and closed."""
    return hashlib.sha256(_keyed_text(access_id, mapping).encode()).hexdigest()


def _keyed_text(access_id: str, mapping: PortMapping) -> str:
    return f"{access_id}|{mapping.ipAddress or ''}|{int(mapping.port or 0)}"


def _endpoint(mapping: PortMapping, device_port: int) -> Endpoint:
    return Endpoint(address=mapping.ipAddress or "", port=int(mapping.port or 0), hostname=mapping.hostname or "",
                    device_port=device_port, tls=bool(mapping.tlsRequired))


def _device_port(mapping: PortMapping) -> int | None:
    port = (mapping.destination or {}).get("port")
    return int(port) if isinstance(port, int | float) else None


# The record


@dataclass(frozen=True)
class Access:
    id: str
    job_id: str
    imsi: str
    sim_name: str
    device_port: int
    sources: tuple[str, ...]
    tls: bool
    opened_by: str
    team_id: str | None
    channel_id: str | None
    state: str
    created_at: datetime
    expires_at: datetime
    opened_at: datetime | None
    mapping_key: str | None
    message_ts: str | None
    closed_at: datetime | None
    closed_by: str | None
    told_at: datetime | None
    attempts: int
    lease_owner: str | None


def _view(row: RemoteAccess) -> Access:
    return Access(
        id=row.id, job_id=row.job_id, imsi=row.imsi, sim_name=row.sim_name, device_port=row.device_port,
        sources=tuple(s for s in row.sources.split(",") if s), tls=row.tls, opened_by=row.opened_by,
        team_id=row.team_id, channel_id=row.channel_id, state=row.state,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        expires_at=as_utc(row.expires_at),  # type: ignore[arg-type]
        opened_at=as_utc(row.opened_at), mapping_key=row.mapping_key, message_ts=row.message_ts,
        closed_at=as_utc(row.closed_at), closed_by=row.closed_by, told_at=as_utc(row.told_at),
        attempts=row.attempts, lease_owner=row.lease_owner)


@dataclass(frozen=True)
class Opening:
    """What the confirmed job opens: stored with the job, written as a row before SORACOM is called."""

    imsi: str
    sim_name: str
    port: int
    duration: timedelta
    sources: tuple[str, ...]
    tls: bool

    def to_args(self) -> dict[str, Any]:
        return {"imsi": self.imsi, "name": self.sim_name, "port": self.port,
                "seconds": int(self.duration.total_seconds()), "sources": list(self.sources), "tls": self.tls}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> "Opening":
        return cls(args["imsi"], args.get("name") or "", int(args["port"]), timedelta(seconds=int(args["seconds"])),
                   tuple(args["sources"]), bool(args["tls"]))


class Accesses:
    """The remote_access rows: who opened what, until when, and who closes it (one process, by claim)."""

    def __init__(self, db: Database, clock: Callable[[], datetime], lease: timedelta = LEASE) -> None:
        self.db, self.clock, self.lease = db, clock, lease

    @off_loop
    def begin(self, job_id: str, opening: Opening, *, user_id: str, team_id: str | None,
              channel_id: str | None) -> Access:
        """The job's row, written before SORACOM is called (the existing one when the job is taken over)."""
        now = self.clock()
        try:
            with self.db.session() as session:
                row = RemoteAccess(id=secrets.token_hex(12), job_id=job_id, imsi=opening.imsi,
                                   sim_name=opening.sim_name[:200], device_port=opening.port,
                                   sources=",".join(opening.sources), tls=opening.tls, opened_by=user_id,
                                   team_id=team_id, channel_id=channel_id, created_at=now,
                                   expires_at=now + opening.duration)
                session.add(row)
                session.commit()
                return _view(row)
        except IntegrityError:  # taken over: the first attempt wrote it
            found = self._by_job(job_id)
            assert found is not None
            return found

    def _by_job(self, job_id: str) -> Access | None:
        with self.db.session() as session:
            row = session.exec(select(RemoteAccess).where(col(RemoteAccess.job_id) == job_id)).first()
        return _view(row) if row is not None else None

    @off_loop
    def get(self, access_id: str) -> Access | None:
        with self.db.session() as session:
            row = session.get(RemoteAccess, access_id)
        return _view(row) if row is not None else None

    @off_loop
    def opened(self, access_id: str, key: str, expires_at: datetime) -> bool:
        """opening → open, with the mapping's key; False when the row was ended meanwhile (the sweep gave up)."""
        with self.db.session() as session:
            result = session.exec(
                update(RemoteAccess)
                .where(col(RemoteAccess.id) == access_id, col(RemoteAccess.state) == "opening")
                .values(state="open", mapping_key=key, opened_at=self.clock(), expires_at=expires_at))
            session.commit()
        return result.rowcount == 1

    @off_loop
    def failed(self, access_id: str) -> None:
        with self.db.session() as session:
            session.exec(update(RemoteAccess)
                         .where(col(RemoteAccess.id) == access_id, col(RemoteAccess.state) == "opening")
                         .values(state="failed", closed_at=self.clock(), told_at=self.clock()))
            session.commit()

    @off_loop
    def set_message(self, access_id: str, ts: str) -> None:
        with self.db.session() as session:
            session.exec(update(RemoteAccess).where(col(RemoteAccess.id) == access_id).values(message_ts=ts))
            session.commit()

    @off_loop
    def live(self, imsi: str | None = None) -> list[Access]:
        """Accesses not ended yet (opening or open), soonest expiry first."""
        query = select(RemoteAccess).where(col(RemoteAccess.state).in_(LIVE))
        if imsi is not None:
            query = query.where(col(RemoteAccess.imsi) == imsi)
        with self.db.session() as session:
            rows = session.exec(query.order_by(col(RemoteAccess.expires_at))).all()
        return [_view(row) for row in rows]

    @off_loop
    def due(self, limit: int = 20) -> list[Access]:
        """What a sweep has to do: accesses past their expiry, closes whose process died, ends not yet told."""
        now = self.clock()
        lapsed = or_(col(RemoteAccess.lease_until).is_(None), col(RemoteAccess.lease_until) < now)
        with self.db.session() as session:
            rows = session.exec(select(RemoteAccess).where(or_(
                (col(RemoteAccess.state) == "open") & (col(RemoteAccess.expires_at) <= now),
                (col(RemoteAccess.state) == "opening") & (col(RemoteAccess.expires_at) <= now - OPENING_GRACE),
                (col(RemoteAccess.state) == "closing") & lapsed,
                col(RemoteAccess.state).in_(ENDED) & col(RemoteAccess.told_at).is_(None) & lapsed,
            )).order_by(col(RemoteAccess.expires_at)).limit(limit)).all()
        return [_view(row) for row in rows]

    @off_loop
    def claim(self, seen: Access, owner: str, *, closer: str | None) -> Access | None:
        """Takes the row as seen, under `owner`'s lease; None when another process took it first. A live row
        becomes `closing` (by `closer`, None: the clock); a close or an end not yet told keeps its state."""
        now = self.clock()
        values: dict[str, Any] = {"lease_owner": owner, "lease_until": now + self.lease,
                                  "attempts": seen.attempts + 1}
        if seen.state in LIVE:
            values.update(state="closing", closed_by=closer)
        with self.db.session() as session:
            result = session.exec(
                update(RemoteAccess)
                .where(col(RemoteAccess.id) == seen.id, col(RemoteAccess.state) == seen.state,
                       col(RemoteAccess.attempts) == seen.attempts)
                .values(**values))
            session.commit()
            if result.rowcount != 1:
                return None
            row = session.get(RemoteAccess, seen.id)
            assert row is not None
            session.refresh(row)
            return _view(row)

    @off_loop
    def ended(self, access: Access, owner: str, state: str, event: dict[str, Any]) -> bool:
        """closing → closed or expired, with its audit row (`audit.values`) in the same transaction, while `owner`
        holds the lease."""
        assert state in ENDED
        with self.db.engine.begin() as connection:
            result = connection.execute(
                update(RemoteAccess)
                .where(col(RemoteAccess.id) == access.id, col(RemoteAccess.state) == "closing",
                       col(RemoteAccess.lease_owner) == owner)
                .values(state=state, closed_at=self.clock()))
            if result.rowcount == 1:
                connection.execute(insert(AuditEvent), [event])
        return result.rowcount == 1

    @off_loop
    def told(self, access_id: str, owner: str) -> None:
        with self.db.session() as session:
            session.exec(update(RemoteAccess)
                         .where(col(RemoteAccess.id) == access_id, col(RemoteAccess.lease_owner) == owner)
                         .values(told_at=self.clock(), lease_owner=None, lease_until=None))
            session.commit()


# SORACOM


@service
async def open_mapping(client: SoracomClient, keys: SecretBox, access: Access, *, duration: timedelta,
                       adopt: bool) -> tuple[str, Endpoint]:
    """Opens the access at SORACOM (or, `adopt`, takes up the one an earlier attempt of the job opened); returns its
    key and endpoint. A create that got no answer is read back: found, it is adopted; not found, nothing was opened.
    """
    if adopt:
        found = await _unrecorded(client, keys, access)
        if found is not None:
            return found
    try:
        mapping = await client.create_port_mapping(access.imsi, access.device_port,
                                                   duration_seconds=int(duration.total_seconds()),
                                                   ip_ranges=list(access.sources), tls_required=access.tls)
    except SoracomError as exc:
        if not (exc.status == 0 or exc.status >= 500):
            raise
        try:
            found = await _unrecorded(client, keys, access)
        except SoracomError:
            raise WriteUnconfirmed("remote access", None, str(exc)) from None
        if found is None:
            raise WriteUnconfirmed("remote access", False, str(exc)) from None
        return found
    return mapping_key(keys, access.id, mapping), _endpoint(mapping, access.device_port)


async def _unrecorded(client: SoracomClient, keys: SecretBox, access: Access) -> tuple[str, Endpoint] | None:
    """A mapping to this SIM's port made since the row was written, not yet known by its key: the job's own."""
    since = int(access.created_at.timestamp() * 1000) - 1000
    for mapping in await client.list_port_mappings_for_subscriber(access.imsi):
        if _device_port(mapping) == access.device_port and (mapping.createdTime or 0) >= since:
            return mapping_key(keys, access.id, mapping), _endpoint(mapping, access.device_port)
    return None


@service
async def find_endpoint(client: SoracomClient, keys: SecretBox, access: Access) -> Endpoint | None:
    """The endpoint of an open access, read from SORACOM (None when it is gone there)."""
    mapping = await _find(client, keys, access)
    return _endpoint(mapping, access.device_port) if mapping is not None else None


async def _find(client: SoracomClient, keys: SecretBox, access: Access) -> PortMapping | None:
    for mapping in await client.list_port_mappings_for_subscriber(access.imsi):
        if access.mapping_key in (mapping_key(keys, access.id, mapping), _legacy_key(access.id, mapping)):
            return mapping
    return None


@service
async def close_mapping(client: SoracomClient, keys: SecretBox, access: Access) -> bool:
    """Deletes the access at SORACOM if it is still there; False when it was gone already (expired there).

    An access that never recorded its mapping (its job died while opening) closes what it may have opened."""
    if access.mapping_key is None:
        found = await _unrecorded(client, keys, access)
        if found is None:
            return False
        endpoint = found[1]
        return await client.delete_port_mapping(endpoint.address, endpoint.port)
    mapping = await _find(client, keys, access)
    if mapping is None:
        return False
    return await client.delete_port_mapping(mapping.ipAddress or "", int(mapping.port or 0))
