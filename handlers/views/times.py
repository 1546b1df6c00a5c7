"""Times as people read them: in BOT_TIMEZONE, always with the zone, so that 09:00 is never misread."""

from __future__ import annotations

from datetime import datetime, tzinfo


def local_time(moment: datetime, zone: tzinfo, *, short: bool = False) -> str:
    """`2026-12-07 15:02 JST`, or `15:02 JST` where the day is plain from what is around it."""
    return moment.astimezone(zone).strftime("%H:%M %Z" if short else "%Y-%m-%d %H:%M %Z")
