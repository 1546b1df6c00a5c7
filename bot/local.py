"""The bot, the embedded emulator and the local Slack stand-in in one process: the console and the tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app, build_web
from bot.config import Settings
from bot.localslack import FakeSlack, SlackSender
from bot.runtime import Runtime
from bot.scheduler import BillScheduler
from bot.store.tables import utcnow

LOCAL_BOT_TOKEN = "xoxb-local-stand-in"


class LocalBot:
    """Starts everything on loopback or in-process; `settle()` waits until the bot has finished its work."""

    def __init__(
        self,
        settings: Settings,
        *,
        emulator: Any = None,
        soracom_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
        scheduler: bool = False,
    ) -> None:
        self.signing_secret = secrets.token_hex(16)
        self.fake = FakeSlack()
        self._settings = settings
        self._emulator = emulator
        self._soracom_transport = soracom_transport
        self._clock = clock
        self._with_scheduler = scheduler
        self.scheduler: BillScheduler | None = None
        self.rt: Runtime | None = None
        self.http: httpx.AsyncClient | None = None
        self.sender: SlackSender | None = None

    async def start(self) -> "LocalBot":
        self.fake.start()
        settings = self._settings.model_copy(update={"SLACK_API_URL": self.fake.api_url})
        self.rt = Runtime.create(settings, soracom_transport=self._soracom_transport, emulator=self._emulator,
                                 clock=self._clock)
        client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=self.fake.api_url)
        self.app = build_app(self.rt, signing_secret=self.signing_secret, client=client)
        self.web = build_web(self.rt, self.app)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.web), base_url="http://bot.localhost")
        self.sender = SlackSender(self.signing_secret, self.http, fake=self.fake)
        if self._with_scheduler:
            self.scheduler = BillScheduler(self.rt, client)
            await self.scheduler.start()
        return self

    async def settle(self, timeout: float = 60.0) -> None:
        """Waits for every task the bot started after answering Slack (bolt's post-ack work, bulk jobs)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        me = asyncio.current_task()
        while True:
            others = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
            if not others:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"bot still busy after {timeout} s: {[t.get_name() for t in others]}")
            await asyncio.wait(others, timeout=remaining)

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.http is not None:
            await self.http.aclose()
        if self.rt is not None:
            await self.rt.aclose()
        self.fake.stop()

    async def __aenter__(self) -> "LocalBot":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
