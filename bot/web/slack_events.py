"""POST /slack/events: verify the signature first, then parse, then drop replays, then hand over to bolt.

bolt's own adapter parses the body before it verifies the signature, so a malformed payload is a 500 even when
the request is forged; here nothing is parsed before the signature holds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.net import too_late
from bot.security import replay
from bot.store import Database

log = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 5 * 60  # as slack_sdk's SignatureVerifier, which bolt applies again after us
PURGE_EVERY_SECONDS = 60.0
DATABASE_PATIENCE = 0.5  # seconds the ack waits for the database's replay answer


class Verdict(Enum):
    ok = "ok"
    forged = "forged"  # no signature, a wrong one, or a timestamp outside the window
    malformed = "malformed"  # signed, but the timestamp is not a number of seconds


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float) -> Verdict:
    if not secret or not timestamp or not signature:
        return Verdict.forged
    base = b"v0:" + timestamp.encode("utf-8", "replace") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return Verdict.forged
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return Verdict.malformed
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        return Verdict.forged
    return Verdict.ok


# The fields bolt and the bot's middleware navigate, with the JSON types Slack sends them as (or null).
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "type": str, "command": str, "text": str, "user_id": str, "channel_id": str, "team_id": str,
    "trigger_id": str, "response_url": str, "api_app_id": str, "event_id": str,
    "user": dict, "event": dict, "view": dict, "container": dict, "channel": dict, "message": dict, "state": dict,
    "team": (dict, str), "enterprise": (dict, str), "actions": list, "authorizations": list,
}
NESTED_STRINGS = ("id", "type", "user", "channel", "team", "team_id", "callback_id", "action_id")
INTERACTIONS = ("block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut", "message_action")


VIEW_PAYLOADS = ("view_submission", "view_closed")


def modal_shaped(view: Any) -> bool:
    """bolt reads a submitted view's `type` and `callback_id` unguarded (a KeyError, a 500, without them)."""
    return isinstance(view, dict) and isinstance(view.get("type"), str) and isinstance(view.get("callback_id"), str)


def well_shaped(body: dict[str, Any]) -> bool:
    """Slack's shapes where the code reaches in: `"user": "x"` or `"event": 5` would fail deep inside bolt."""
    if "command" in body and not body.get("user_id"):
        return False
    if body.get("type") in INTERACTIONS and not (isinstance(body.get("user"), dict) and body["user"].get("id")):
        return False
    if body.get("type") in VIEW_PAYLOADS and not modal_shaped(body.get("view")):
        return False
    for name, expected in FIELD_TYPES.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, expected):
            return False
        items = value if isinstance(value, list) else [value]
        for item in items:
            if name in ("actions", "authorizations") and not isinstance(item, dict):
                return False
            if isinstance(item, dict) and any(item.get(key) is not None and not isinstance(item[key], str | dict)
                                              for key in NESTED_STRINGS):
                return False
    return True


def parse_slack_body(request: Request, body: bytes) -> AsyncBoltRequest | None:
    """bolt's request from a verified body; None when the body is not what Slack sends (a JSON object or a form)."""
    try:
        text = body.decode("utf-8")
        parsed = parse_body(text, request.headers.get("content-type", "").split(";")[0].strip() or None)
        if not isinstance(parsed, dict) or not well_shaped(parsed):
            return None
        return AsyncBoltRequest(body=text, query=str(request.query_params), headers=dict(request.headers))
    except Exception as exc:  # noqa: BLE001 - nothing but the body's content can make parsing fail: malformed input
        log.info("malformed Slack request body refused (%s)", type(exc).__name__)  # the body may hold secrets
        return None


def event_key(body: dict[str, Any]) -> str | None:
    """Slack signs each retry of an event afresh: the event_id is what repeats."""
    event_id = body.get("event_id")
    if body.get("type") != "event_callback" or not isinstance(event_id, str):
        return None
    return replay.event_key(str(body.get("team_id")), event_id)


class RecentKeys:
    """The keys this process took, until they expire: a replay is refused here even when the database is slow."""

    def __init__(self) -> None:
        self._expiry: dict[str, datetime] = {}

    def add(self, key: str, expires_at: datetime) -> bool:
        if key in self._expiry:
            return False
        self._expiry[key] = expires_at
        return True

    def purge(self, now: datetime) -> None:
        self._expiry = {key: when for key, when in self._expiry.items() if when > now}


class SlackEvents:
    """`dispatch`: where a verified request goes (bolt in this process, or the worker process of bot.postack).

    A request runs once: a replay is dropped by the memory of the process that sees it and by the database, across
    processes. Where the bot runs in a worker process, the server's process answers commands and button presses at
    once (`acks_at_once`) after its memory's check, and the worker checks them in the database before running
    them (`replays_in_db`), so no database write waits before an ack; modal submissions, answered with the
    worker's answer, are checked by the server's process."""

    def __init__(self, app: AsyncApp, db: Database, signing_secret: str,
                 clock: Callable[[], float] = time.time, *,
                 dispatch: Callable[[AsyncBoltRequest], Coroutine[Any, Any, BoltResponse]] | None = None,
                 replays_in_db: Callable[[AsyncBoltRequest], bool] = lambda _: True,
                 acks_at_once: Callable[[AsyncBoltRequest], bool] | None = None,
                 held_by: Callable[[AsyncBoltRequest], replay.Taken | None] = lambda _: None) -> None:
        self.app = app
        self.db = db
        self.signing_secret = signing_secret
        self.clock = clock
        self.dispatch = dispatch or app.async_dispatch
        self.replays_in_db = replays_in_db
        self.acks_at_once = acks_at_once
        self.held_by = held_by  # in a worker: the acked request it takes, remembered until its listener ends
        self._after_ack: set[asyncio.Task[BoltResponse]] = set()
        self._next_purge = 0.0
        self._recent = RecentKeys()

    async def handle(self, request: Request) -> Response:
        body = await request.body()  # already bounded by BodyLimit
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        verdict = verify_signature(self.signing_secret, body, timestamp, signature, self.clock())
        if verdict is Verdict.forged:
            return JSONResponse({"error": "invalid request signature"}, status_code=401)
        if verdict is Verdict.malformed:
            return JSONResponse({"error": "malformed X-Slack-Request-Timestamp"}, status_code=400)
        bolt_request = parse_slack_body(request, body)
        if bolt_request is None:
            return JSONResponse({"error": "malformed request body"}, status_code=400)
        if too_late(request.headers, time.time()):
            # Relayed by serve's process, which gave up on it and told its user that nothing was done.
            log.warning("a relayed request arrived after its deadline (the worker was hung); not run")
            return JSONResponse({"error": "past its relay deadline"}, status_code=503)
        assert timestamp is not None and signature is not None
        if self.acks_at_once is not None and self.acks_at_once(bolt_request):
            sent_at = datetime.fromtimestamp(int(timestamp), timezone.utc)
            if not self._recent.add(replay.signature_key(int(timestamp), signature), replay.signature_expiry(sent_at)):
                return self._replayed(request)
            task = asyncio.get_running_loop().create_task(self.dispatch(bolt_request))
            self._after_ack.add(task)
            task.add_done_callback(self._after_ack.discard)
            return Response(status_code=200)
        if not self.replays_in_db(bolt_request):
            return to_starlette_response(await self.dispatch(bolt_request))
        return await self._once(request, bolt_request, int(timestamp), signature)

    async def _once(self, request: Request, bolt_request: AsyncBoltRequest, timestamp: int,
                    signature: str) -> Response:
        """Dispatches a request the first time it is seen (by signature, and an event by its id)."""
        first = await self._first_time(timestamp, signature, self.held_by(bolt_request))
        if first is False:
            return self._replayed(request)
        if first is None and bolt_request.body.get("type") in VIEW_PAYLOADS:
            # A modal's answer is the ack itself: with the database refusing, nothing it asks can be done or
            # recorded. 503, and the modal stays open to submit again.
            return JSONResponse({"error": "the bot's database is unavailable; nothing was done"}, status_code=503)
        event = event_key(bolt_request.body)
        expires = datetime.fromtimestamp(self.clock(), timezone.utc) + replay.EVENT_MEMORY
        if event and await self._remember(event, expires) is False:
            return self._replayed(request)
        response = await self.dispatch(bolt_request)
        if event and response.status >= 500:
            await replay.forget(self.db, event)  # failed before any work: Slack's retry may do it
        return to_starlette_response(response)

    async def _remember(self, key: str, expires_at: datetime, taken: replay.Taken | None = None) -> bool | None:
        """First time this key is seen? The database answers across processes; while it does not answer quickly
        (a locked SQLite, a restarting PostgreSQL) this process's own memory does, so the ack is never held.
        None: the first time by this process's memory, with the database refusing."""
        if not self._recent.add(key, expires_at):
            return False
        remembered = asyncio.ensure_future(replay.remember(self.db, key, expires_at, taken))
        try:
            return await asyncio.wait_for(asyncio.shield(remembered), DATABASE_PATIENCE)
        except TimeoutError:
            log.warning("replay check: the database did not answer in %.1f s; this process's memory decided",
                        DATABASE_PATIENCE)
            return True
        except Exception:  # noqa: BLE001 - the database refused: this process's memory decides
            log.warning("replay check: the database refused; this process's memory decided", exc_info=True)
            return None

    @staticmethod
    def _replayed(request: Request) -> Response:
        # A copy of a request already taken (a replay, or Slack retrying an event it thinks went unanswered):
        # 200 with nothing, so Slack stops retrying and shows no error, and a replayer learns nothing.
        log.info("replayed Slack request ignored (retry %s)", request.headers.get("x-slack-retry-num", "none"))
        return Response(status_code=200)

    async def _first_time(self, timestamp: int, signature: str, taken: replay.Taken | None = None) -> bool | None:
        await self._purge_now_and_then()
        sent_at = datetime.fromtimestamp(timestamp, timezone.utc)
        return await self._remember(replay.signature_key(timestamp, signature), replay.signature_expiry(sent_at),
                                    taken)

    async def _purge_now_and_then(self) -> None:
        now = self.clock()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        self._recent.purge(datetime.fromtimestamp(now, timezone.utc))
        purge = asyncio.ensure_future(replay.purge_expired(self.db, datetime.fromtimestamp(now, timezone.utc)))
        purge.add_done_callback(lambda done: done.cancelled() or done.exception())  # a late purge is harmless
