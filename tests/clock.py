from __future__ import annotations

from datetime import datetime, timedelta, timezone


class Clock:
    """The bot's clock in tests: starts now, moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
