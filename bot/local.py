"""The bot, the embedded emulator and the local Slack stand-in in one process: the console and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import ScheduledWork, build_app, build_web, job_sweeper, start_scheduled_work
from bot.jobs.sweeper import Sweeper
from bot.config import Settings
from bot.localslack import FakeSlack, SlackSender
from bot.net import free_port
from bot.runtime import EMBEDDED_EMULATOR_ENDPOINT, Runtime
from bot.store.tables import utcnow
from bot.services.alerts import parse_limit
from bot.services.errors import InputError
from handlers.views.common import MIB, traffic_mib

LOCAL_BOT_TOKEN = "xoxb-local"
SLACK_LOCALES = {"en": "en-US", "ja": "ja-JP"}


class _BotOnly(httpx.AsyncBaseTransport):
    """Where the emulator's Event Handler web requests go here: the bot's own URL reaches the bot in-process;
    any other URL is answered 502 and never leaves the machine."""

    def __init__(self, app: Any, public_url: str) -> None:
        self._bot = httpx.ASGITransport(app=app)
        self._public_url = public_url.rstrip("/") + "/"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(self._public_url):
            return await self._bot.handle_async_request(request)
        return httpx.Response(502, text="the local emulator sends Event Handler requests to the bot only")


class _ConsoleServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # Ctrl-C belongs to the console, not to this server
        yield


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
        emulator_file: Path | None = None,
    ) -> None:
        self.signing_secret = secrets.token_hex(16)
        self.fake = FakeSlack()
        # The stand-in's people speak the language the bot was set to, as the person at the console does.
        self.fake.default_locale = SLACK_LOCALES[settings.BOT_LANG]
        self._settings = settings
        self._emulator = emulator
        self._soracom_transport = soracom_transport
        self._clock = clock
        self._with_scheduler = scheduler
        self._with_sweeper = sweeper
        self._serve_http = serve_http
        self._emulator_file = emulator_file
        self._saved_emulator: Any = None
        self._servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        self.scheduled: ScheduledWork | None = None
        self.sweeper: Sweeper | None = None
        self.rt: Runtime | None = None
        self.http: httpx.AsyncClient | None = None
        self.sender: SlackSender | None = None

    async def start(self) -> "LocalBot":
        self.fake.start()
        settings = self._settings.model_copy(update={"SLACK_API_URL": self.fake.api_url})
        if not settings.BOT_EVENTS_TOKEN:  # the emulator's Event Handler rules reach the bot with this one
            settings = settings.model_copy(update={"BOT_EVENTS_TOKEN": secrets.token_urlsafe(24)})
        transport, emulator_url = self._soracom_transport, EMBEDDED_EMULATOR_ENDPOINT
        if self._emulator_file is not None and self._emulator is None:
            from bot.emulator.persist import SavedEmulatorState

            saved = SavedEmulatorState(self._emulator_file, now=self._clock)
            saved.save()  # at once: the database made next never exists without the emulator state it speaks of
            self._emulator = self._saved_emulator = saved
        if self._serve_http:
            # Links the bot shows (the MFA enrollment page, bill exports) must open in a real browser.
            from bot.emulator import EmulatorState, create_app

            self._emulator = self._emulator or EmulatorState(now=self._clock)
            emulator_url = await self._serve(create_app(self._emulator))
            transport = httpx.AsyncHTTPTransport()
            bot_port = free_port()
            settings = settings.model_copy(update={"BOT_PUBLIC_URL": f"http://127.0.0.1:{bot_port}"})
        self.rt = Runtime.create(settings, soracom_transport=transport, emulator=self._emulator,
                                 emulator_url=emulator_url, clock=self._clock)
        client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=self.fake.api_url)
        self.app = build_app(self.rt, signing_secret=self.signing_secret, client=client)
        self.web = build_web(self.rt, self.app, signing_secret=self.signing_secret)
        if self._serve_http:
            await self._serve(self.web, bot_port)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.web), base_url="http://bot.localhost")
        if self.rt.emulator is not None:
            self.rt.emulator.web_transport = _BotOnly(self.web, self.rt.settings.public_url)
        self.sender = SlackSender(self.signing_secret, self.http, fake=self.fake)
        if self._with_scheduler:
            self.scheduled = await start_scheduled_work(self.rt, client)
        if self._with_sweeper:
            self.sweeper = job_sweeper(self.rt, client)
            await self.sweeper.start()
        return self

    async def add_traffic(self, sim: str, size: int | str) -> str:
        """Traffic on a SIM (IMSI or name) through the emulator's sandbox stats API, as a device would make it now;
        the Event Handler rules it crosses fire. `size`: MiB, or a size as `/alerts setup` takes it (150MiB, 1GiB;
        MB and GB read as MiB and GiB). Returns what happened, in one line."""
        from bot.emulator import Identity, create_app

        try:
            mebibytes = size if isinstance(size, int) else parse_limit(size)
        except InputError:
            return f"({size!r} is not a size: type MiB, e.g. 150 or 150MiB)"

        state = self.rt.emulator if self.rt else None
        if state is None:
            return "(no embedded emulator: traffic comes from real devices)"
        sub = next((s for s in state.all_subscribers() if sim in (s["imsi"], (s.get("tags") or {}).get("name"))), None)
        if sub is None:
            return f"(no SIM {sim!r} at the emulator)"
        session = state.open_session(Identity(sub["operatorId"]), 600)
        moment = int(state.now().timestamp())
        while moment in state.data_of(sub["operatorId"]).air_stats.get(sub["imsi"], {}):
            moment += 1
        volume = {"downloadByteSizeTotal": mebibytes * MIB, "downloadPacketSizeTotal": mebibytes * 800,
                  "uploadByteSizeTotal": 0, "uploadPacketSizeTotal": 0}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)),
                                     base_url="http://emulator") as api:
            response = await api.post(f"/v1/sandbox/stats/air/subscribers/{sub['imsi']}",
                                      headers={"X-Soracom-API-Key": session.api_key, "X-Soracom-Token": session.token},
                                      json={"unixtime": moment, "dataTrafficStatsMap": {sub["speedClass"]: volume}})
            await self.settle()
        return f"({traffic_mib(mebibytes)} added to {sub['imsi']}: HTTP {response.status_code})"

    async def device(self, sim: str, what: str = "") -> str:
        """The device on a SIM (IMSI or name) goes `offline` or comes back `online`; `sms`: what it received; else
        its state. One line (or a few), for the console."""
        from bot.emulator import devices

        state = self.rt.emulator if self.rt else None
        if state is None:
            return "(no embedded emulator: devices are real)"
        sub = next((s for s in state.all_subscribers() if sim in (s["imsi"], (s.get("tags") or {}).get("name"))), None)
        if sub is None:
            return f"(no SIM {sim!r} at the emulator)"
        if what in ("offline", "online"):
            device = devices.set_online(state, sub, what == "online")
            session = f"session {device.session_id}" if device.session_id else "no session"
            return f"(device on {sub['imsi']} is {what}: {session}, SIM {sub['status']})"
        device = devices.device_of(state, sub)
        if what == "sms":
            if not device.sms:
                return f"(no SMS reached the device on {sub['imsi']})"
            lines = [f"  {datetime.fromtimestamp(m['time'] / 1000).isoformat(timespec='seconds')}  "
                     f"[{'GSM 7-bit' if m['encodingType'] == 1 else 'UCS-2'}] {m['payload']}" for m in device.sms]
            return "\n".join([f"(SMS received by the device on {sub['imsi']}:)", *lines])
        if what:
            return "(type :device SIM offline|online|sms)"
        return (f"(device on {sub['imsi']}: {'online' if device.online else 'offline'}, IMEI {device.imei}, "
                f"{'session ' + device.session_id if device.session_id else 'no session'}, "
                f"{len(device.sms)} SMS received)")

    async def settle(self, timeout: float = 60.0) -> None:
        """Waits for every task the bot started after answering Slack (bolt's post-ack work, bulk jobs)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        idle = {asyncio.current_task(), *(task for _, task in self._servers)}
        if self.sweeper is not None:
            idle.add(self.sweeper.loop)
        if self.scheduled is not None and self.scheduled.refresher.task is not None:
            idle.add(self.scheduled.refresher.task)
        while True:
            others = [t for t in asyncio.all_tasks() if t not in idle and not t.done()]
            if not others:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"bot still busy after {timeout} s: {[t.get_name() for t in others]}")
            await asyncio.wait(others, timeout=remaining)

    async def stop(self) -> None:
        if self.scheduled is not None:
            await self.scheduled.stop()
        if self.sweeper is not None:
            await self.sweeper.stop()
        if self.http is not None:
            await self.http.aclose()
        if self._saved_emulator is not None:
            self._saved_emulator.save()  # what changed without an API call (an order's shipping by time)
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
