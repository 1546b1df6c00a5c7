"""Everything a running bot holds once: settings, database, SORACOM client, security services."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx

from bot.config import Settings
from bot.messages.locales import UserLanguages
from bot.security.crypto import SecretBox, load_or_create_key
from bot.security.mfa import Mfa
from bot.security.pending import PendingActions
from bot.soracom import SoracomClient, client_from_settings
from bot.store import Database, outbox
from bot.store.migrations import upgrade as upgrade_database
from bot.store.tables import utcnow

# RFC 6761 keeps *.localhost off the internet: links the embedded emulator builds can never reach a real host.
EMBEDDED_EMULATOR_ENDPOINT = "http://soracom-emulator.localhost"

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    soracom: SoracomClient
    mfa: Mfa
    pending: PendingActions
    sandbox: bool
    clock: Callable[[], datetime] = utcnow
    emulator: Any = None  # the embedded emulator's state, when the bot runs on it
    languages: UserLanguages = field(default_factory=UserLanguages)  # each Slack user's, from users.info
    # Who holds a job's lease: unique per process, readable in the database.
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:64])
    _held: dict[type, Any] = field(default_factory=dict, init=False, repr=False)

    def state(self, kind: type[T]) -> T:
        """This bot's one `kind`, made on first use: the registries of the layers above (gated actions, slash
        commands, tasks) belong to the bot, not the process, so that two bots can run in one process."""
        if kind not in self._held:
            self._held[kind] = kind()
        return self._held[kind]  # type: ignore[no-any-return]

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        soracom_transport: httpx.AsyncBaseTransport | None = None,
        emulator: Any = None,
        emulator_url: str = EMBEDDED_EMULATOR_ENDPOINT,
        clock: Callable[[], datetime] = utcnow,
    ) -> "Runtime":
        """On no SORACOM credentials, an embedded emulator answers: in-process unless a transport is given."""
        if settings.uses_emulator:
            if soracom_transport is None:
                from bot.emulator import EmulatorState, create_app

                emulator = emulator or EmulatorState()
                soracom_transport = httpx.ASGITransport(app=create_app(emulator))
            settings = settings.model_copy(update={"SORACOM_ENDPOINT": emulator_url})
        upgrade_database(settings.DATABASE_URL)
        db = Database(settings.DATABASE_URL, outbox=outbox.outbox_path(settings.data_dir))
        outbox.flush(db)
        box = SecretBox(load_or_create_key(settings.BOT_SECRET_KEY, settings.data_dir))
        return cls(
            settings=settings,
            db=db,
            soracom=client_from_settings(settings, transport=soracom_transport),
            mfa=Mfa(db, box, clock=clock),
            pending=PendingActions(db, clock=clock, lease=timedelta(seconds=settings.BOT_JOB_LEASE_SECONDS)),
            sandbox=settings.uses_emulator,
            clock=clock,
            emulator=emulator,
        )

    async def aclose(self) -> None:
        await self.soracom.aclose()
        self.db.dispose()
