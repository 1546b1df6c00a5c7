"""The job store. Pending actions: an action waits for its owner's confirmation (and code, where gated), then runs
once as a job.

A confirmed action is a job: the process that claims it holds a lease and renews it while working. When that
process dies, the lease lapses and another worker (or the same one, restarted) takes the job over. Bulk jobs
keep one row per item, written with the action, so a job taken over knows what is left.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert
from sqlmodel import col, select, update

from bot.jobs.rows import Item, ItemEnd, Pending
from bot.jobs.states import FINAL_STATES, ItemState, JobState
from bot.store import Database, off_loop
from bot.store.driver import Statement
from bot.store.tables import AuditEvent, JobItem, PendingAction, UserRole, as_utc, utcnow

LIFETIME = timedelta(minutes=5)
LEASE = timedelta(seconds=30)


class LeaseLost(Exception):
    """The job passed to another run (its lease lapsed while this one was stopped): this run must stop."""


class PendingActions:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow, lifetime: timedelta = LIFETIME,
                 lease: timedelta = LEASE) -> None:
        self.db = db
        self.clock = clock
        self.lifetime = lifetime
        self.lease = lease

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
        items: Sequence[tuple[str, str]] = (),
    ) -> Pending:
        """The action, and its items (id, name) when it has several, in one transaction."""
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
            session.flush()
            session.add_all(JobItem(job_id=row.id, item=item, name=name[:200]) for item, name in dict(items).items())
            session.commit()
        return _view(row)

    @off_loop
    def get(self, pending_id: str) -> Pending | None:
        with self.db.session() as session:
            row = session.get(PendingAction, pending_id)
        return _view(row) if row is not None else None

    @off_loop
    def claim(self, pending_id: str, owner: str, *, view_id: str | None = None) -> bool:
        """pending → running under `owner`'s lease, atomically: exactly one caller wins, however many try at once."""
        now = self.clock()
        with self.db.session() as session:
            result = session.exec(
                update(PendingAction)
                .where(
                    col(PendingAction.id) == pending_id,
                    col(PendingAction.state) == JobState.pending,
                    col(PendingAction.expires_at) > now,
                )
                .values(state=JobState.running, lease_owner=owner, lease_until=now + self.lease, attempts=1,
                        view_id=view_id)
            )
            session.commit()
        return result.rowcount == 1

    @off_loop
    def take_over(self, owner: str) -> Pending | None:
        """The oldest running job whose lease lapsed (its process died), now under `owner`'s lease; None if none."""
        now = self.clock()
        with self.db.session() as session:
            orphans = session.exec(
                select(PendingAction)
                .where(col(PendingAction.state) == JobState.running, col(PendingAction.lease_until) < now)
                .order_by(col(PendingAction.lease_until))
                .limit(5)
            ).all()
            for row in orphans:
                # Conditional on the lease seen: of two workers taking over at once, one wins.
                won = session.exec(
                    update(PendingAction)
                    .where(col(PendingAction.id) == row.id, col(PendingAction.state) == JobState.running,
                           col(PendingAction.lease_owner) == row.lease_owner,
                           col(PendingAction.attempts) == row.attempts)
                    .values(lease_owner=owner, lease_until=now + self.lease, attempts=row.attempts + 1)
                )
                session.commit()
                if won.rowcount == 1:
                    session.refresh(row)
                    return _view(row)
        return None

    @off_loop
    def renew(self, pending_id: str, owner: str, attempt: int | None = None) -> bool:
        """Extends the lease; False when another worker took the job over (this one must stop). With `attempt`,
        also when this same process took it over after a hang: the earlier run must stop all the same."""
        with self.db.session() as session:
            result = session.exec(
                update(PendingAction)
                .where(*_held(pending_id, owner, attempt))
                .values(lease_until=self.clock() + self.lease)
            )
            session.commit()
        return result.rowcount == 1

    @off_loop
    def finish(self, pending_id: str, state: JobState, result: dict[str, Any] | None = None, *,
               owner: str | None = None, event: AuditEvent | None = None) -> bool:
        """Ends the job (with its audit row, in one transaction); with `owner`, only while that owner holds it."""
        assert state in FINAL_STATES
        conditions = [col(PendingAction.id) == pending_id]
        if owner is not None:
            conditions += [col(PendingAction.lease_owner) == owner, col(PendingAction.state) == JobState.running]
        with self.db.session() as session:
            ended = session.exec(
                update(PendingAction)
                .where(*conditions)
                .values(state=state, finished_at=self.clock(), lease_until=None,
                        result_json=json.dumps(result) if result else None)
            )
            if ended.rowcount == 1 and event is not None:
                session.add(event)
            session.commit()
        return ended.rowcount == 1

    @off_loop
    def cancel(self, pending_id: str) -> bool:
        with self.db.session() as session:
            result = session.exec(
                update(PendingAction)
                .where(col(PendingAction.id) == pending_id, col(PendingAction.state) == JobState.pending)
                .values(state=JobState.cancelled, finished_at=self.clock())
            )
            session.commit()
        return result.rowcount == 1

    @off_loop
    def set_message(self, pending_id: str, ts: str) -> None:
        """The channel message that shows the job's progress: a job taken over updates the same one."""
        with self.db.session() as session:
            session.exec(update(PendingAction).where(col(PendingAction.id) == pending_id).values(message_ts=ts))
            session.commit()

    # Items

    @off_loop
    def items(self, pending_id: str) -> list[Item]:
        # Plain rows, not ORM objects: a job of 10,000 SIMs reads them all when it starts.
        with self.db.engine.connect() as connection:
            rows = connection.execute(_ITEMS, {"b_job": pending_id}).all()
        return [Item(item, name, ItemState(state), reason) for item, name, state, reason in rows]

    @off_loop
    def add_items(self, pending_id: str, items: Sequence[tuple[str, str]]) -> list[Item]:
        """Items of an action an older version made without them (it kept its SIMs in its arguments)."""
        unique = dict(items)
        with self.db.session() as session:
            session.add_all(JobItem(job_id=pending_id, item=item, name=name[:200]) for item, name in unique.items())
            session.commit()
        return [Item(item, name[:200], ItemState.todo, None) for item, name in unique.items()]

    @off_loop
    def end_items(self, pending_id: str, ends: Sequence[ItemEnd], events: Sequence[dict[str, Any]], *,
                  owner: str | None = None, attempt: int | None = None,
                  role_of: str | None = None) -> str | None:
        """Items' outcomes and their audit rows (`audit.values`) in one transaction: neither is ever written
        without the other. With `owner`, only while that owner's `attempt` holds the job (else LeaseLost, nothing
        written): the run that took it over does those items again and records them, once. `role_of`: a user
        whose stored role (or None) is read in the same transaction and returned, the role check of the items to
        come at no extra trip to the database."""
        now = self.clock()
        # Run on the driver's cursor (bot.store.driver): the ORM's per-row update cost 1 ms a SIM, and SQLAlchemy's
        # Core execution path most of what remained.
        with self.db.engine.begin() as connection:
            # A no-op write of the job's row: checks the lease and, on PostgreSQL, holds the row until the commit,
            # so a takeover cannot slip between the check and these rows.
            if owner is not None:
                held = {"b_job": pending_id, "b_state": JobState.running, "b_owner": owner, "b_attempt": attempt}
                if (_HOLD_ATTEMPT if attempt is not None else _HOLD).run(connection, held) != 1:
                    raise LeaseLost(pending_id)
            # Few statements, each for many rows: SQLite lets other threads run around each step of a statement,
            # so a statement a row cost a hand-over of Python's lock a row, and the event loop its time.
            same: dict[tuple[str, str | None], list[str]] = {}
            for end in ends:
                same.setdefault((end.state, end.reason), []).append(end.item)
            for (state, reason), items in same.items():
                for chunk in _chunks(items):
                    ending = _end_items(len(chunk))
                    ending.run(connection, {"b_job": pending_id, "b_state": state, "b_reason": reason, "b_now": now,
                                            **dict(zip(_ITEM_NAMES, chunk))})
            for rows in _chunks(events):
                columns = tuple(rows[0])
                inserting, names = _insert_audit(len(rows), columns)
                inserting.run(connection, {name: row[column] for row, row_names in zip(rows, names)
                                           for name, column in zip(row_names, columns)})
            if role_of is not None:
                stored: str | None = _ROLE_OF.scalar(connection, {"b_user": role_of})
                return stored
        return None


def _held(pending_id: Any, owner: Any, attempt: Any | None, state: Any = JobState.running) -> list[Any]:
    """The job's row while this run holds it: running, its lease this owner's (and of this attempt). Values or
    bindparams."""
    conditions = [col(PendingAction.id) == pending_id, col(PendingAction.state) == state,
                  col(PendingAction.lease_owner) == owner]
    if attempt is not None:
        conditions.append(col(PendingAction.attempts) == attempt)
    return conditions


_ITEMS = (select(col(JobItem.item), col(JobItem.name), col(JobItem.state), col(JobItem.reason))
          .where(col(JobItem.job_id) == bindparam("b_job")))

# An item log's transaction (`end_items`), each statement built once.
def _hold(attempt: Any | None) -> Statement:
    """The no-op write of the job's row, where the run holds it (`_held`): every value a bindparam, for the driver."""
    return Statement(update(PendingAction)
                     .where(*_held(bindparam("b_job"), bindparam("b_owner"), attempt, state=bindparam("b_state")))
                     .values(lease_owner=bindparam("b_owner")))


_HOLD, _HOLD_ATTEMPT = _hold(None), _hold(bindparam("b_attempt"))
_ROLE_OF = Statement(select(col(UserRole.role)).where(col(UserRole.slack_user_id) == bindparam("b_user")))


_ROWS = 32  # rows a statement at most: SQLite takes at most 32,766 values a statement (999 before 3.32)
_ITEM_NAMES = [f"b_item_{n}" for n in range(_ROWS)]
T = TypeVar("T")


def _chunks(rows: Sequence[T]) -> list[Sequence[T]]:
    return [rows[start:start + _ROWS] for start in range(0, len(rows), _ROWS)]


@functools.cache
def _end_items(count: int) -> Statement:
    """`count` items of a job ended alike (same state and reason)."""
    return Statement(
        update(JobItem)
        .where(col(JobItem.job_id) == bindparam("b_job"),
               col(JobItem.item).in_([bindparam(name) for name in _ITEM_NAMES[:count]]))
        .values(state=bindparam("b_state"), reason=bindparam("b_reason"), finished_at=bindparam("b_now")))


@functools.cache
def _insert_audit(count: int, columns: tuple[str, ...]) -> tuple[Statement, list[list[str]]]:
    """`count` audit rows (`audit.values`' columns) in one INSERT; each row's parameter names."""
    table = AuditEvent.__table__.columns  # type: ignore[attr-defined]
    names = [[f"{column}_{n}" for column in columns] for n in range(count)]
    return Statement(insert(AuditEvent).values([
        {column: bindparam(name, type_=table[column].type) for column, name in zip(columns, row)} for row in names
    ])), names


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
        state=JobState(row.state),
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        expires_at=as_utc(row.expires_at),  # type: ignore[arg-type]
        result=json.loads(row.result_json) if row.result_json else None,
        attempts=row.attempts,
        view_id=row.view_id,
        message_ts=row.message_ts,
    )
