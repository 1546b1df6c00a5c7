"""`python -m bot serve`: the bot over HTTP (and Socket Mode with SLACK_APP_TOKEN), with its scheduler."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator

import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.app import build_app, build_web, job_sweeper, start_scheduled_work
from bot.config import Settings
from bot.postack import Dispatcher, WorkerProcess
from bot.runtime import Runtime
from handlers import relay
from handlers.common import SlashCommands
from bot.web.access_log import redact_access_log
from bot.web.event_relay import EventRelay
from bot.web.events import local_take
from bot.web.slack_status import SlackStatus, checking_slack

log = logging.getLogger(__name__)


def missing_slack_settings(settings: Settings) -> list[str]:
    missing = [] if settings.SLACK_BOT_TOKEN else ["SLACK_BOT_TOKEN"]
    if not settings.SLACK_SIGNING_SECRET and not settings.SLACK_APP_TOKEN:
        missing.append("SLACK_SIGNING_SECRET")
    return missing


def serve(settings: Settings) -> int:
    missing = missing_slack_settings(settings)
    if missing:
        print(
            f"soracom-bot: set {' and '.join(missing)} to serve a Slack workspace (see README: create the app from "
            "manifest.yml). To try the bot without Slack or SORACOM, run: python -m bot console",
            file=sys.stderr,
        )
        return 2
    web = build_server(settings)
    config = uvicorn.Config(web, host=settings.HOST, port=settings.PORT, log_level="info", proxy_headers=True)
    redact_access_log()  # after uvicorn.Config, which configures its loggers
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3  # as uvicorn.run: a start-up failure (port taken, lifespan error) is 3


def build_server(settings: Settings, *, worker: bool = True, relayed: bool = False) -> Starlette:
    """With HTTP events (a signing secret) this process only answers Slack, and a worker process runs the bot
    (bot.postack); `worker=False` is that worker, or the whole bot in one loop."""
    rt = Runtime.create(settings)
    client = AsyncWebClient(token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_URL)
    app = build_app(rt, signing_secret=settings.SLACK_SIGNING_SECRET or "", client=client)
    secret = settings.SLACK_SIGNING_SECRET
    process = WorkerProcess(settings, build_worker, tell=functools.partial(relay.tell_not_run, rt, client)) \
        if worker and secret else None
    dispatcher = Dispatcher(app, process, secret, frozenset(rt.state(SlashCommands)),
                            busy_answer=relay.busy_answer) if process and secret else None
    # SORACOM's deliveries are recorded by the worker too, in batches (bot.web.event_relay).
    events = EventRelay(process, settings.BOT_EVENTS_TOKEN, settings.BOT_RELAY_PATIENCE_SECONDS,
                        local=local_take(rt, client)) if process and settings.BOT_EVENTS_TOKEN else None
    # The process that answers /healthz asks Slack whether it takes the token; a relayed worker leaves that to it.
    slack = None if relayed else SlackStatus(client)
    web = build_web(rt, app, signing_secret=secret or "", http_events=bool(secret), dispatcher=dispatcher,
                    relayed=relayed, slack=slack, take_events=events.take if events else None)
    web.state.worker = process

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if process is None:
            work = await _start_work(settings, rt, client, app)
            _freeze_start_up()
            try:
                async with work:
                    yield
            finally:
                gc.unfreeze()  # a process that serves again (tests) collects what this server left
            return
        await process.start()
        _freeze_start_up()
        try:
            yield
        finally:
            gc.unfreeze()
            if events is not None:
                await events.stop()
            await process.stop()
            await rt.aclose()

    web.router.lifespan_context = checking_slack(slack, lifespan)
    return web


def build_worker(settings: Settings) -> Starlette:
    """The worker process's server (bot.postack runs it): the bot itself, taking what serve's process relays."""
    return build_server(settings, worker=False, relayed=True)


def _freeze_start_up() -> None:
    """What start-up made lives as long as the process: frozen, the garbage collector stops walking it, and a full
    collection no longer stalls the acks (measured: p99 90-120 ms instead of 20-40 under 50 commands in flight)."""
    gc.collect()
    gc.freeze()


async def _start_work(settings: Settings, rt: Runtime, client: AsyncWebClient,
                      app: AsyncApp) -> contextlib.AsyncExitStack:
    """Starts the bot's background work; the returned stack stops it."""
    stack = contextlib.AsyncExitStack()
    try:
        stack.push_async_callback(rt.aclose)
        stack.push_async_callback((await start_scheduled_work(rt, client)).stop)
        sweeper = job_sweeper(rt, client)
        await sweeper.start()
        stack.push_async_callback(sweeper.stop)
        if settings.SLACK_APP_TOKEN:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(app, settings.SLACK_APP_TOKEN)
            stack.push_async_callback(socket.close_async)
            # slack_sdk retries a refused apps.connections.open forever; asking once lets a bad token stop the start
            socket.client.wss_uri = await socket.client.issue_new_wss_url()
            await socket.connect_async()
            log.info("connected over Socket Mode")
    except BaseException:
        await stack.aclose()
        raise
    if rt.sandbox:
        log.warning("no SORACOM credentials: serving the embedded emulator (sandbox); replies say so")
    return stack
