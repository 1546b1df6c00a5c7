"""The audit log: who did what, when, to what, and how it ended."""

from __future__ import annotations

import hashlib
import logging
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, delete, select, update

from bot.services.errors import NotRecorded
from bot.store import Database, off_loop, outbox
from bot.store.tables import AuditEvent, WorkerBeat, as_utc, utcnow

MAX_ERROR_LENGTH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where."""

    user_id: str
    team_id: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    user_id: str
    team_id: str | None
    channel_id: str | None
    command: str
    action: str
    target: str | None
    result: str
    error: str | None


def values(
    actor: Actor,
    *,
    command: str,
    action: str,
    target: str | None,
    result: str,
    error: str | None = None,
) -> dict[str, Any]:
    """An audit row's columns: `record` writes one; a job's items write theirs in bulk with the state they report,
    as a plain insert of many rows, which costs a fraction of as many validated models."""
    return {"at": utcnow(), "slack_user_id": actor.user_id, "team_id": actor.team_id,
            "channel_id": actor.channel_id, "command": command, "action": action, "target": target or None,
            "result": result, "error": (error or None) and error[:MAX_ERROR_LENGTH]}


async def record(
    db: Database,
    actor: Actor,
    *,
    command: str,
    action: str,
    target: str | None,
    result: str,
    error: str | None = None,
) -> bool:
    """True once the row is in the database; False when the database refused it and it waits in the outbox (logged
    as an ERROR): whoever acted should hear that its record is pending."""
    row = values(actor, command=command, action=action, target=target, result=result, error=error)
    return await outbox.save(db, [row])


@off_loop
def latest(db: Database, limit: int, user_id: str | None = None) -> list[AuditEntry]:
    """The newest entries first; only `user_id`'s own when given."""
    query = select(AuditEvent)
    if user_id is not None:
        query = query.where(col(AuditEvent.slack_user_id) == user_id)
    with db.session() as session:
        rows = session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
    return [
        AuditEntry(
            at=as_utc(row.at),  # type: ignore[arg-type]
            user_id=row.slack_user_id,
            team_id=row.team_id,
            channel_id=row.channel_id,
            command=row.command,
            action=row.action,
            target=row.target,
            result=row.result,
            error=row.error,
        )
        for row in rows
    ]


# Intents: the row of a write, written `started` before the write is made, and ended with its outcome.

STARTED = "started"


def intent_key(job_id: str, action: str, target: str | None) -> str:
    """A job's intent has the same key in every attempt: the takeover's reopens it, and it ends once."""
    return hashlib.sha256(f"{job_id}\x00{action}\x00{target or ''}".encode()).hexdigest()[:32]


@off_loop
def open_intent(db: Database, actor: Actor, *, command: str, action: str, target: str | None, owner: str,
                job_id: str | None = None, readback: dict[str, Any] | None = None) -> str:
    """Commits the intent before the write; returns its key. Raises while the database refuses: then nothing may
    be written to SORACOM, since nothing would say it was."""
    key = intent_key(job_id, action, target) if job_id else outbox.new_key()
    row = {**values(actor, command=command, action=action, target=target, result=STARTED), "record_key": key,
           "owner": owner, "job_id": job_id, "readback_json": json.dumps(readback) if readback else None}
    try:
        outbox._insert(db, [row])  # a job's intent again (taken over): the same row, `started` by its new owner
    except SQLAlchemyError as exc:
        log.warning("database refused the intent of %s (%s); not done", action, type(exc).__name__)
        raise NotRecorded(action) from exc
    return key


async def close_intent(db: Database, actor: Actor, key: str, *, command: str, action: str, target: str | None,
                       result: str, error: str | None = None) -> bool:
    """The intent's outcome, in its own row; kept in the outbox while the database refuses (see `record`)."""
    row = {**values(actor, command=command, action=action, target=target, result=result, error=error),
           "record_key": key, "owner": None}
    return await outbox.save(db, [row])


@off_loop
def drop_intent(db: Database, key: str) -> None:
    """An intent whose block recorded nothing of its own (an inner one recorded the failure)."""
    with db.engine.begin() as connection:
        connection.execute(delete(AuditEvent).where(col(AuditEvent.record_key) == key))


@off_loop
def beat(db: Database, worker_id: str) -> None:
    """This process is alive (its open intents are its own to end)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = dialect.insert(WorkerBeat).values(worker_id=worker_id, seen_at=now)
    with db.engine.begin() as connection:
        connection.execute(statement.on_conflict_do_update(index_elements=["worker_id"], set_={"seen_at": now}))


@dataclass(frozen=True)
class OpenIntent:
    key: str
    user_id: str
    team_id: str | None
    channel_id: str | None
    command: str
    action: str
    target: str | None
    readback: dict[str, Any]


@off_loop
def take_orphans(db: Database, owner: str, silent_for: timedelta, limit: int = 20) -> list[OpenIntent]:
    """Open intents (not a job's: its takeover ends them) of processes silent for `silent_for`, now `owner`'s:
    of two sweepers, one takes each."""
    cutoff = utcnow() - silent_for
    alive = select(WorkerBeat.worker_id).where(col(WorkerBeat.seen_at) >= cutoff)
    taken: list[OpenIntent] = []
    with db.engine.begin() as connection:
        rows = connection.execute(
            select(AuditEvent).where(col(AuditEvent.owner).is_not(None), col(AuditEvent.owner) != owner,
                                     col(AuditEvent.job_id).is_(None), col(AuditEvent.result) == STARTED,
                                     col(AuditEvent.at) < cutoff, col(AuditEvent.owner).not_in(alive))
            .limit(limit)).mappings().all()
        for row in rows:
            won = connection.execute(update(AuditEvent).where(col(AuditEvent.record_key) == row["record_key"],
                                                              col(AuditEvent.owner) == row["owner"])
                                     .values(owner=owner))
            if won.rowcount == 1:
                taken.append(OpenIntent(row["record_key"], row["slack_user_id"], row["team_id"], row["channel_id"],
                                        row["command"], row["action"], row["target"],
                                        json.loads(row["readback_json"] or "{}")))
    return taken


async def write_kept(db: Database) -> int:
    """Writes the rows kept while the database refused them (bot.store.outbox); raises while it still refuses."""
    return await db.run(outbox.flush, db)
