"""Group commit: small writes that arrive while one transaction is being written go together in the next.

Each caller awaits its own write's answer, as if it had written alone; the database sees one transaction (and one
hop to its threads) for however many arrived meanwhile. A failed transaction fails every write in it: each caller
handles that as it would its own write failing.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from bot.store.db import Database

W = TypeVar("W")
R = TypeVar("R")


class GroupCommit(Generic[W, R]):
    """Writes of one kind to one database, from one event loop: `write(connection, writes)` answers each, in order,
    inside one transaction."""

    def __init__(self, db: Database, write: Callable[[Connection, Sequence[W]], list[R]]) -> None:
        self.db, self.write = db, write
        self._waiting: list[tuple[W, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, item: W) -> R:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, answer))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_all())
        return await answer

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                answers = await self.db.run(self._transaction, [item for item, _ in batch])
            except BaseException as exc:  # every write in it failed; each caller hears so
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc if isinstance(exc, Exception) else RuntimeError("write cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, answer), result in zip(batch, answers, strict=True):
                if not answer.done():
                    answer.set_result(result)

    def _transaction(self, items: list[W]) -> list[R]:
        with self.db.engine.begin() as connection:
            return self.write(connection, items)


_COMMITTERS: weakref.WeakKeyDictionary[Any, dict[Any, GroupCommit[Any, Any]]] = weakref.WeakKeyDictionary()


def group_commit(db: Database, write: Callable[[Connection, Sequence[W]], list[R]]) -> GroupCommit[W, R]:
    """The committer of `write` on `db` for the running loop (futures belong to one loop)."""
    loop = asyncio.get_running_loop()
    per_db = _COMMITTERS.setdefault(loop, {})
    key = (id(db), write)
    committer = per_db.get(key)
    if committer is None or committer.db is not db:
        committer = per_db[key] = GroupCommit(db, write)
    return committer
