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


class DatabaseProbe:
    """An unreachable PostgreSQL host can hang a connect for minutes: the answer comes within the timeout, and
    health checks arriving meanwhile wait on the one probe in flight instead of tying up a thread each."""

    def __init__(self, db: Database, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.db = db
        self.timeout = timeout
        self._in_flight: asyncio.Future[bool] | None = None

    async def usable(self) -> bool:
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.ensure_future(asyncio.to_thread(database_answers, self.db))
        try:
            return await asyncio.wait_for(asyncio.shield(self._in_flight), self.timeout)
        except TimeoutError:
            return False
