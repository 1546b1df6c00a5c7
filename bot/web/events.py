"""POST /soracom/events: the calls of SORACOM Event Handler's ExecuteWebRequestAction, each one alert card.

Authenticated by BOT_EVENTS_TOKEN in the header the handler's `headers` carry (unset: the endpoint is off);
the body is read only after that, and only up to a bound.
"""

from __future__ import annotations

import hmac
import logging

from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime
from bot.services.alerts import MAX_EVENT_BYTES, TOKEN_HEADER, BadEvent, parse_event
from bot.store.outage import database_unavailable

log = logging.getLogger(__name__)

PATH = "/soracom/events"


class _TooLarge(Exception):
    pass


def route(rt: Runtime, client: AsyncWebClient) -> Route:
    async def soracom_events(request: Request) -> Response:
        token = rt.settings.BOT_EVENTS_TOKEN
        if not token:
            return JSONResponse({"error": "alerts are off: BOT_EVENTS_TOKEN is not set"}, status_code=404)
        if not hmac.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(), token.encode()):
            return JSONResponse({"error": f"missing or wrong {TOKEN_HEADER}"}, status_code=401)
        try:
            raw = await _bounded_body(request)
            event = parse_event(raw)
        except _TooLarge:
            return JSONResponse({"error": f"the body is larger than {MAX_EVENT_BYTES} bytes"}, status_code=413)
        except BadEvent as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        from handlers.alerts import deliver  # the handlers import the bolt app's world; this module stays light

        try:
            result = await deliver(rt, client, event)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.error("SORACOM event not taken: the database is unavailable (%s)", type(exc).__name__)
            # 503: SORACOM's Event Handler sends again, and the card comes once the database is back.
            return JSONResponse({"error": "the bot's database is unavailable; nothing was done"}, status_code=503)
        # 502 when Slack refused the card: the sender may deliver again, and that retry posts it.
        failed = result == "failed"
        return JSONResponse({"ok": not failed, "result": result}, status_code=502 if failed else 200)

    return Route(PATH, soracom_events, methods=["POST"])


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_EVENT_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_EVENT_BYTES:
            raise _TooLarge
    return bytes(body)
