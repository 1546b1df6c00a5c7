"""The bot, the embedded emulator and the local Slack stand-in in one process: the console and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app, build_web
from bot.config import Settings
from bot.localslack import FakeSlack, SlackSender
from bot.runtime import EMBEDDED_EMULATOR_ENDPOINT, Runtime
from bot.budget_watch import BudgetWatch
from bot.scheduler import BillScheduler
from bot.services.fleet import FleetRefresher
from bot.store.tables import utcnow
from handlers.jobs import Sweeper

LOCAL_BOT_TOKEN = "xoxb-local"


class _ConsoleServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # Ctrl-C belongs to the console, not to this server
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        sweeper: bool = False,
        serve_http: bool = False,
    ) -> None:
        self.signing_secret = secrets.token_hex(16)
        self.fake = FakeSlack()
        self._settings = settings
        self._emulator = emulator
        self._soracom_transport = soracom_transport
        self._clock = clock
        self._with_scheduler = scheduler
        self._with_sweeper = sweeper
        self._serve_http = serve_http
        self._servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        self.scheduler: BillScheduler | None = None
        self.budget_watch: BudgetWatch | None = None
        self.refresher: FleetRefresher | None = None
        self.sweeper: Sweeper | None = None
        self.rt: Runtime | None = None
        self.http: httpx.AsyncClient | None = None
        self.sender: SlackSender | None = None

    async def start(self) -> "LocalBot":
        self.fake.start()
        settings = self._settings.model_copy(update={"SLACK_API_URL": self.fake.api_url})
        transport, emulator_url = self._soracom_transport, EMBEDDED_EMULATOR_ENDPOINT
        if self._serve_http:
            # Links the bot shows (the MFA enrollment page, bill exports) must open in a real browser.
            from bot.emulator import EmulatorState, create_app

            self._emulator = self._emulator or EmulatorState()
            emulator_url = await self._serve(create_app(self._emulator))
            transport = httpx.AsyncHTTPTransport()
            bot_port = free_port()
            settings = settings.model_copy(update={"BOT_PUBLIC_URL": f"http://127.0.0.1:{bot_port}"})
        self.rt = Runtime.create(settings, soracom_transport=transport, emulator=self._emulator,
                                 emulator_url=emulator_url, clock=self._clock)
        client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=self.fake.api_url)
        self.app = build_app(self.rt, signing_secret=self.signing_secret, client=client)
        self.web = build_web(self.rt, self.app)
        if self._serve_http:
            await self._serve(self.web, bot_port)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.web), base_url="http://bot.localhost")
        self.sender = SlackSender(self.signing_secret, self.http, fake=self.fake)
        if self._with_scheduler:
            self.scheduler = BillScheduler(self.rt, client)
            await self.scheduler.start()
            self.budget_watch = BudgetWatch(self.rt, client)
            await self.budget_watch.start()
            self.refresher = FleetRefresher(self.rt.db, self.rt.soracom, owner=self.rt.worker_id, clock=self.rt.clock,
                                            zone=self.rt.settings.timezone)
            await self.refresher.start()
        if self._with_sweeper:
            self.sweeper = Sweeper(self.rt, client)
            await self.sweeper.start()
        return self

    async def settle(self, timeout: float = 60.0) -> None:
        """Waits for every task the bot started after answering Slack (bolt's post-ack work, bulk jobs)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        idle = {asyncio.current_task(), *(task for _, task in self._servers)}
        if self.sweeper is not None:
            idle.add(self.sweeper.loop)
        if self.refresher is not None and self.refresher.task is not None:
            idle.add(self.refresher.task)
        while True:
            others = [t for t in asyncio.all_tasks() if t not in idle and not t.done()]
            if not others:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"bot still busy after {timeout} s: {[t.get_name() for t in others]}")
            await asyncio.wait(others, timeout=remaining)

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.budget_watch is not None:
            await self.budget_watch.stop()
        if self.refresher is not None:
            await self.refresher.stop()
        if self.sweeper is not None:
            await self.sweeper.stop()
        if self.http is not None:
            await self.http.aclose()
        if self.rt is not None:
            await self.rt.aclose()
        for server, task in self._servers:
            server.should_exit = True
            await task
        self.fake.stop()

    async def _serve(self, app: Any, port: int = 0) -> str:
        """Serves an ASGI app on loopback in this event loop; returns its base URL."""
        server = _ConsoleServer(uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level="warning",
                                               lifespan="off"))
        task = asyncio.get_running_loop().create_task(server.serve(), name="loopback-server")
        self._servers.append((server, task))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{server.config.port}"

    async def __aenter__(self) -> "LocalBot":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
