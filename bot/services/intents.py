"""Open intents left by a process that died: each is read back from SORACOM with the read-back its action
registered, and ends `ok` (it was done), `failed` (it was not) or `unknown` (no read-back, or the read failed)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.services import audit
from bot.store import Database

log = logging.getLogger(__name__)

# The arguments the write's `audited(readback=…)` stored; True: SORACOM shows the change, False: it does not.
ReadBack = Callable[[dict[str, Any]], Awaitable[bool]]


class Verdict(StrEnum):
    done = "ok"
    not_done = "failed"
    unknown = "unknown"


class ReadBacks(dict[str, ReadBack]):
    """By action name (`sim.tag`, `group.create`…): how to tell whether a write of it was made."""


async def read_back(read_backs: ReadBacks, intent: audit.OpenIntent) -> Verdict:
    check = read_backs.get(intent.action)
    if check is None or not intent.readback:
        return Verdict.unknown
    try:
        return Verdict.done if await check(intent.readback) else Verdict.not_done
    except Exception:  # noqa: BLE001 - SORACOM unreachable, the thing gone: it may or may not have been done
        log.warning("reading back %s on %s failed", intent.action, intent.target, exc_info=True)
        return Verdict.unknown


async def resolve(db: Database, read_backs: ReadBacks, owner: str,
                  silent_for: timedelta) -> list[tuple[audit.OpenIntent, Verdict]]:
    """Ends the intents of processes silent for `silent_for`; returns them with how each ended."""
    ended = []
    for intent in await audit.take_orphans(db, owner, silent_for):
        verdict = await read_back(read_backs, intent)
        await audit.close_intent(db, audit.Actor(intent.user_id, intent.team_id, intent.channel_id), intent.key,
                                 command=intent.command, action=intent.action, target=intent.target,
                                 result=verdict.value, error=f"read back after a restart: {verdict.name}")
        log.info("intent %s (%s %s) left by a stopped process: read back, %s", intent.key, intent.action,
                 intent.target, verdict.name)
        ended.append((intent, verdict))
    return ended
