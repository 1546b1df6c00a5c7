"""GET /healthz: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.store import Database
from bot.store.tables import SeenRequest

CHECK_TIMEOUT_SECONDS = 5.0


def database_answers(db: Database) -> bool:
    """A read of a real table: SQLite answers `SELECT 1` without opening the file at all."""
    try:
        with db.session() as session:
            session.exec(select(SeenRequest.key).limit(1)).all()
    except SQLAlchemyError:
        return False
    return True


async def database_usable(db: Database) -> bool:
    """An unreachable PostgreSQL host can hang a connect for minutes: the probe answers within the timeout."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(database_answers, db), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return False
