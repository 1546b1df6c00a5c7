"""What makes /healthz 503 besides the database: the bot cannot work (its SQLite file is gone, or serve's worker
process is down or hung)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import make_url

from bot.store.db import normalise_url


class Worker(Protocol):
    async def responsive(self) -> bool: ...


def sqlite_file_missing(url: str) -> bool:
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return False
    return not parsed.database.startswith("file:") and not Path(parsed.database).exists()


async def serving_problem(url: str, worker: Worker | None) -> str | None:
    """Why the bot cannot work now, in a word for /healthz; None when it can."""
    if sqlite_file_missing(url):
        return "database file missing"
    if worker is not None and not await worker.responsive():
        return "worker down or unresponsive"
    return None
