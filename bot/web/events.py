"""POST /soracom/events: the calls of SORACOM Event Handler's ExecuteWebRequestAction, each one alert card.

Authenticated by BOT_EVENTS_TOKEN in the header the handler's `headers` carry (unset: the endpoint is off);
the body is read only after that, and only up to a bound.

A storm is hundreds of deliveries a second, so the endpoint is plain ASGI in front of the routing (no Request, no
route matching, no response class): in `serve`'s front process a delivery costs little more than uvicorn's
parsing, and the acks of Slack commands that share its loop keep their pace. Where the delivery is recorded is the
`Take` given: in this process (`local_take`), or in serve's worker process (bot.web.event_relay), which takes the
deliveries in batches on BATCH_PATH.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.runtime import Runtime
from bot.services.alerts import MAX_EVENT_BYTES, TOKEN_HEADER, BadEvent, Event, parse_event
from bot.store.outage import database_unavailable

log = logging.getLogger(__name__)

PATH = "/soracom/events"
BATCH_PATH = "/soracom/events/batch"  # serve's worker only: the deliveries its front process took
MAX_BATCH_BYTES = 4 * 1024 * 1024
_HEADER = TOKEN_HEADER.lower().encode()

# An answer: the HTTP status and its JSON body.
Answer = tuple[int, dict[str, Any]]
# Records one delivery (its event, and the body as SORACOM sent it) and says what to answer.
Take = Callable[[Event, bytes], Awaitable[Answer]]

UNAVAILABLE: Answer = (503, {"error": "the bot's database is unavailable; nothing was done"})


class _TooLarge(Exception):
    pass


def local_take(rt: Runtime, client: AsyncWebClient) -> Take:
    """Deliveries recorded (and their cards posted) by this process's bot."""

    async def take(event: Event, _: bytes) -> Answer:
        from handlers.alerts import deliver  # the handlers import the bolt app's world; this module stays light

        try:
            result = await deliver(rt, client, event)
        except Exception as exc:
            if not database_unavailable(exc):
                log.exception("SORACOM event not taken")
                return 500, {"error": "internal error; nothing was done"}
            log.error("SORACOM event not taken: the database is unavailable (%s)", type(exc).__name__)
            # 503: SORACOM's Event Handler sends again, and the card comes once the database is back.
            return UNAVAILABLE
        # 502 when Slack refused the card: the sender may deliver again, and that retry posts it.
        failed = result == "failed"
        return (502 if failed else 200), {"ok": not failed, "result": result}

    return take


class SoracomEvents:
    """ASGI middleware answering PATH (and, in serve's worker, BATCH_PATH) before the app's routing."""

    def __init__(self, app: ASGIApp, token: str | None, take: Take, *, batches: bool = False) -> None:
        self.app, self.token, self.take, self.batches = app, (token or "").encode(), take, batches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path == PATH or (path == BATCH_PATH and self.batches):
            if scope["method"] != "POST":
                await _send(send, 405, {"error": "POST only"})
            else:
                await _send(send, *await (self._one(scope, receive) if path == PATH else self._batch(scope, receive)))
            return
        await self.app(scope, receive, send)

    def _refused(self, scope: Scope) -> Answer | None:
        if not self.token:
            return 404, {"error": "alerts are off: BOT_EVENTS_TOKEN is not set"}
        if not hmac.compare_digest(_header(scope, _HEADER), self.token):
            return 401, {"error": f"missing or wrong {TOKEN_HEADER}"}
        return None

    async def _one(self, scope: Scope, receive: Receive) -> Answer:
        refused = self._refused(scope)
        if refused:
            return refused
        try:
            raw = await _bounded_body(scope, receive, MAX_EVENT_BYTES)
        except _TooLarge:
            return 413, {"error": f"the body is larger than {MAX_EVENT_BYTES} bytes"}
        return await self._taken(raw)

    async def _taken(self, raw: bytes) -> Answer:
        try:
            event = parse_event(raw)
        except BadEvent as exc:
            return 400, {"error": str(exc)}
        return await self.take(event, raw)

    async def _batch(self, scope: Scope, receive: Receive) -> Answer:
        """Length-prefixed bodies (4 bytes, big-endian, then the body), each answered as PATH would: a list of
        [status, answer]."""
        refused = self._refused(scope)
        if refused:
            return refused
        try:
            raw = await _bounded_body(scope, receive, MAX_BATCH_BYTES)
        except _TooLarge:
            return 413, {"error": f"the batch is larger than {MAX_BATCH_BYTES} bytes"}
        answers = await asyncio.gather(*(self._taken(body) for body in unpack(raw)))
        return 200, {"answers": [list(answer) for answer in answers]}


def pack(bodies: list[bytes]) -> bytes:
    return b"".join(len(body).to_bytes(4, "big") + body for body in bodies)


def unpack(raw: bytes) -> Iterator[bytes]:
    at = 0
    while at + 4 <= len(raw):
        size = int.from_bytes(raw[at:at + 4], "big")
        yield raw[at + 4:at + 4 + size]
        at += 4 + size


async def _send(send: Send, status: int, answer: dict[str, Any]) -> None:
    body = json.dumps(answer, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for given, value in scope["headers"] if given == name), b"")


async def _bounded_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            raise _TooLarge
        if not message.get("more_body", False):
            break
    return bytes(body)
