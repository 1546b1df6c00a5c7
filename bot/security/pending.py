"""Pending actions: an action waits for its owner's confirmation (and code, where gated) and runs once."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, update

from bot.store import Database, off_loop
from bot.store.tables import PendingAction, as_utc, utcnow

LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class Pending:
    id: str
    user_id: str
    team_id: str | None
    channel_id: str | None
    action: str
    args: dict[str, Any]
    command: str
    summary: str
    requires_code: bool
    state: str
    created_at: datetime
    expires_at: datetime
    result: dict[str, Any] | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


class PendingActions:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow, lifetime: timedelta = LIFETIME) -> None:
        self.db = db
        self.clock = clock
        self.lifetime = lifetime

    @off_loop
    def create(
        self,
        *,
        user_id: str,
        action: str,
        args: dict[str, Any],
        requires_code: bool,
        team_id: str | None = None,
        channel_id: str | None = None,
        command: str = "",
        summary: str = "",
    ) -> Pending:
        now = self.clock()
        row = PendingAction(
            id=secrets.token_hex(12),
            slack_user_id=user_id,
            team_id=team_id,
            channel_id=channel_id,
            action=action,
            args_json=json.dumps(args),
            command=command[:200],
            summary=summary,
            requires_code=requires_code,
            created_at=now,
            expires_at=now + self.lifetime,
        )
        with self.db.session() as session:
            session.add(row)
            session.commit()
        return _view(row)

    @off_loop
    def get(self, pending_id: str) -> Pending | None:
        with self.db.session() as session:
            row = session.get(PendingAction, pending_id)
        return _view(row) if row is not None else None

    @off_loop
    def claim(self, pending_id: str) -> bool:
        """pending → running, atomically: exactly one caller wins, however many try at once."""
        with self.db.session() as session:
            result = session.exec(
                update(PendingAction)
                .where(
                    col(PendingAction.id) == pending_id,
                    col(PendingAction.state) == "pending",
                    col(PendingAction.expires_at) > self.clock(),
                )
                .values(state="running")
            )
            session.commit()
        return result.rowcount == 1  # type: ignore[attr-defined]

    @off_loop
    def finish(self, pending_id: str, state: str, result: dict[str, Any] | None = None) -> None:
        with self.db.session() as session:
            session.exec(
                update(PendingAction)
                .where(col(PendingAction.id) == pending_id)
                .values(state=state, finished_at=self.clock(), result_json=json.dumps(result) if result else None)
            )
            session.commit()

    @off_loop
    def cancel(self, pending_id: str) -> bool:
        with self.db.session() as session:
            result = session.exec(
                update(PendingAction)
                .where(col(PendingAction.id) == pending_id, col(PendingAction.state) == "pending")
                .values(state="cancelled", finished_at=self.clock())
            )
            session.commit()
        return result.rowcount == 1  # type: ignore[attr-defined]


def _view(row: PendingAction) -> Pending:
    return Pending(
        id=row.id,
        user_id=row.slack_user_id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        action=row.action,
        args=json.loads(row.args_json),
        command=row.command,
        summary=row.summary,
        requires_code=row.requires_code,
        state=row.state,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        expires_at=as_utc(row.expires_at),  # type: ignore[arg-type]
        result=json.loads(row.result_json) if row.result_json else None,
    )
