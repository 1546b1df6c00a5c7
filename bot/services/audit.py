"""The audit log: who did what, when, to what, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from datetime import datetime

from sqlmodel import col, select

from bot.store import Database, off_loop, outbox
from bot.store.tables import AuditEvent, as_utc, utcnow

MAX_ERROR_LENGTH = 500


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
