"""Whether a failure means the database cannot be used at all (down, unreachable, restarting), as against a bug: the
user is told "unavailable; nothing was done" and a sender that retries (SORACOM) gets a 503."""

from __future__ import annotations

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

OUTAGES = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def database_unavailable(exc: BaseException) -> bool:
    """The exception, or one it was raised from, is the database refusing or failing to connect (a locked SQLite
    is not: that one is busy, and says so itself)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OUTAGES):
            return "database is locked" not in str(getattr(current, "orig", current))
        current = current.__cause__ or current.__context__
    return False
