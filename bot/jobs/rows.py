"""What the job store reads and writes, as plain values: a job (`Pending`), its items and their ends. The layers
above see jobs only as these, never as the database's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.jobs.states import ItemState, JobState


@dataclass(frozen=True)
class Pending:
    id: str
    user_id: str
    team_id: str | None
    channel_id: str | None
    action: str
    args: dict[str, Any]
    command: str
    summary: str
    requires_code: bool
    state: JobState
    created_at: datetime
    expires_at: datetime
    result: dict[str, Any] | None
    attempts: int = 0
    view_id: str | None = None
    message_ts: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    @property
    def resumed(self) -> bool:
        """Taken over after the process that started it stopped: some of it may have been done."""
        return self.attempts > 1


@dataclass(frozen=True)
class ItemEnd:
    item: str
    reason: str | None = None  # None: done

    @property
    def state(self) -> str:
        return ItemState.failed if self.reason else ItemState.done


@dataclass(frozen=True)
class Item:
    item: str
    name: str
    state: ItemState
    reason: str | None
