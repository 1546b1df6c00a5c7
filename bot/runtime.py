"""Everything a running bot holds once: settings, database, SORACOM client, security services.

The runtime factory: the one module that turns settings into a SORACOM client and builds the embedded emulator.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx

from bot.config import Settings
from bot.jobs.engine import Executors, JobEngine
from bot.jobs.store import PendingActions
from bot.messages.locales import UserLanguages
from bot.security.crypto import SecretBox, load_or_create_key
from bot.security.mfa import Mfa
from bot.services.intents import ReadBacks
from bot.soracom import SoracomClient
from bot.soracom.client import DEFAULT_TOKEN_TIMEOUT
from bot.soracom.credentials import AuthKeyCredentials, Credentials, RootCredentials, SamCredentials
from bot.store import Database, outbox
from bot.store.migrations import upgrade as upgrade_database
from bot.store.tables import utcnow

log = logging.getLogger(__name__)

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
    # The running bill schedulers' reloads: `/bill schedule` reschedules them at once.
    schedule_listeners: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    # Who holds a job's lease: unique per process, readable in the database.
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:64])
    _held: dict[type, Any] = field(default_factory=dict, init=False, repr=False)

    def state(self, kind: type[T]) -> T:
        """This bot's one `kind`, made on first use: the registries of the layers above (gated actions, slash
        commands, tasks) belong to the bot, not the process, so that two bots can run in one process."""
        if kind not in self._held:
            self._held[kind] = kind()
        return self._held[kind]

    @property
    def jobs(self) -> JobEngine:
        """The job engine on this bot's job store, with the executors its handlers defined."""
        return JobEngine(store=self.pending, db=self.db, worker_id=self.worker_id, admins=self.settings.admins,
                         executors=self.state(Executors), read_backs=self.state(ReadBacks))

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
                emulator, soracom_transport = embedded_emulator(emulator, clock)
            settings = settings.model_copy(update={"SORACOM_ENDPOINT": emulator_url})
        upgrade_database(settings.DATABASE_URL)
        db = Database(settings.DATABASE_URL, outbox=outbox.outbox_path(settings.data_dir))
        try:
            outbox.flush(db)
        except Exception:  # noqa: BLE001 - the rows stay kept; the job sweeper writes them once the database works
            log.warning("the outbox could not be written at start; the job sweeper tries again", exc_info=True)
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


def embedded_emulator(state: Any = None, clock: Callable[[], datetime] | None = None
                      ) -> tuple[Any, httpx.AsyncBaseTransport]:
    """The emulator's state (a new one on the bot's clock unless given) and a transport that reaches it in this
    process. The embedded SORACOM keeps the bot's time, so that what it seeds and what the bot asks for agree."""
    from bot.emulator import EmulatorState, create_app  # only a bot without SORACOM credentials loads it

    state = state or EmulatorState(now=clock)
    return state, httpx.ASGITransport(app=create_app(state))


def credentials_from_settings(settings: Settings) -> Credentials:
    """AuthKey first, then root user, then SAM user; the emulator's demo AuthKey when none is set."""
    if settings.uses_emulator:
        from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID

        return AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY)
    if settings.SORACOM_AUTH_KEY_ID and settings.SORACOM_AUTH_KEY:
        return AuthKeyCredentials(settings.SORACOM_AUTH_KEY_ID, settings.SORACOM_AUTH_KEY)
    if settings.SORACOM_EMAIL and settings.SORACOM_PASSWORD:
        return RootCredentials(settings.SORACOM_EMAIL, settings.SORACOM_PASSWORD)
    assert settings.SORACOM_OPERATOR_ID and settings.SORACOM_USER_NAME and settings.SORACOM_PASSWORD
    return SamCredentials(settings.SORACOM_OPERATOR_ID, settings.SORACOM_USER_NAME, settings.SORACOM_PASSWORD)


def client_from_settings(settings: Settings, transport: httpx.AsyncBaseTransport | None = None, *,
                         token_timeout_seconds: int = DEFAULT_TOKEN_TIMEOUT) -> SoracomClient:
    return SoracomClient(
        endpoint=settings.soracom_endpoint,
        credentials=credentials_from_settings(settings),
        lang=settings.SORACOM_LANG,
        transport=transport,
        token_timeout_seconds=token_timeout_seconds,
    )
