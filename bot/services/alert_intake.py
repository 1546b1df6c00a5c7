"""Alert deliveries recorded together: those arriving within a few milliseconds (or while the previous batch is being
written) share one transaction, so that a storm of 500 deliveries a second is a few commits a second, not 500 of
them holding the database's write lock ahead of the other users' commands.

Each delivery's caller is answered only once the transaction holding its row has committed: nothing answered is
lost. One batch decides, for each event it recorded, what becomes of it: a repeat, muted, no channel to post to, a
card (below the rule's cards per minute), or folded into a storm: the rule's, of the event's limit (rules of one
kind set up per group with other limits each get a summary of their own, saying their limit).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col, func, select, update

from bot.services.alerts import CARDED, CHANNEL_SETTING, STORM_WINDOW, UNFINISHED_AFTER, Event
from bot.store import Database
from bot.store.tables import AlertEvent, AlertMute, AlertSetting, AlertStorm, as_utc

# How long the first delivery of a batch waits for others: a few milliseconds when deliveries are rare, longer in a
# storm (a batch was written within the last second), where a batch costs ~3 ms of CPU whatever its size and each
# row ~0.1 ms more. The deliveries that come while a batch is being written make the next one.
GATHER_SECONDS = 0.005
STORM_GATHER_SECONDS = 0.05
STORM_WITHIN = 1.0
MAX_BATCH = 500


@dataclass(frozen=True)
class Taken:
    """What became of one delivery. outcome: duplicate, muted, unrouted, card (post it) or folded (into storm_id;
    `starts`: this delivery started the storm, its process posts the summary)."""

    outcome: str
    id: int = 0
    channel_id: str | None = None
    storm_id: int = 0
    starts: bool = False


@dataclass
class _Waiting:
    event: Event
    now: datetime
    answer: asyncio.Future[Taken]


class GroupCommit:
    """This bot's batches of deliveries (per bot: `rt.state(GroupCommit)`); one batch is written at a time."""

    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self._written_at = -math.inf  # the event loop's time of the last batch

    async def take(self, db: Database, event: Event, now: datetime, per_minute: int) -> Taken:
        """Records the delivery with the others arriving now; returns once its row is committed. A database error
        is raised to every delivery of the batch (nothing of it was kept: the sender delivers again)."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(event, now, loop.create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(db, per_minute), name="alert-intake")
        # A caller that goes away (the sender hung up) leaves its delivery in the batch: it is recorded all the same.
        return await asyncio.shield(waiting.answer)

    async def _write(self, db: Database, per_minute: int) -> None:
        batch: list[_Waiting] = []
        loop = asyncio.get_running_loop()
        try:
            while True:
                since = loop.time() - self._written_at
                await asyncio.sleep(GATHER_SECONDS if since >= STORM_WITHIN else max(0, STORM_GATHER_SECONDS - since))
                if not self._waiting:
                    return
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                self._written_at = loop.time()
                try:
                    taken = await db.run(record_batch, db, [(w.event, w.now) for w in batch], per_minute)
                except Exception as exc:  # noqa: BLE001 - each delivery's caller answers it (503: sent again)
                    for waiting in batch:
                        waiting.answer.set_exception(exc)
                    continue
                for waiting, result in zip(batch, taken, strict=True):
                    waiting.answer.set_result(result)
        finally:  # stopped (the bot shutting down): no caller waits for ever
            for waiting in [*batch, *self._waiting]:
                if not waiting.answer.done():
                    waiting.answer.cancel()


@dataclass
class _Rule:
    carded: int | None  # cards of the last minute, posted or on their way; None: not counted yet (a storm going)
    storms: dict[int | None, AlertStorm | None]  # limit → its storm still going, as far as this batch has looked
    started: set[int | None]  # the limits whose storm this batch started


def storm_key(rule: str, limit_mib: int | None) -> str:
    """What AlertStorm.alert holds: the rule, and its limit when it has one."""
    return rule if limit_mib is None else f"{rule}/{limit_mib}"


def record_batch(db: Database, deliveries: Sequence[tuple[Event, datetime]], per_minute: int) -> list[Taken]:
    """One transaction: inserts the deliveries whose key is new (INSERT … ON CONFLICT DO NOTHING, in key order so
    that two replicas' batches never wait on each other crosswise), takes again the few a retry may take, and
    decides each recorded one's fate."""
    keys = [event.dedup_key(now) for event, now in deliveries]
    first: dict[str, int] = {}  # key → the position of its first delivery in this batch; later ones are repeats
    for position, key in enumerate(keys):
        first.setdefault(key, position)
    with db.session() as session:
        rows = [{"dedup_key": key, "alert": deliveries[p][0].alert, "rule": deliveries[p][0].rule,
                 "imsi": deliveries[p][0].imsi, "limit_mib": deliveries[p][0].limit_mib,
                 "received_at": deliveries[p][1], "state": "new"}
                for key, p in sorted(first.items())]
        # One statement compiled once (cached), sent as one multi-row INSERT: SQLAlchemy's "insertmanyvalues".
        inserted = dict(session.connection().execute(_insert(session), rows).tuples().all())  # key → id
        ids: dict[int, int] = {}  # position → the id of its row, for the deliveries this batch takes
        for key, position in sorted(first.items()):
            if key in inserted:
                ids[position] = inserted[key]
            else:
                retried = _take_again(session, key, deliveries[position][1])
                if retried is not None:
                    ids[position] = retried
        taken = _decide(session, deliveries, ids, per_minute)
        session.commit()
    return taken


def _insert(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = AlertEvent.__table__  # type: ignore[attr-defined]  # Core: no ORM bookkeeping per row
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=["dedup_key"])
    return statement.returning(table.c.dedup_key, table.c.id)


def _take_again(session: Session, key: str, now: datetime) -> int | None:
    """A delivery whose card Slack refused, or one left unfinished (no card posted) by a process that died while
    handling it, is taken again by exactly one retry."""
    unfinished = (col(AlertEvent.state) == "new") | (
        (col(AlertEvent.state) == "carded") & col(AlertEvent.message_ts).is_(None))
    return session.execute(update(AlertEvent).where(
        col(AlertEvent.dedup_key) == key,
        (col(AlertEvent.state) == "failed") | (unfinished & (col(AlertEvent.received_at) < now - UNFINISHED_AFTER)),
    ).values(state="new", received_at=now).returning(col(AlertEvent.id))).scalar_one_or_none()


def _decide(session: Session, deliveries: Sequence[tuple[Event, datetime]], ids: dict[int, int],
            per_minute: int) -> list[Taken]:
    if not ids:
        return [Taken("duplicate")] * len(deliveries)
    newest = max(now for _, now in deliveries)
    setting = session.get(AlertSetting, CHANNEL_SETTING)
    channel = setting.value if setting else None
    mutes = {row.target for row in session.execute(select(AlertMute)).scalars()
             if (as_utc(row.until) or newest) > newest}
    rules: dict[str, _Rule] = {}
    by_state: dict[tuple[str, int | None], list[int]] = {}
    taken: list[Taken] = []
    for position, (event, now) in enumerate(deliveries):
        row_id = ids.get(position)
        if row_id is None:
            taken.append(Taken("duplicate"))
        elif {f"imsi:{event.imsi}", f"rule:{event.rule}"} & mutes:
            by_state.setdefault(("muted", None), []).append(row_id)
            taken.append(Taken("muted", row_id))
        elif channel is None:
            by_state.setdefault(("unrouted", None), []).append(row_id)
            taken.append(Taken("unrouted", row_id))
        else:
            rule = rules.setdefault(event.rule, _Rule(None, {}, set()))
            limit = event.limit_mib
            if limit not in rule.storms:
                rule.storms[limit] = _storm(session, storm_key(event.rule, limit), now)
            storm = rule.storms[limit]
            if storm is None and rule.carded is None:
                rule.carded = _carded(session, event.rule, now, ids.values())
            if storm is None and (rule.carded or 0) < per_minute:
                rule.carded = (rule.carded or 0) + 1
                taken.append(Taken("card", row_id, channel))
                continue
            starts = False
            if storm is None:
                storm, starts = _start_storm(session, storm_key(event.rule, limit), now)
                rule.storms[limit] = storm
                if starts:
                    rule.started.add(limit)
            assert storm.id is not None
            by_state.setdefault(("folded", storm.id), []).append(row_id)
            taken.append(Taken("folded", row_id, channel, storm.id, starts))
    for (state, storm_id), rows in by_state.items():
        values: dict[str, Any] = {"state": state} if storm_id is None else {"state": state, "storm_id": storm_id}
        session.execute(update(AlertEvent).where(col(AlertEvent.id).in_(rows)).values(**values)
                        .execution_options(synchronize_session=False))
    for name, rule in sorted(rules.items()):
        for limit, storm in rule.storms.items():
            if storm is None:
                continue
            storm.last_at = newest
            session.add(storm)
            if limit in rule.started:  # the cards of the last minute belong to the storm: "Slow down all" too
                same_limit = col(AlertEvent.limit_mib).is_(None) if limit is None else \
                    col(AlertEvent.limit_mib) == limit
                session.execute(update(AlertEvent).where(
                    col(AlertEvent.rule) == name, same_limit, col(AlertEvent.state).in_(CARDED),
                    col(AlertEvent.received_at) > newest - STORM_WINDOW, col(AlertEvent.storm_id).is_(None))
                    .values(storm_id=storm.id).execution_options(synchronize_session=False))
    return taken


def _carded(session: Session, rule: str, now: datetime, batch: Any) -> int:
    """The rule's cards of the last minute, whatever their limit (the cards a minute are the rule's); counted only
    while a limit of it has no storm going (a storm's minute holds thousands of the rule's rows)."""
    return session.execute(select(func.count()).select_from(AlertEvent).where(
        col(AlertEvent.rule) == rule, col(AlertEvent.state).in_(CARDED),
        col(AlertEvent.received_at) > now - STORM_WINDOW, col(AlertEvent.id).not_in(list(batch)))).scalar_one()


def _storm(session: Session, key: str, now: datetime) -> AlertStorm | None:
    """The storm of this rule and limit still going (an event of it in the last minute)."""
    return session.execute(select(AlertStorm).where(col(AlertStorm.alert) == key,
                                                    col(AlertStorm.last_at) > now - STORM_WINDOW)
                           .order_by(col(AlertStorm.id).desc())).scalars().first()


def _start_storm(session: Session, key: str, now: datetime) -> tuple[AlertStorm, bool]:
    """Exactly one storm per rule, limit and starting minute, whichever replica sees it first; True: this one did
    (and posts its summary: posting_at)."""
    minute = now.strftime("%Y%m%d%H%M")
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    made = session.execute(dialect.insert(AlertStorm).values(alert=key, minute=minute, started_at=now, last_at=now,
                                                             posting_at=now)
                           .on_conflict_do_nothing(index_elements=["alert", "minute"])
                           .returning(col(AlertStorm.id))).scalar_one_or_none()
    storm = session.execute(select(AlertStorm).where(col(AlertStorm.alert) == key, col(AlertStorm.minute) == minute)
                            ).scalars().one()
    return storm, made is not None
