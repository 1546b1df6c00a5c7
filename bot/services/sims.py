"""SIMs in SORACOM words: listing, one SIM in full, and the changes (lifecycle, tags, group, IMEI lock, speed)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from bot.messages import t
from bot.services.errors import InputError, ServiceError, WriteUnconfirmed, service
from bot.services.groups import find_group, group_name
from bot.services.limits import check_tag, excerpt
from bot.services.targets import NAME_TAG, Query, SimInfo, fetch_page, iter_selected, sim_info
from bot.soracom import SoracomClient, SoracomError
from bot.soracom.client import MAX_PAGE_SIZE
from bot.soracom.models import Subscriber

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 20
PREVIEW_SAMPLE = 5
IMEI = re.compile(r"^\d{15}$")
# UpdateSpeedClassRequest's enum in the official spec (which classes a SIM takes depends on its plan).
SPEED_CLASSES = ("s1.minimum", "s1.slow", "s1.standard", "s1.fast", "s1.4xfast", "s1.8xfast",
                 "u1.standard", "u1.slow")


class Action(StrEnum):
    activate = "activate"
    standby = "standby"
    deactivate = "deactivate"
    suspend = "suspend"
    terminate = "terminate"
    tag = "tag"
    untag = "untag"
    group = "group"
    ungroup = "ungroup"
    imei_lock = "imei-lock"
    imei_unlock = "imei-unlock"
    speed = "speed"


# Destructive or hard to undo: these need a step-up code, for one SIM as for many.
GATED = frozenset({Action.deactivate, Action.suspend, Action.terminate, Action.imei_unlock})
LIFECYCLE = frozenset({Action.activate, Action.standby, Action.deactivate, Action.suspend, Action.terminate})
TARGET_STATUS = {Action.activate: "active", Action.standby: "standby", Action.deactivate: "inactive",
                 Action.suspend: "suspended", Action.terminate: "terminated"}
# Done again on a SIM that already has them, they change nothing: a job taken over repeats them without a read.
IDEMPOTENT = frozenset(Action) - {Action.terminate}


@dataclass(frozen=True)
class Change:
    """One change to apply to each SIM; `params` holds its arguments in JSON-friendly form."""

    action: Action
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_args(self) -> dict[str, Any]:
        return {"action": self.action.value, "params": dict(self.params)}

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "Change":
        return cls(Action(args["action"]), dict(args.get("params") or {}))


class ProtectionNotRestored(Exception):
    """Terminate failed and termination protection could not be switched back on."""

    def __init__(self, terminate_error: SoracomError, restore_error: SoracomError) -> None:
        super().__init__(f"{terminate_error.message}; termination protection could not be put back on "
                         f"({restore_error.message})")  # for the log; users read failure_reason's text
        self.terminate_error, self.restore_error = terminate_error, restore_error


def sim_name(sim: Subscriber) -> str:
    return (sim.tags or {}).get(NAME_TAG, "")


# Input checks: each raises InputError before anything is sent to SORACOM.


def parse_tags(tokens: Sequence[str]) -> dict[str, str]:
    if not tokens:
        raise InputError("sim.tag_missing")
    tags: dict[str, str] = {}
    for token in tokens:
        key, equals, value = token.partition("=")
        if not equals or not key:
            raise InputError("sim.bad_tag", token=excerpt(token))
        check_tag(key, value)
        tags[key] = value
    return tags


def check_imei(value: str) -> str:
    if not IMEI.match(value):
        raise InputError("sim.bad_imei", value=value)
    return value


def check_speed_class(value: str) -> str:
    speed = value.strip().lower()
    if speed not in SPEED_CLASSES:
        raise InputError("sim.bad_speed", value=value, classes=", ".join(f"`{s}`" for s in SPEED_CLASSES))
    return speed


@service
async def group_change(client: SoracomClient, name_or_id: str) -> Change:
    group = await find_group(client, name_or_id)
    return Change(Action.group, {"group_id": group.id, "group": group.name})


# Listing


@dataclass(frozen=True)
class SimRow:
    imsi: str
    name: str
    status: str
    online: bool | None
    group: str | None
    speed_class: str


@dataclass(frozen=True)
class Cursor:
    """Where a page of a listing starts: an API page (its last_evaluated_key) and a position in it."""

    key: str | None = None
    offset: int = 0


@dataclass(frozen=True)
class SimPage:
    rows: list[SimRow]
    next: Cursor | None


@service
async def count_by_status(client: SoracomClient, query: Query) -> dict[str, int]:
    """SIMs per status; SORACOM has no count call, so this reads every selected SIM (one call per 100)."""
    counts = Counter([sim.status or "unknown" async for sim in iter_selected(client, query)])
    return dict(counts.most_common())


@service
async def list_page(client: SoracomClient, query: Query, cursor: Cursor, size: int = LIST_PAGE_SIZE) -> SimPage:
    """One page of rows; asks SORACOM for just `size` SIMs unless some must be filtered out here."""
    limit = MAX_PAGE_SIZE if query.filters_locally else size
    key, offset = cursor.key, cursor.offset
    found: list[Subscriber] = []
    while True:
        page = await fetch_page(client, query, limit=limit, key=key)
        for index in range(offset, len(page.items)):
            if not query.matches(page.items[index]):
                continue
            found.append(page.items[index])
            if len(found) == size:
                following = (Cursor(key, index + 1) if index + 1 < len(page.items)
                             else Cursor(page.next_key) if page.next_key else None)
                return SimPage(await _rows(client, found), following)
        if not page.next_key or page.next_key == key:
            return SimPage(await _rows(client, found), None)
        key, offset = page.next_key, 0


async def _rows(client: SoracomClient, sims: list[Subscriber]) -> list[SimRow]:
    names = await group_names(client) if any(sim.groupId for sim in sims) else {}
    return [
        SimRow(imsi=sim.imsi or "", name=sim_name(sim), status=sim.status or "unknown",
               online=sim.sessionStatus.online if sim.sessionStatus else None,
               group=names.get(sim.groupId, sim.groupId) if sim.groupId else None,
               speed_class=sim.speedClass or "")
        for sim in sims
    ]


@service
async def group_names(client: SoracomClient) -> dict[str, str]:
    return {g.groupId: group_name(g) async for g in client.iter_groups() if g.groupId}


# One SIM in full


@dataclass(frozen=True)
class Traffic:
    upload_bytes: int
    download_bytes: int
    since: datetime


@dataclass(frozen=True)
class SimDetail:
    sim: SimInfo
    group: str | None
    traffic: Traffic | None  # None when SORACOM has none to give (e.g. terminated SIMs)


@service
async def sim_detail(client: SoracomClient, sim: SimInfo, now: datetime) -> SimDetail:
    group = None
    if sim.group_id:
        try:
            group = group_name(await client.get_group(sim.group_id))
        except SoracomError:
            group = sim.group_id
    # SORACOM gives no traffic of terminated SIMs.
    traffic = None if sim.status == "terminated" else await month_traffic(client, sim.imsi or "", now)
    return SimDetail(sim=sim, group=group, traffic=traffic)


@service
async def month_traffic(client: SoracomClient, imsi: str, now: datetime) -> Traffic | None:
    """Traffic of the calendar month of `now` (UTC, as SORACOM aggregates it)."""
    start = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        stats = await client.get_air_stats(imsi, int(start.timestamp()), int(now.timestamp()), period="month")
    except SoracomError:
        return None
    up = down = 0
    for entry in stats:
        for traffic in (entry.dataTrafficStatsMap or {}).values():
            up += traffic.uploadByteSizeTotal or 0
            down += traffic.downloadByteSizeTotal or 0
    return Traffic(upload_bytes=up, download_bytes=down, since=start)


# Changes


class Caution(StrEnum):
    """What a preview must say before a change that costs money or cannot be undone."""

    final = "final"  # terminate cannot be undone
    protection_on = "protection_on"  # SIMs whose termination protection will be switched off first
    protection_off = "protection_off"
    reactivation_fee = "reactivation_fee"  # SIMs that leave `suspended`
    still_billed = "still_billed"  # inactive SIMs are still billed
    terminated = "terminated"  # SIMs that are terminated already: nothing can change them


@dataclass(frozen=True)
class Preview:
    change: Change
    count: int
    sample: list[SimInfo]
    cautions: dict[Caution, int]


def preview(change: Change, sims: Sequence[SimInfo]) -> Preview:
    statuses = Counter(sim.status for sim in sims)
    cautions: dict[Caution, int] = {}
    if change.action is Action.terminate:
        cautions[Caution.final] = len(sims)
        cautions[Caution.protection_on] = sum(1 for sim in sims if sim.protected)
        cautions[Caution.protection_off] = len(sims) - cautions[Caution.protection_on]
    elif change.action in (Action.activate, Action.standby, Action.deactivate) and statuses["suspended"]:
        cautions[Caution.reactivation_fee] = statuses["suspended"]
    if change.action is Action.deactivate:
        cautions[Caution.still_billed] = len(sims)
    if statuses["terminated"]:
        cautions[Caution.terminated] = statuses["terminated"]
    return Preview(change, len(sims), list(sims[:PREVIEW_SAMPLE]), {k: v for k, v in cautions.items() if v})


@service
async def apply(client: SoracomClient, change: Change, imsi: str) -> None:
    """Makes the change on one SIM; raises SoracomError (or ProtectionNotRestored) when SORACOM refuses.

    When SORACOM does not answer, the SIM is read back before anything is said: a change it shows is done, one it
    does not show was not made (WriteUnconfirmed with changed=False), and a failed read leaves it unknown.
    """
    try:
        await _apply(client, change, imsi)
    except SoracomError as exc:
        if not exc.ambiguous:
            raise
        try:
            sim = await client.get_subscriber(imsi)
        except SoracomError:
            raise WriteUnconfirmed(imsi, None, exc.message) from None
        if not shows(sim_info(sim), change):
            raise WriteUnconfirmed(imsi, False, exc.message) from None


def shows(sim: SimInfo, change: Change) -> bool:
    """Whether the SIM, as read from SORACOM, already has the change."""
    p, tags = change.params, sim.tags
    match change.action:
        case Action.tag:
            return all(tags.get(key) == value for key, value in p["tags"].items())
        case Action.untag:
            return not any(key in tags for key in p["keys"])
        case Action.group:
            group_id: str = p["group_id"]
            return sim.group_id == group_id
        case Action.ungroup:
            return sim.group_id is None
        case Action.imei_lock:
            return sim.imei_locked and sim.imei_lock == p["imei"]
        case Action.imei_unlock:
            return not sim.imei_locked
        case Action.speed:
            speed_class: str = p["speed_class"]
            return sim.speed_class == speed_class
    return sim.status == TARGET_STATUS[change.action]


async def _apply(client: SoracomClient, change: Change, imsi: str) -> None:
    p = change.params
    match change.action:
        case Action.activate:
            await client.activate_subscriber(imsi)
        case Action.standby:
            await client.set_subscriber_to_standby(imsi)
        case Action.deactivate:
            await client.deactivate_subscriber(imsi)
        case Action.suspend:
            await client.suspend_subscriber(imsi)
        case Action.terminate:
            await terminate(client, imsi)
        case Action.tag:
            await client.put_subscriber_tags(imsi, p["tags"])
        case Action.untag:
            await untag(client, imsi, p["keys"])
        case Action.group:
            await client.set_group(imsi, p["group_id"])
        case Action.ungroup:
            await client.unset_group(imsi)
        case Action.imei_lock:
            await client.set_imei_lock(imsi, p["imei"])
        case Action.imei_unlock:
            await client.unset_imei_lock(imsi)
        case Action.speed:
            await client.update_speed_class(imsi, p["speed_class"])


@service
async def terminate(client: SoracomClient, imsi: str) -> None:
    """Lifts termination protection if it is on, terminates, and puts protection back if terminating fails."""
    protected = not (await client.get_subscriber(imsi)).terminationEnabled
    if protected:
        await client.enable_termination(imsi)
    try:
        await client.terminate_subscriber(imsi)
    except SoracomError as exc:
        if protected:
            try:
                await client.disable_termination(imsi)
            except SoracomError as restore_exc:
                raise ProtectionNotRestored(exc, restore_exc) from exc
        raise


@service
async def untag(client: SoracomClient, imsi: str, keys: Sequence[str]) -> None:
    """Deletes the tags the SIM has; a key it lacks is no failure (the goal, no such tag, holds)."""
    tags = (await client.get_subscriber(imsi)).tags or {}
    for key in keys:
        if key in tags:
            await client.delete_subscriber_tag(imsi, key)


def failure_reason(exc: BaseException) -> str:
    """One plain line for a per-SIM failure report."""
    if isinstance(exc, SoracomError | ServiceError):
        return f"{exc.message} ({exc.code})" if exc.code else exc.message
    if isinstance(exc, ProtectionNotRestored):
        return t("sim.protection_not_restored", error=exc.terminate_error.message,
                 restore_error=exc.restore_error.message)
    if isinstance(exc, WriteUnconfirmed):
        return t("common.write_not_changed" if exc.changed is False else "common.write_unknown", detail=exc.detail)
    log.error("unexpected error in a SIM change", exc_info=exc)
    return t("sim.unexpected_error", kind=type(exc).__name__)
