"""Which SIMs a command means: IMSIs, SIM names (the `name` tag) and selectors, and finding them in SORACOM.

A target list is either SIMs (IMSIs of 15 digits, or names) or a selector: `tag:KEY=VALUE`, `group:NAME`
and `status:STATUS`, combinable (different kinds and different tag keys must all hold; several statuses,
written `status:a|b` or twice, mean any of them).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.messages import t, term
from bot.services.errors import InputError, service
from bot.services.groups import find_group
from bot.soracom import NotFound, Page, SoracomClient
from bot.soracom.client import MAX_PAGE_SIZE
from bot.soracom.models import Sim, Subscriber

IMSI = re.compile(r"^\d{15}$")
DIGITS = re.compile(r"^\d+$")
NAME_TAG = "name"
SELECTOR_KINDS = ("tag", "group", "status")
# Subscriber statuses: the spec's status_filter values, and standby (a status the lifecycle API sets).
STATUSES = ("ready", "active", "inactive", "standby", "suspended", "terminated", "instock", "shipped")
AMBIGUOUS_SHOWN = 10


@dataclass(frozen=True)
class SessionInfo:
    online: bool
    imei: str | None = None
    last_seen: int | None = None  # ms
    location: Mapping[str, Any] | None = None  # lat, lon


@dataclass(frozen=True)
class SimInfo:
    """A SIM as the bot shows and checks it."""

    imsi: str
    name: str  # its `name` tag, "" when it has none
    status: str | None
    group_id: str | None = None
    iccid: str | None = None
    msisdn: str | None = None
    plan: str | None = None
    speed_class: str | None = None
    imei_locked: bool = False
    imei_lock: str | None = None  # the IMEI it is locked to
    protected: bool = True  # termination protection on: it cannot be terminated as it stands
    expiry_time: int | None = None  # ms
    expiry_action: str | None = None
    session: SessionInfo | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def sim_info(sim: Subscriber) -> SimInfo:
    session = sim.sessionStatus
    return SimInfo(
        imsi=sim.imsi or "", name=(sim.tags or {}).get(NAME_TAG, ""), status=sim.status, group_id=sim.groupId,
        iccid=sim.iccid, msisdn=sim.msisdn, plan=sim.subscription, speed_class=sim.speedClass,
        imei_locked=sim.imeiLock is not None, imei_lock=sim.imeiLock.imei if sim.imeiLock else None,
        protected=not sim.terminationEnabled, expiry_time=sim.expiryTime, expiry_action=sim.expiryAction,
        session=SessionInfo(bool(session.online), session.imei, session.lastUpdatedAt, session.location)
        if session is not None else None,
        tags=dict(sim.tags or {}),
    )


@dataclass(frozen=True)
class Selector:
    tags: tuple[tuple[str, str], ...] = ()
    group: str | None = None  # a group name or ID, as typed
    statuses: tuple[str, ...] = ()

    def text(self) -> str:
        """The selector as it would be typed again (quoted where a value holds a space)."""
        parts = [f"tag:{key}={value}" for key, value in self.tags]
        parts += [f"group:{self.group}"] if self.group else []
        parts += [f"status:{'|'.join(self.statuses)}"] if self.statuses else []
        return " ".join(shlex.quote(part) for part in parts)


@dataclass(frozen=True)
class Targets:
    """What the user typed: SIMs by IMSI or name, or a selector (never both)."""

    sims: tuple[str, ...] = ()
    selector: Selector | None = None

    @property
    def is_bulk(self) -> bool:
        return self.selector is not None or len(self.sims) > 1

    def text(self) -> str:
        return self.selector.text() if self.selector else " ".join(self.sims)


@dataclass(frozen=True)
class Query:
    """A selector made ready for the API: what SORACOM filters, and what is checked here on each SIM."""

    group_id: str | None = None
    statuses: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def filters_locally(self) -> bool:
        """True when some SIMs of an API page may not match, so a page's size says nothing about matches."""
        return bool(self.group_id and (self.statuses or self.tags)) or len(self.tags) > 1

    def matches(self, sim: Subscriber) -> bool:
        tags = sim.tags or {}
        return (not self.statuses or sim.status in self.statuses) and all(
            tags.get(key) == value for key, value in self.tags
        )


def is_selector(token: str) -> bool:
    kind, colon, _ = token.partition(":")
    return bool(colon) and kind.lower() in SELECTOR_KINDS


def parse_selector(tokens: Sequence[str]) -> Selector:
    tags: dict[str, str] = {}
    groups: list[str] = []
    statuses: list[str] = []
    for token in tokens:
        kind, _, value = token.partition(":")
        kind = kind.lower()
        if kind == "tag":
            key, equals, tag_value = value.partition("=")
            if not equals or not key:
                raise InputError("sim.bad_tag_selector", token=token)
            if key in tags and tags[key] != tag_value:
                raise InputError("sim.conflicting_tags", key=key)
            tags[key] = tag_value
        elif kind == "group":
            if not value:
                raise InputError("sim.bad_group_selector", token=token)
            groups.append(value)
        else:
            statuses += [parse_status(s) for s in value.split("|")]
    if len(set(groups)) > 1:
        raise InputError("sim.one_group", groups=", ".join(groups))
    return Selector(tuple(tags.items()), groups[0] if groups else None, tuple(dict.fromkeys(statuses)))


def parse_status(value: str) -> str:
    status = value.strip().lower()
    if status not in STATUSES:
        raise InputError("sim.bad_status", status=value, statuses=", ".join(f"`{s}`" for s in STATUSES))
    return status


def parse_targets(tokens: Sequence[str]) -> Targets:
    if not tokens:
        raise InputError("sim.no_target")
    selectors = [t for t in tokens if is_selector(t)]
    if selectors and len(selectors) != len(tokens):
        raise InputError("sim.mixed_targets")
    if selectors:
        return Targets(selector=parse_selector(selectors))
    for token in tokens:
        check_sim_token(token)
    return Targets(sims=tuple(dict.fromkeys(tokens)))


def check_sim_token(token: str) -> None:
    """An all-digit token must be an IMSI; anything else is taken as a name."""
    if DIGITS.match(token) and not IMSI.match(token):
        raise InputError("sim.bad_imsi", value=token, length=len(token))


@service
async def prepare(client: SoracomClient, selector: Selector) -> Query:
    group_id = (await find_group(client, selector.group)).id if selector.group else None
    return Query(group_id=group_id, statuses=selector.statuses, tags=selector.tags)


@service
async def fetch_page(client: SoracomClient, query: Query, *, limit: int, key: str | None) -> Page[Subscriber]:
    """One API page of the query's SIMs, filtered by SORACOM as far as it can; callers still apply `matches`."""
    if query.group_id:
        page = await client.list_subscribers_in_group(query.group_id, limit=limit, last_evaluated_key=key)
        return Page([as_subscriber(sim) for sim in page.items], page.next_key)
    tag_name, tag_value = query.tags[0] if query.tags else (None, None)
    return await client.list_subscribers(
        status_filter="|".join(query.statuses) or None, tag_name=tag_name, tag_value=tag_value,
        limit=limit, last_evaluated_key=key,
    )


def as_subscriber(sim: Sim) -> Subscriber:
    """A group member (a Sim) as its primary subscription: the SIM-wide fields are the Sim's own, so no
    getSubscriber call per SIM is needed."""
    primary = sim.primary_subscriber
    return Subscriber(
        imsi=sim.primary_imsi, msisdn=primary.msisdn if primary else None,
        subscription=primary.subscription if primary else None, bundles=primary.bundles if primary else None,
        simId=sim.simId, serialNumber=sim.serialNumber, operatorId=sim.operatorId, status=sim.status,
        speedClass=sim.speedClass, moduleType=sim.moduleType, groupId=sim.groupId, tags=sim.tags,
        sessionStatus=sim.sessionStatus, imeiLock=sim.imeiLock, terminationEnabled=sim.terminationEnabled,
        expiryTime=sim.expiryTime, expiryAction=sim.expiryAction, createdTime=sim.createdTime,
        lastModifiedTime=sim.lastModifiedTime,
    )


async def iter_selected(client: SoracomClient, query: Query) -> AsyncIterator[Subscriber]:
    """Every SIM of the query: one API call per 100 SIMs SORACOM returns."""
    key: str | None = None
    while True:
        page = await fetch_page(client, query, limit=MAX_PAGE_SIZE, key=key)
        for sim in page.items:
            if query.matches(sim):
                yield sim
        if not page.next_key or page.next_key == key:
            return
        key = page.next_key


@service
async def find_by_imsi(client: SoracomClient, imsi: str) -> SimInfo:
    try:
        return sim_info(await client.get_subscriber(imsi))
    except NotFound:
        raise InputError("sim.not_found", imsi=imsi) from None


@service
async def find_by_name(client: SoracomClient, name: str) -> SimInfo:
    """The one SIM whose `name` tag is `name`; InputError when none or several carry it."""
    matches = [sim async for sim in client.iter_subscribers(tag_name=NAME_TAG, tag_value=name)]
    if not matches:
        raise InputError("sim.unknown_name", name=name)
    if len(matches) > 1:
        shown = ", ".join(f"`{m.imsi}` ({term('sim.status', m.status)})" for m in matches[:AMBIGUOUS_SHOWN])
        more = len(matches) - AMBIGUOUS_SHOWN
        raise InputError("sim.ambiguous_name", name=name, count=len(matches),
                         matches=shown + (f" {t('sim.ambiguous_more', count=more)}" if more > 0 else ""))
    return sim_info(matches[0])


@service
async def find_sim(client: SoracomClient, token: str) -> SimInfo:
    check_sim_token(token)
    return await find_by_imsi(client, token) if IMSI.match(token) else await find_by_name(client, token)


@service
async def resolve(client: SoracomClient, targets: Targets) -> list[SimInfo]:
    """The SIMs the targets name, each once; InputError (nothing done) for an unknown or ambiguous one."""
    if targets.selector is not None:
        query = await prepare(client, targets.selector)
        found = [sim async for sim in iter_selected(client, query)]
        if not found:
            raise InputError("sim.nothing_selected", selector=targets.selector.text())
        return [sim_info(sim) for sim in found]
    sims: dict[str, SimInfo] = {}
    for token in targets.sims:
        sim = await find_sim(client, token)
        sims.setdefault(sim.imsi or token, sim)
    return list(sims.values())
