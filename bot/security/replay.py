"""Signed Slack requests run once: a replay within the signature window, or Slack's retry of an event, is dropped.

The database calls run in the database's threads (`off_loop`), off the event loop that acks Slack."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from bot.store import Database, off_loop
from bot.store.tables import SeenRequest

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


@off_loop
def remember(db: Database, key: str, expires_at: datetime) -> bool:
    """True the first time a key is seen (in any process sharing the database), False for every later time."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(SeenRequest).values(key=key, expires_at=expires_at).on_conflict_do_nothing()
                 .returning(col(SeenRequest.key)))  # psycopg 3 gives rowcount -1 here: the returned row is the answer
    with db.engine.begin() as connection:
        return connection.execute(statement).first() is not None


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
