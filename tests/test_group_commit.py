"""Group commit of the replay check and of the handled-marks (bot.store.group_commit): requests arriving together
share one transaction, and each still gets its own answer, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from bot.security import replay
from bot.store import Database
from bot.store.tables import SeenRequest
from tests.clock import pinned_now


async def test_checks_arriving_together_are_one_transaction_and_each_gets_its_own_answer(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    expires = pinned_now() + timedelta(minutes=6)
    transactions = 0
    run = db.run

    async def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return await run(fn, *args, **kwargs)

    db.run = counted  # type: ignore[method-assign]
    keys = [f"sig:1:v0={n % 40}" for n in range(60)]  # 40 keys, 20 of them sent twice, in one burst
    held = replay.Taken("worker-a", "U1", "C1", "/sim list")
    first = await asyncio.gather(*(replay.remember(db, key, expires, held) for key in keys))
    assert first == [n < 40 for n in range(60)]  # the first copy of each key runs, its replay does not
    assert transactions <= 2  # the first check alone, then everything that arrived while it was written
    assert not await replay.remember(db, keys[0], expires)

    await asyncio.gather(*(replay.done(db, key) for key in keys[:30]))
    with db.session() as session:
        owners = {row.key: row.owner for row in session.exec(select(SeenRequest))}
    assert owners == {key: (None if key in keys[:30] else "worker-a") for key in keys[:40]}
    db.dispose()


async def test_a_refused_transaction_fails_each_check_in_it(database_url: str) -> None:
    db = Database(database_url)  # no schema: the table is missing, so every write is refused
    results = await asyncio.gather(*(replay.remember(db, f"sig:1:v0={n}", pinned_now()) for n in range(5)),
                                   return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results)
    db.dispose()
