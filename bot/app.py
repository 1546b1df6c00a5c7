"""The bolt app and the HTTP server around it: POST /slack/events, GET /healthz, the MFA enrollment page; the
scheduled work (bill summary, budget warning, fleet snapshot) of one Runtime."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import handlers
from bot.jobs.sweeper import Sweeper
from bot.messages import t
from bot.postack import Dispatcher, acked_at_once
from bot.runtime import Runtime
from bot.security import replay
from bot.services.fleet import FleetRefresher
from bot.services.schedules import start_scheduler
from bot.web import enroll_page
from bot.web.access_log import redact_remote_endpoints
from bot.web.health import DatabaseProbe
from bot.web.serving import serving_problem
from bot.web.limits import BodyLimit
from bot.web.slack_events import SlackEvents
from bot.web.slack_status import SlackStatus
from bot.web import events as soracom_events
from handlers.bill_summary import BillScheduler
from handlers.budget_watch import BudgetWatch
from handlers.common import SlashCommands, failure_text, listener_ended, speak_to, taken_request
from handlers.jobs import SlackNotifier, sweep_passes

log = logging.getLogger(__name__)


# At DEBUG these libraries log whole request and response bodies: modal payloads carry MFA enrollment secrets.
PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt")


def keep_payloads_out_of_logs() -> None:
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    redact_remote_endpoints()  # the client logs every URL it calls, a remote access's endpoint among them


class _TokenFromClient(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment even when given a client holding that token, and warns that
    it goes unused: the client (with SLACK_API_URL) is meant, so that one warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_app(rt: Runtime, *, signing_secret: str, client: AsyncWebClient) -> AsyncApp:
    keep_payloads_out_of_logs()
    bolt_log = logging.getLogger("slack_bolt")
    token_from_client = _TokenFromClient()
    bolt_log.addFilter(token_from_client)
    try:
        app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            raise_error_for_unhandled_request=False,
            logger=bolt_log,
        )
    finally:
        bolt_log.removeFilter(token_from_client)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Whatever escapes a listener: logged with a reference, and the user told so privately."""
        message = failure_text(error, str(body.get("type") or body.get("command")))
        user_id = body.get("user_id") or (body.get("user") or {}).get("id")
        channel_id = body.get("channel_id") or (body.get("channel") or {}).get("id")
        if user_id:
            try:
                await client.chat_postEphemeral(channel=channel_id or user_id, user=user_id, text=message)
            except SlackApiError as exc:
                log.error("could not tell %s about a failure: %s", user_id, exc.response.get("error"))
            except Exception as exc:  # noqa: BLE001 - Slack unreachable: the error path itself must never raise
                log.error("could not tell %s about a failure: Slack unreachable (%s)", user_id, type(exc).__name__)

    handlers.register_all(app, rt)

    @app.action(re.compile(".*"))
    async def stale_button(ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Any,
                           client: AsyncWebClient, request: AsyncBoltRequest) -> None:
        """Registered last: a button this version no longer handles is answered, not left spinning."""
        try:
            await ack()
            await speak_to(rt, client, body["user"]["id"])
            if body.get("response_url"):
                await respond(text=t("common.stale_button"), response_type="ephemeral", replace_original=False)
        finally:
            await listener_ended(rt, request)

    @app.command(re.compile(".*"))
    async def no_such_command(ack: Callable[..., Awaitable[None]], command: dict[str, Any], respond: Any,
                              client: AsyncWebClient, request: AsyncBoltRequest) -> None:
        """Registered last: a command the manifest routes here but no listener takes (an older or newer manifest)."""
        try:
            await ack()
            await speak_to(rt, client, command["user_id"])
            await respond(text=t("surface.no_such_command", command=command.get("command") or ""),
                          response_type="ephemeral")
        finally:
            await listener_ended(rt, request)

    return app


def build_web(rt: Runtime, app: AsyncApp, *, signing_secret: str, http_events: bool = True,
              dispatcher: Dispatcher | None = None, relayed: bool = False,
              slack: SlackStatus | None = None, take_events: soracom_events.Take | None = None) -> Starlette:
    """With Socket Mode alone there is no signing secret, and no unsigned request may reach the app. With a
    dispatcher, the bot runs in a worker process and this process only answers Slack (bot.postack); `relayed`:
    this is that worker, taking the requests the server's process verified. SORACOM's deliveries are recorded by
    `take_events` (serve's front process hands them to its worker: bot.web.event_relay), else in this process."""
    if dispatcher is not None:
        events = SlackEvents(app, rt.db, signing_secret, dispatch=dispatcher.dispatch,
                             acks_at_once=dispatcher.acked_empty)
    elif relayed:
        commands = rt.state(SlashCommands)

        def held_by(request: AsyncBoltRequest) -> replay.Taken | None:
            return taken_request(request.body, rt.worker_id) if acked_at_once(request.body, commands) else None

        events = SlackEvents(app, rt.db, signing_secret,
                             replays_in_db=lambda request: acked_at_once(request.body, commands), held_by=held_by)
    else:
        events = SlackEvents(app, rt.db, signing_secret)
    database = DatabaseProbe(rt.db)

    async def healthz(request: Request) -> Response:
        usable = await database.usable()
        body: dict[str, Any] = {"ok": usable, "sandbox": rt.sandbox, "database": "ok" if usable else "unusable"}
        usable = _with_slack(body, slack) and usable
        problem = await serving_problem(rt.db.url, getattr(request.app.state, "worker", None))
        if problem:
            body |= {"ok": False, "problem": problem}
            usable = False
        return JSONResponse(body, status_code=200 if usable else 503)

    async def enroll(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "HEAD":  # link checkers and previews must not use the link up
            valid = await rt.mfa.enroll_link_valid(token)
            return Response(status_code=200 if valid else 410, media_type="text/html", headers=enroll_page.HEADERS)
        uri = await rt.mfa.redeem_enroll_link(token)
        if uri is None:
            return HTMLResponse(enroll_page.gone(), status_code=410, headers=enroll_page.HEADERS)
        return HTMLResponse(enroll_page.page(uri), headers=enroll_page.HEADERS)

    return Starlette(
        middleware=[Middleware(soracom_events.SoracomEvents, token=rt.settings.BOT_EVENTS_TOKEN,
                               take=take_events or soracom_events.local_take(rt, app.client), batches=relayed),
                    Middleware(BodyLimit)],
        routes=[
            *([Route("/slack/events", events.handle, methods=["POST"])] if http_events else []),
            Route("/healthz", healthz, methods=["GET"]),
            # The event loop answers: serve's process tells a busy worker from a hung one (bot.postack).
            Route("/livez", lambda _: Response("ok"), methods=["GET"]),
            Route("/mfa/enroll/{token}", enroll, methods=["GET", "HEAD"]),
        ],
    )


def _with_slack(body: dict[str, Any], slack: SlackStatus | None) -> bool:
    """Adds Slack's part to a /healthz body (where this process checks the token); False when it makes the bot
    unable to work."""
    if slack is None:
        return True
    part, works = slack.health()
    body.update(part)
    body["ok"] = bool(body["ok"]) and works
    return works


@dataclass(frozen=True)
class ScheduledWork:
    """The bill summary, the budget watch and the fleet snapshot refresher of one Runtime, running; the first two on
    one APScheduler."""

    scheduler: AsyncIOScheduler
    bill_summary: BillScheduler
    budget_watch: BudgetWatch
    refresher: FleetRefresher

    async def stop(self) -> None:
        await self.bill_summary.stop()
        await self.budget_watch.stop()
        await self.refresher.stop()
        self.scheduler.shutdown(wait=False)


def job_sweeper(rt: Runtime, client: AsyncWebClient) -> Sweeper:
    """The job engine's sweeper for this bot, speaking to people through Slack; `start` it, `stop` it."""
    return Sweeper(rt.jobs, SlackNotifier(rt, client), passes=sweep_passes(rt, client))


async def start_scheduled_work(rt: Runtime, client: AsyncWebClient) -> ScheduledWork:
    scheduler = start_scheduler(rt.settings.timezone)
    work = ScheduledWork(
        scheduler,
        BillScheduler(rt, client, scheduler=scheduler),
        BudgetWatch(rt, client, scheduler=scheduler),
        FleetRefresher(rt.db, rt.soracom, owner=rt.worker_id, clock=rt.clock, zone=rt.settings.timezone),
    )
    try:
        await work.bill_summary.start()
        await work.budget_watch.start()
        await work.refresher.start()
    except BaseException:
        await work.stop()
        raise
    return work
