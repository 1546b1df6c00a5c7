"""Engine and sessions from DATABASE_URL; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

from bot.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

# A locked SQLite database makes a write wait this long before it fails plainly; the wait happens in a database
# thread, so it delays replies, never acks.
BUSY_TIMEOUT_SECONDS = 15
DB_THREADS = 4

P = ParamSpec("P")
R = TypeVar("R")
Owner = TypeVar("Owner")


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg 3, the driver this project installs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            make_private_sqlite_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_private_sqlite_file(path: Path) -> None:
    """The database (and the -wal/-shm files SQLite later creates with the database file's mode) readable by the
    bot's user alone; a folder made for it is 0700. An existing folder is left as it is: it may be shared."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # exist_ok: another process may be quicker
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # an empty file is an empty SQLite database
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)  # files an older version left 0644


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets a second bot process read while one writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # a killed process loses no commit in WAL; only a power cut could
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """The engine, and the threads every database call runs in: the event loop that acks Slack never waits on it."""

    def __init__(self, url: str, *, outbox: Path | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.outbox = outbox  # where rows the database refused wait (bot.store.outbox)
        self.unwritten: list[Any] = []  # such rows when even that file cannot be written (a full disk)
        self._threads = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="db")

    async def run(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(fn, *args, **kwargs))

    def create_schema(self) -> None:
        """Brings the schema to the newest migration, as the bot does at start (bot.store.migrations)."""
        from bot.store.migrations import upgrade

        upgrade(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()


def off_loop(fn: Callable[Concatenate[Owner, P], R]) -> Callable[Concatenate[Owner, P], Awaitable[R]]:
    """Makes a blocking database function awaitable; its first argument is the Database, or owns one as `.db`."""

    @functools.wraps(fn)
    async def call(holder: Owner, /, *args: P.args, **kwargs: P.kwargs) -> R:
        db = holder if isinstance(holder, Database) else holder.db  # type: ignore[attr-defined]
        return await db.run(fn, holder, *args, **kwargs)

    return call
