"""Rows that must not be lost while the database refuses them (locked, full, restarting, unreachable).

An audit row reports something SORACOM has already done: when the database will not take it, it is kept in a
file in the data folder (mode 0600), or in memory when even that file cannot be written, and written as soon as the
database works again. Every row carries its own `record_key`, so a row written twice (a retry after a commit whose
answer was lost, a flush interrupted between the insert and the file's removal) is one row.

Each attempt is a fresh Core statement built from plain values: no ORM object outlives a failed attempt (an object
a failed commit had marked as saved would make the retry send no INSERT at all and "succeed").

A line of the file that cannot be read (what a kill or a full disk leaves mid-write) is moved to a quarantine file
next to it, with an ERROR line in the log: it never stops the start, the job sweeper or the flush of the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.store.db import Database
from bot.store.tables import AuditEvent

log = logging.getLogger(__name__)

RETRY_AFTER = 0.5  # seconds before the first retry, doubled for the next; a locked SQLite already waited
ATTEMPTS = 3
_file_lock = threading.Lock()  # the threads of one process; flock() orders the processes sharing the folder

Row = Mapping[str, Any]
COLUMNS = tuple(column.name for column in AuditEvent.__table__.columns if column.name != "id")  # type: ignore[attr-defined]


def new_key() -> str:
    return secrets.token_hex(16)


async def save(db: Database, rows: Sequence[Row]) -> bool:
    """Writes the audit rows (`audit.values`); True once they are in the database. When the database refuses them
    after the retries, they are kept (outbox file, else memory), an ERROR is logged, and False is returned: the
    caller tells the user that the change was made and its record is pending."""
    rows = [row if row.get("record_key") else {**row, "record_key": new_key()} for row in rows]
    problem: BaseException | None = None
    for attempt in range(ATTEMPTS):
        try:
            await db.run(_insert, db, rows)
            return True
        except (DBAPIError, SQLAlchemyError) as exc:
            problem = exc
            if attempt < ATTEMPTS - 1:
                log.warning("database refused %d audit row(s) (%s); trying again", len(rows), _reason(exc))
                await asyncio.sleep(RETRY_AFTER * 2 ** attempt)
    log.error("database refused %d audit row(s) of actions already taken (%s); kept until it works again",
              len(rows), _reason(problem))
    await db.run(keep, db, rows)
    return False


def flush(db: Database) -> int:
    """Writes what the outbox holds (file and memory); returns how many rows. Called at start and by the job
    sweeper. Unreadable lines go to the quarantine file; a database that still refuses raises, the rows kept."""
    held = list(db.unwritten)
    path = db.outbox
    if not held and (path is None or not path.exists()):
        return 0  # nothing kept: no lock file either
    with _locked(path):
        rows = held + (_read(path) if path is not None and path.exists() else [])
        if rows:
            _insert(db, rows)  # raises while the database refuses: the rows stay where they are
        if path is not None:
            path.unlink(missing_ok=True)
    del db.unwritten[:len(held)]  # rows kept meanwhile were appended after these
    if rows:
        log.info("wrote %d audit row(s) kept while the database refused them", len(rows))
    return len(rows)


def _insert(db: Database, rows: Sequence[Row]) -> None:
    """One transaction; a row whose key is already there (an intent, or the row written by an earlier attempt)
    takes this row's outcome: written twice, it is one row."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(AuditEvent.__table__)  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(index_elements=["record_key"], set_={
        "result": statement.excluded.result, "error": statement.excluded.error, "target": statement.excluded.target,
        "action": statement.excluded.action, "owner": statement.excluded.owner})
    with db.engine.begin() as connection:
        connection.execute(statement, [{name: row.get(name) for name in COLUMNS} for row in rows])


def keep(db: Database, rows: Sequence[Row]) -> None:
    path = db.outbox
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(path):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as out:
                    # One write of whole lines: a partial write leaves at most one unreadable last line.
                    out.write("".join(json.dumps({"table": AuditEvent.__tablename__, "row": _plain(row)}) + "\n"
                                      for row in rows))
            return
        except OSError as exc:
            log.error("could not keep %d audit row(s) in %s (%s); kept in memory until the database works again",
                      len(rows), path, exc.strerror or type(exc).__name__)
    else:
        log.error("no data folder for the outbox: %d audit row(s) kept in memory until the database works again",
                  len(rows))
    db.unwritten.extend(rows)


def quarantine_path(path: Path) -> Path:
    return path.with_name(path.name + ".unreadable")


def _read(path: Path) -> list[Row]:
    """The file's rows; lines that cannot be read are appended to the quarantine file and the file rewritten
    without them, so they are never tried again."""
    good: list[Row] = []
    bad: list[str] = []
    keyless = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            kept = json.loads(line)
            keyless = keyless or not (kept.get("row") or {}).get("record_key")
            good.append(_row(kept))
        except (ValueError, TypeError, KeyError, AttributeError):
            bad.append(line)
    if keyless and not bad:
        _rewrite(path, good)  # rows an older version kept: their new keys are on file before they are written
    if bad:
        target = quarantine_path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in bad))
        log.error("%d unreadable line(s) of %s moved to %s; the other %d row(s) are written", len(bad), path,
                  target, len(good))
        _rewrite(path, good)
    return good


def _row(kept: Any) -> Row:
    if not isinstance(kept, dict) or kept.get("table") != AuditEvent.__tablename__ or not isinstance(kept["row"], dict):
        raise ValueError("not an outbox line")
    model = AuditEvent.model_validate(kept["row"])  # checks the columns and reads the time back
    row = model.model_dump(exclude={"id"})
    row["record_key"] = row.get("record_key") or new_key()
    return row


def _plain(row: Row) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in row.items()}


def _rewrite(path: Path, rows: Sequence[Row]) -> None:
    spare = path.with_name(path.name + ".tmp")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(json.dumps({"table": AuditEvent.__tablename__, "row": _plain(row)}) + "\n"
                          for row in rows))
    os.replace(spare, path)


@contextlib.contextmanager
def _locked(path: Path | None) -> Iterator[None]:
    """This process's threads, and the other processes using the same data folder (serve's two)."""
    with _file_lock:
        if path is None or not path.parent.exists():
            yield
            return
        fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def _reason(exc: BaseException | None) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(orig or exc).__name__}: {str(orig or exc).splitlines()[0][:200] if str(orig or exc) else ''}"


def outbox_path(data_dir: Path) -> Path:
    return data_dir / "outbox.jsonl"
