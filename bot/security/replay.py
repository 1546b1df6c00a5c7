"""Signed Slack requests run once: a replay within the signature window, or Slack's retry of an event, is dropped.

The database calls run in the database's threads (`off_loop`), off the event loop that acks Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import col

from bot.store import Database, off_loop
from bot.store.group_commit import group_commit
from bot.store.tables import SeenRequest, WorkerBeat, utcnow

# bolt (slack_sdk's SignatureVerifier) accepts a timestamp up to 5 minutes either side of now; a copy of a request
# can verify until its timestamp + 5 minutes. One more minute covers clock differences between bot processes.
SIGNATURE_WINDOW = timedelta(minutes=5)
SIGNATURE_MARGIN = timedelta(minutes=1)
# Slack retries an event three times within about 5 minutes (immediately, after 1 and after 5 minutes).
EVENT_MEMORY = timedelta(hours=1)


def signature_key(timestamp: int, signature: str) -> str:
    return f"sig:{timestamp}:{signature}"[:128]


def event_key(team_id: str, event_id: str) -> str:
    return f"event:{team_id}:{event_id}"[:128]


def signature_expiry(timestamp: datetime) -> datetime:
    return timestamp + SIGNATURE_WINDOW + SIGNATURE_MARGIN


@dataclass(frozen=True)
class Taken:
    """An acked request a worker took: whose, where, and what it asked (never an /mfa code: `describe`)."""

    owner: str
    user_id: str
    channel_id: str | None
    command: str
    key: str = ""


async def remember(db: Database, key: str, expires_at: datetime, taken: Taken | None = None) -> bool:
    """True the first time a key is seen (in any process sharing the database), False for every later time.
    `taken`: the request is held by that worker until `done`. Group-committed: the checks of requests that arrive
    together are one transaction."""
    return await group_commit(db, _remember_all)((key, expires_at, taken))


def _remember_all(connection: Connection, checks: Sequence[tuple[str, datetime, Taken | None]]) -> list[bool]:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    first: dict[int, bool] = {}
    # In key order: two processes' transactions holding the same keys then wait on each other, never deadlock.
    for index, (key, expires_at, taken) in sorted(enumerate(checks), key=lambda check: check[1][0]):
        held = {} if taken is None else {"owner": taken.owner, "user_id": taken.user_id[:32],
                                         "channel_id": (taken.channel_id or "")[:32] or None,
                                         "command": taken.command}
        statement = (dialect.insert(SeenRequest).values(key=key, expires_at=expires_at, **held)
                     .on_conflict_do_nothing()
                     .returning(col(SeenRequest.key)))  # psycopg 3 gives rowcount -1 here: the returned row answers
        first[index] = connection.execute(statement).first() is not None
    return [first[index] for index in range(len(checks))]


@off_loop
def purge_expired(db: Database, now: datetime) -> int:
    with db.engine.begin() as connection:
        return len(connection.execute(delete(SeenRequest).where(col(SeenRequest.expires_at) < now)
                                      .returning(col(SeenRequest.key))).all())


@off_loop
def forget(db: Database, key: str) -> None:
    """For work that failed before it started: the next copy (Slack's retry) may do it."""
    with db.engine.begin() as connection:
        connection.execute(delete(SeenRequest).where(col(SeenRequest.key) == key))


async def done(db: Database, key: str) -> None:
    """The listener of a request a worker took has ended (however it ended: a failure is told by the listener).
    Group-committed with other requests' ends: a worker that dies before the transaction is written leaves those
    requests held, and their users are told they may not have run, as when it dies just before its own write."""
    await group_commit(db, _done_all)(key)


def _done_all(connection: Connection, keys: Sequence[str]) -> list[None]:
    connection.execute(update(SeenRequest).where(col(SeenRequest.key).in_(sorted(set(keys))),
                                                 col(SeenRequest.owner).is_not(None)).values(owner=None))
    return [None] * len(keys)


@off_loop
def take_unfinished(db: Database, owner: str, silent_for: timedelta, limit: int = 50) -> list[Taken]:
    """Requests taken by workers silent for `silent_for` (dead) whose listener never ended, now `owner`'s and
    ended: of two sweepers, one takes each."""
    cutoff = utcnow() - silent_for
    alive = select(col(WorkerBeat.worker_id)).where(col(WorkerBeat.seen_at) >= cutoff)
    taken: list[Taken] = []
    with db.engine.begin() as connection:
        rows = connection.execute(select(SeenRequest).where(col(SeenRequest.owner).is_not(None),
                                                            col(SeenRequest.owner) != owner,
                                                            col(SeenRequest.owner).not_in(alive))
                                  .limit(limit)).mappings().all()
        for row in rows:
            won = connection.execute(update(SeenRequest).where(col(SeenRequest.key) == row["key"],
                                                               col(SeenRequest.owner) == row["owner"])
                                     .values(owner=None))
            if won.rowcount == 1:
                taken.append(Taken(row["owner"], row["user_id"] or "", row["channel_id"], row["command"] or "",
                                   row["key"]))
    return taken


def key_of(headers: dict[str, list[str]] | dict[str, str]) -> str | None:
    """The key of a signed request as bolt hands it to a listener (its headers), or None."""
    def first(name: str) -> str:
        value = headers.get(name) or ""
        return value[0] if isinstance(value, list) and value else value if isinstance(value, str) else ""

    timestamp, signature = first("x-slack-request-timestamp"), first("x-slack-signature")
    if not timestamp.isdigit() or not signature:
        return None
    return signature_key(int(timestamp), signature)
