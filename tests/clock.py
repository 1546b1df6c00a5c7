from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

# Every test starts at this instant, whatever the real date: a mid-month weekday, 14:20 JST. CI runs the
# date-sensitive tests again with TEST_NOW set to month ends, New Year's Eve and a leap day (.ci/run).
PINNED = datetime(2026, 12, 7, 5, 20, tzinfo=timezone.utc)


def pinned_now() -> datetime:
    """TEST_NOW (ISO 8601, e.g. 2028-02-29T14:59:00+00:00) when set, else PINNED."""
    given = os.environ.get("TEST_NOW")
    if not given:
        return PINNED
    moment = datetime.fromisoformat(given)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Clock:
    """The bot's clock in tests: starts at the pinned instant, moves only when told, or with the real time elapsed
    once `run()` (for what a test waits out for real, such as SORACOM's rate limit)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._base = start or pinned_now()
        self._running_since: float | None = None

    @property
    def now(self) -> datetime:
        if self._running_since is None:
            return self._base
        return self._base + timedelta(seconds=time.monotonic() - self._running_since)

    @now.setter
    def now(self, moment: datetime) -> None:
        self._base = moment
        if self._running_since is not None:
            self._running_since = time.monotonic()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self._base += timedelta(seconds=seconds)

    def run(self) -> None:
        self.now = self.now
        self._running_since = time.monotonic()
