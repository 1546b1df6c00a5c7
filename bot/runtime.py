"""Everything a running bot holds once: settings, database, SORACOM client, security services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bot.config import Settings
from bot.security.crypto import SecretBox, load_or_create_key
from bot.security.mfa import Mfa
from bot.security.pending import PendingActions
from bot.soracom import SoracomClient, client_from_settings
from bot.store import Database
from bot.store.tables import utcnow

log = logging.getLogger(__name__)

# RFC 6761 keeps *.localhost off the internet: links the embedded emulator builds can never reach a real host.
EMBEDDED_EMULATOR_ENDPOINT = "http://soracom-emulator.localhost"


@dataclass
class Background:
    """Tasks the bot starts after answering Slack; kept referenced so they finish, and awaitable by tests."""

    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())


@dataclass
class Runtime:
    settings: Settings
    db: Database
    soracom: SoracomClient
    mfa: Mfa
    pending: PendingActions
    sandbox: bool
    clock: Callable[[], datetime] = utcnow
    background: Background = field(default_factory=Background)
    emulator: Any = None  # the embedded emulator's state, when the bot runs on it

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        soracom_transport: httpx.AsyncBaseTransport | None = None,
        emulator: Any = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> "Runtime":
        """On no SORACOM credentials, an embedded emulator answers in-process (no network)."""
        if settings.uses_emulator and soracom_transport is None:
            from bot.emulator import EmulatorState, create_app

            emulator = emulator or EmulatorState()
            soracom_transport = httpx.ASGITransport(app=create_app(emulator))
        if settings.uses_emulator:
            settings = settings.model_copy(update={"SORACOM_ENDPOINT": EMBEDDED_EMULATOR_ENDPOINT})
        db = Database(settings.DATABASE_URL)
        db.create_schema()
        box = SecretBox(load_or_create_key(settings.BOT_SECRET_KEY, settings.data_dir))
        return cls(
            settings=settings,
            db=db,
            soracom=client_from_settings(settings, transport=soracom_transport),
            mfa=Mfa(db, box, clock=clock),
            pending=PendingActions(db, clock=clock),
            sandbox=settings.uses_emulator,
            clock=clock,
            emulator=emulator,
        )

    async def aclose(self) -> None:
        for task in list(self.background.tasks):
            task.cancel()
        await self.soracom.aclose()
        self.db.dispose()
