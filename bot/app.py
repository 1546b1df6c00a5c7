"""The bolt app and the HTTP server around it: POST /slack/events, GET /healthz, the MFA enrollment page."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.starlette.async_handler import (AsyncSlackRequestHandler, to_async_bolt_request,
                                                        to_starlette_response)
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import handlers
from bot.messages import t
from bot.postack import Dispatcher
from bot.runtime import Runtime
from bot.web import enroll_page
from handlers.common import failure_text

log = logging.getLogger(__name__)


PRIVATE_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

# At DEBUG these libraries log whole request and response bodies: modal payloads carry MFA enrollment secrets.
PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt")


def keep_payloads_out_of_logs() -> None:
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def build_app(rt: Runtime, *, signing_secret: str, client: AsyncWebClient) -> AsyncApp:
    keep_payloads_out_of_logs()
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("slack_bolt"),
    )

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

    handlers.register_all(app, rt)

    @app.action(re.compile(".*"))
    async def stale_button(ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Any) -> None:
        """Registered last: a button this version no longer handles is answered, not left spinning."""
        await ack()
        if body.get("response_url"):
            await respond(text=t("common.stale_button"), response_type="ephemeral", replace_original=False)

    return app


def build_web(rt: Runtime, app: AsyncApp, *, http_events: bool = True,
              dispatcher: Dispatcher | None = None) -> Starlette:
    """With Socket Mode alone there is no signing secret, and no unsigned request may reach the app. With a
    dispatcher, the app runs on its worker loop and this loop only answers (bot.postack)."""
    slack = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        if dispatcher is None:
            return await slack.handle(request)
        return to_starlette_response(await dispatcher.dispatch(to_async_bolt_request(request, await request.body())))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "sandbox": rt.sandbox})

    async def enroll(request: Request) -> Response:
        uri = await rt.mfa.redeem_enroll_link(request.path_params["token"])
        if uri is None:
            return HTMLResponse(enroll_page.gone(), status_code=410)
        return HTMLResponse(enroll_page.page(uri), headers=PRIVATE_PAGE_HEADERS)

    return Starlette(
        routes=[
            *([Route("/slack/events", events, methods=["POST"])] if http_events else []),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/mfa/enroll/{token}", enroll, methods=["GET"]),
        ]
    )
