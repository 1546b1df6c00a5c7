"""Rows that must not be lost while the database refuses them (locked, restarting, unreachable).

An audit row reports something SORACOM has already done: when the database will not take it, it is kept in a
file in the data folder (mode 0600) and written as soon as the database works again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot.store.db import Database
from bot.store.tables import AuditEvent

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0  # seconds before the one retry; a locked SQLite has already waited its busy timeout
KEPT = {AuditEvent.__tablename__: AuditEvent}
_file_lock = threading.Lock()


async def save(db: Database, rows: Sequence[AuditEvent]) -> None:
    """Writes the rows; when the database refuses them twice, keeps them in the outbox file instead of failing."""
    for retry in (True, False):
        try:
            await db.run(_insert, db, rows)
            return
        except DBAPIError as exc:
            if retry:
                await asyncio.sleep(RETRY_AFTER)
                continue
            log.warning("database refused %d audit row(s) (%s); kept in the outbox until it works again",
                        len(rows), type(exc.orig).__name__)
    await db.run(_keep, db, rows)


def flush(db: Database) -> int:
    """Writes what the outbox holds; returns how many rows. Called at start and by the job sweeper."""
    path = db.outbox
    if path is None or not path.exists():
        return 0
    with _file_lock:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [KEPT[kept["table"]].model_validate(kept["row"]) for kept in map(json.loads, lines)]
        if rows:
            _insert(db, rows)
        path.unlink()
    if rows:
        log.info("wrote %d audit row(s) kept in the outbox", len(rows))
    return len(rows)


def _insert(db: Database, rows: Sequence[AuditEvent]) -> None:
    with db.session() as session:
        session.add_all(rows)
        session.commit()


def _keep(db: Database, rows: Sequence[AuditEvent]) -> None:
    path = db.outbox
    if path is None:
        log.error("no data folder for the outbox: %d audit row(s) lost", len(rows))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps({"table": row.__tablename__, "row": row.model_dump(mode="json")}) + "\n")


def outbox_path(data_dir: Path) -> Path:
    return data_dir / "outbox.jsonl"
