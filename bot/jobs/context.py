"""What an executor knows of the job it runs: who asked, where, in which language, and their role as last read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.security.roles import Role


@dataclass
class RoleReading:
    """A user's role as last read, and when (loop time): requests derived from one share it, so a bulk run's
    workers share one read per SORACOM call."""

    role: Role
    read_at: float | None = None
    # The read on its way (loop time it was asked, the read): workers that find the reading stale meanwhile join it.
    asking: tuple[float, asyncio.Future[Role]] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class JobContext:
    """The engine builds it from the job's row: the same for a job run where it was confirmed and for one taken over
    (whose owner's role is read again from the database, and whose language is asked of the chat again)."""

    job_id: str
    user_id: str
    team_id: str | None
    channel_id: str | None
    reading: RoleReading  # shared by everything the job does: a read serves a bulk run's workers for a moment
    lang: str
    command: str  # the command line that asked for the job, as its audit rows record it
