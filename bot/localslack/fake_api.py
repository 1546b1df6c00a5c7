"""A fake Slack Web API served over real HTTP on 127.0.0.1, holding what a workspace would show.

slack_sdk's async client speaks aiohttp, not httpx, so the fake is a real server (uvicorn in a thread
with its own event loop); the bot under test talks to it exactly as it would talk to slack.com.
Socket Mode's WebSocket is served by aiohttp on a second port of the same loop: uvicorn serves WebSockets only
with the websockets or wsproto package, which the bot does not depend on, while aiohttp it already needs.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aiohttp import WSCloseCode, WSMsgType, web
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_LOCALE = "en-US"
JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata", "users")
RESPONSE_URL_USES = 5
APP_TOKEN_METHODS = ("apps.connections.open",)
TEXT_LIMITS = {"header": 150, "section": 3000, "button": 75, "title": 24, "submit": 24, "close": 24}


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict[str, Any]
    time: float
    response: dict[str, Any] = field(default_factory=dict)
    # What a person in the workspace would now see because of this call (None when nothing visible changed).
    effect: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass
class FakeFile:
    id: str
    filename: str
    title: str
    content: bytes
    channels: list[str]
    initial_comment: str | None = None
    thread_ts: str | None = None


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    message_ts: str | None
    ephemeral: bool
    uses: int = 0
    posted_ts: str | None = None  # the ephemeral this URL posted: a later replace_original replaces it, as Slack does


class FakeSlack:
    """The workspace as the bot changes it: channel messages, ephemerals per user, open modals, uploaded files,
    and every call in order. Served on a free loopback port by uvicorn in a thread of its own (`start`/`stop`, or
    `with`); read from any thread, all state is guarded by one lock."""

    def __init__(self, *, team_id: str = "T0LOCAL", team_domain: str = "local", bot_user_id: str = "U0BOT",
                 bot_id: str = "B0BOT", app_id: str = "A0LOCAL") -> None:
        self.team_id, self.team_domain = team_id, team_domain
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.users: dict[str, dict[str, Any]] = {}
        self._locales: dict[str, str] = {}  # users.info answers `default_locale` for a user not set here
        self.default_locale = DEFAULT_LOCALE
        self._lock = threading.RLock()
        self._calls: list[SlackCall] = []
        self._channels: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: dict[str, list[dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._homes: dict[str, dict[str, Any]] = {}  # each user's Home tab, as views.publish left it
        self._files: list[FakeFile] = []
        self._pending_uploads: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._dms: dict[str, str] = {}
        self._failures: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Socket Mode: URLs issued by apps.connections.open and not yet used, open connections by id, and the
        # envelopes awaiting their ack; connections and acks live on the fake's loop.
        self._socket_tickets: set[str] = set()
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.port = 0
        self.socket_port = 0
        self.app = Starlette(routes=[
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/upload/{file_id}", self._upload, methods=["POST"]),
            Route("/response/{url_id}", self._response_url, methods=["POST"]),
            Route("/files/{file_id}/{name}", self._download, methods=["GET"]),
        ])

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> "FakeSlack":
        api_sock, ws_sock = _loopback_socket(), _loopback_socket()
        self.port, self.socket_port = api_sock.getsockname()[1], ws_sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(self._server, api_sock, ws_sock),),
                                        name="fake-slack", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Slack server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = self._loop = None

    async def _serve(self, server: uvicorn.Server, api_sock: socket.socket, ws_sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        socket_app = web.Application()
        socket_app.router.add_get("/socket-mode/{connection_id}", self._socket_mode)
        runner = web.AppRunner(socket_app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, ws_sock).start()
        try:
            await server.serve(sockets=[api_sock])
        finally:
            for connection in list(self._sockets.values()):
                await connection.close(code=WSCloseCode.GOING_AWAY)
            await runner.cleanup()

    def __enter__(self) -> "FakeSlack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # ---- what tests read -------------------------------------------------------------------------------------
    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def open_sockets(self) -> int:
        """How many Socket Mode connections an app holds open now."""
        with self._lock:
            return len(self._sockets)

    async def socket_connected(self, timeout: float = 5.0) -> None:
        """Returns once an app is connected over Socket Mode (it has been sent `hello`)."""
        await self._wait_for_sockets(lambda n: n > 0, "no app connected over Socket Mode", timeout)

    async def socket_closed(self, timeout: float = 5.0) -> None:
        """Returns once no Socket Mode connection is open any more."""
        await self._wait_for_sockets(lambda n: n == 0, "a Socket Mode connection stayed open", timeout)

    async def _wait_for_sockets(self, done: Callable[[int], bool], failure: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.open_sockets):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{failure} within {timeout} s")
            await asyncio.sleep(0.01)

    def clear(self) -> None:
        """Forgets the recorded calls; the workspace state (messages, views, files) stays."""
        with self._lock:
            self._calls.clear()

    def messages(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._channels.get(self._resolve_channel(channel), []))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages(channel) if m["ts"] == ts), None)

    def ephemerals(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._ephemerals.get(user, []))

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._views)

    @property
    def homes(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._homes)

    @property
    def files(self) -> list[FakeFile]:
        with self._lock:
            return list(self._files)

    def _find_call(self, method: str, predicate: Callable[[SlackCall], bool] | None) -> SlackCall | None:
        return next((c for c in self.calls if c.method == method and (predicate is None or predicate(c))), None)

    async def wait_for(self, method: str, predicate: Callable[[SlackCall], bool] | None = None,
                       timeout: float = 5.0) -> SlackCall:
        """The first recorded call to `method` (matching `predicate`), waiting for it without blocking the loop."""
        deadline = time.monotonic() + timeout
        while (found := self._find_call(method, predicate)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} call within {timeout} s; saw {[c.method for c in self.calls]}")
            await asyncio.sleep(0.01)
        return found

    def wait_for_sync(self, method: str, predicate: Callable[[SlackCall], bool] | None = None,
                      timeout: float = 5.0) -> SlackCall:
        deadline = time.monotonic() + timeout
        while (found := self._find_call(method, predicate)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} call within {timeout} s; saw {[c.method for c in self.calls]}")
            time.sleep(0.01)
        return found

    # ---- what tests arrange ----------------------------------------------------------------------------------
    def set_locale(self, user_id: str, locale: str) -> None:
        """The locale users.info reports for a user (a Slack locale such as "ja-JP")."""
        with self._lock:
            self._locales[user_id] = locale

    def fail_next(self, method: str, error: str = "ratelimited", times: int = 1) -> None:
        """The next `times` calls to `method` (an API method, or "response_url") answer this Slack error."""
        with self._lock:
            self._failures.setdefault(method, []).extend([error] * times)

    def new_response_url(self, channel: str, user: str, *, message_ts: str | None = None,
                         ephemeral: bool = False) -> str:
        """A response_url for an interaction in `channel` by `user`; `message_ts` is the message it came from."""
        url_id = uuid.uuid4().hex[:16]
        with self._lock:
            self._response_urls[url_id] = _ResponseUrl(channel, user, message_ts, ephemeral)
        return f"{self.base_url}/response/{url_id}"

    def new_trigger_id(self) -> str:
        return f"{next(self._ids)}.{int(time.time())}.{uuid.uuid4().hex[:24]}"

    def apply_response_action(self, view_id: str, body: dict[str, Any] | None,
                              submitted_hash: str | None = None) -> None:
        """What Slack does with a view_submission's ack body: close, update, push, or keep the modal for errors.
        Recorded as a "response_action" call so its visible effect is seen like any other. Slack applies the ack
        before anything the app does afterwards; a views.update that reached the fake first (the app kept working
        after its ack) has already replaced the submitted view, and the older ack must not overwrite it."""
        action = (body or {}).get("response_action")
        args = {"view_id": view_id, **(body or {})}
        with self._lock:
            if view_id not in self._views or action == "errors":
                return
            if submitted_hash is not None and self._views[view_id].get("hash") != submitted_hash:
                return
            try:
                effect = self._respond_to_submission(view_id, action, body or {})
            except SlackError as exc:
                self._record("response_action", args, {"ok": False, "error": exc.error, **exc.extra}, None)
                return
            self._record("response_action", args, {"ok": True}, effect)

    def _respond_to_submission(self, view_id: str, action: str | None, body: dict[str, Any]) -> dict[str, Any]:
        current = self._views[view_id]
        if action == "update":
            view = self._store_view(body.get("view") or {}, view_id=view_id, previous=current)
            return {"kind": "view_update", "view_id": view_id, "view": view}
        if action == "push":
            view = self._store_view(body.get("view") or {}, previous=current)
            return {"kind": "view_open", "view_id": view["id"], "view": view}
        closing = [view_id]
        if action == "clear":
            closing = [v for v, view in self._views.items() if view["root_view_id"] == current["root_view_id"]]
        for closed in closing:
            del self._views[closed]
        return {"kind": "view_close", "view_id": view_id, "title": (current.get("title") or {}).get("text", "")}

    def apply_command_response(self, channel: str, user: str, body: dict[str, Any]) -> None:
        """What Slack does with a slash command's ack body: an ephemeral reply, or a channel message if in_channel."""
        args = {**body, "channel": channel, "user": user}
        with self._lock:
            try:
                post = self._post_message if body.get("response_type") == "in_channel" else self._post_ephemeral
                response, effect = post(args)
                self._record("command_response", args, {"ok": True, **response}, effect)
            except SlackError as exc:
                self._record("command_response", args, {"ok": False, "error": exc.error}, None)

    async def socket_deliver(self, type: str, payload: dict[str, Any], *, accepts_response_payload: bool | None = None,
                             retry_attempt: int = 0, retry_reason: str = "", timeout: float = 3.0) -> dict[str, Any]:
        """Sends an envelope (`type` slash_commands, interactive or events_api; `payload` a slash command's form
        fields as a dict, an interaction payload or an event callback) to the connected app and returns its ack,
        {"envelope_id": ..., "payload": ...} as the app sent it. What an ack's payload shows in Slack (a command's
        reply, a modal's response_action) then shows in the fake. Callable from any event loop; TimeoutError when
        no ack comes back within `timeout` (Slack's limit is 3 s)."""
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive" and payload.get("type") in ("view_submission", "block_suggestion"))
        envelope = {"envelope_id": str(uuid.uuid4()), "type": type, "payload": payload,
                    "accepts_response_payload": accepts_response_payload, "retry_attempt": retry_attempt,
                    "retry_reason": retry_reason}
        if self._loop is None:
            raise RuntimeError("the fake Slack server is not running")
        sent = asyncio.run_coroutine_threadsafe(self._send_envelope(envelope, timeout), self._loop)
        ack = await asyncio.wrap_future(sent)
        self._show_ack(type, payload, ack.get("payload"))
        return ack

    def _show_ack(self, kind: str, payload: dict[str, Any], body: dict[str, Any] | None) -> None:
        """Slack treats an ack's payload as it treats the same body answered over HTTP."""
        if kind == "slash_commands" and body:
            self.apply_command_response(payload["channel_id"], payload["user_id"], body)
        view = payload.get("view") or {}
        if kind == "interactive" and payload.get("type") == "view_submission" and view.get("id"):
            self.apply_response_action(view["id"], body, submitted_hash=view.get("hash"))

    # ---- Socket Mode (on the fake's loop) --------------------------------------------------------------------
    async def _socket_mode(self, request: web.Request) -> web.StreamResponse:
        connection_id = request.match_info["connection_id"]
        with self._lock:
            if connection_id not in self._socket_tickets:
                return web.Response(status=401, text="invalid or used Socket Mode URL")
            self._socket_tickets.discard(connection_id)
        connection = web.WebSocketResponse()
        await connection.prepare(request)
        with self._lock:
            self._sockets[connection_id] = connection
        try:
            await connection.send_json({
                "type": "hello", "num_connections": self.open_sockets,
                "debug_info": {"host": "applink-local", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            })
            async for message in connection:
                if message.type == WSMsgType.TEXT:
                    self._take_ack(message.data)
        finally:
            with self._lock:
                del self._sockets[connection_id]
        return connection

    def _take_ack(self, text: str) -> None:
        try:
            ack = json.loads(text)
        except ValueError:
            return
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        waiting = self._acks.get(envelope_id) if isinstance(envelope_id, str) else None
        if waiting is not None and not waiting.done():
            waiting.set_result(ack)

    async def _send_envelope(self, envelope: dict[str, Any], timeout: float) -> dict[str, Any]:
        with self._lock:
            connection = next(reversed(self._sockets.values()), None)
        if connection is None:
            raise RuntimeError("no app is connected over Socket Mode")
        envelope_id = envelope["envelope_id"]
        self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        try:
            await connection.send_json(envelope)
            return await asyncio.wait_for(self._acks[envelope_id], timeout)
        except TimeoutError:
            raise TimeoutError(f"no ack for the {envelope['type']} envelope within {timeout} s") from None
        finally:
            del self._acks[envelope_id]

    # ---- HTTP endpoints --------------------------------------------------------------------------------------
    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await _request_args(request)
        try:
            _check_token(method, _bearer(request), args.get("token"))
            self._take_failure(method)
            handler = self._methods().get(method)
            if handler is None:
                raise SlackError("unknown_method")
            with self._lock:
                response, effect = handler(args)
            return self._answer(method, args, {"ok": True, **response}, effect)
        except SlackError as exc:
            return self._answer(method, args, {"ok": False, "error": exc.error, **exc.extra}, None, exc.status)

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        content = await _upload_content(request)
        with self._lock:
            pending = self._pending_uploads.get(file_id)
            if pending is None:
                return Response("file not found", status_code=404)
            pending["content"] = content
        return Response(f"OK - {len(content)}", media_type="text/plain")

    async def _download(self, request: Request) -> Response:
        found = next((f for f in self.files if f.id == request.path_params["file_id"]), None)
        if found is None:
            return Response("file not found", status_code=404)
        return Response(found.content, media_type="application/octet-stream")

    async def _response_url(self, request: Request) -> Response:
        url_id = request.path_params["url_id"]
        args = _decode_json_fields(dict(await _request_args(request)))
        args["response_url_id"] = url_id
        try:
            self._take_failure("response_url")
            with self._lock:
                effect = self._use_response_url(url_id, args)
            return self._answer("response_url", args, {"ok": True}, effect)
        except SlackError as exc:
            return self._answer("response_url", args, {"ok": False, "error": exc.error}, None, exc.status)

    def _answer(self, method: str, args: dict[str, Any], response: dict[str, Any], effect: dict[str, Any] | None,
                status: int = 200) -> Response:
        self._record(method, args, response, effect)
        headers = {"Retry-After": "1"} if response.get("error") == "ratelimited" else None
        return JSONResponse(response, status_code=429 if headers else status, headers=headers)

    def _record(self, method: str, args: dict[str, Any], response: dict[str, Any],
                effect: dict[str, Any] | None) -> None:
        with self._lock:
            self._calls.append(SlackCall(method, args, time.time(), response, copy.deepcopy(effect)))

    def _take_failure(self, method: str) -> None:
        with self._lock:
            queued = self._failures.get(method)
            if queued:
                raise SlackError(queued.pop(0))

    # ---- Web API methods: each returns (response fields, visible effect) and runs under the lock ------------
    def _methods(self) -> dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any] | None]]]:
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def _auth_test(self, args: dict[str, Any]) -> tuple[dict[str, Any], None]:
        return {"url": f"https://{self.team_domain}.slack.com/", "team": self.team_domain, "user": "soracom-bot",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}, None

    def _apps_connections_open(self, args: dict[str, Any]) -> tuple[dict[str, Any], None]:
        connection_id = uuid.uuid4().hex
        self._socket_tickets.add(connection_id)
        return {"url": f"ws://127.0.0.1:{self.socket_port}/socket-mode/{connection_id}"}, None

    def _post_message(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        channel = self._resolve_channel(_required(args, "channel"))
        message = self._new_message(args)
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        self._channels.setdefault(channel, []).append(message)
        return ({"channel": channel, "ts": message["ts"], "message": message},
                {"kind": "message", "channel": channel, "ts": message["ts"], "message": message})

    def _post_ephemeral(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        channel = self._resolve_channel(_required(args, "channel"))
        user = _required(args, "user")
        message = {**self._new_message(args), "channel": channel, "is_ephemeral": True}
        self._ephemerals.setdefault(user, []).append(message)
        return ({"message_ts": message["ts"]},
                {"kind": "ephemeral", "channel": channel, "user": user, "ts": message["ts"], "message": message})

    def _update(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        channel = self._resolve_channel(_required(args, "channel"))
        message = self._find_message(channel, _required(args, "ts"))
        _check_message_content(args, require_content=False)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args:
                message[key] = args[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return ({"channel": channel, "ts": message["ts"], "text": message.get("text", ""), "message": message},
                {"kind": "update", "channel": channel, "ts": message["ts"], "message": message})

    def _delete(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        channel = self._resolve_channel(_required(args, "channel"))
        message = self._find_message(channel, _required(args, "ts"))
        self._channels[channel].remove(message)
        return {"channel": channel, "ts": message["ts"]}, {"kind": "delete", "channel": channel, "ts": message["ts"]}

    def _views_open(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        _required(args, "trigger_id")
        view = self._store_view(_view_arg(args))
        return {"view": view}, {"kind": "view_open", "view_id": view["id"], "view": view}

    def _views_push(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        _required(args, "trigger_id")
        top = next(reversed(self._views.values()), None)
        view = self._store_view(_view_arg(args), previous=top)
        return {"view": view}, {"kind": "view_open", "view_id": view["id"], "view": view}

    def _views_update(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        external_id = args.get("external_id")
        view_id = args.get("view_id") or next(
            (vid for vid, v in self._views.items() if external_id and v["external_id"] == external_id), None)
        if not view_id or view_id not in self._views:
            raise SlackError("not_found")
        current = self._views[view_id]
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._store_view(_view_arg(args), view_id=view_id, previous=current)
        return {"view": view}, {"kind": "view_update", "view_id": view_id, "view": view}

    def _views_publish(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        user = _required(args, "user_id")
        view = _view_arg(args)
        if view.get("type") != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be home"]})
        current = self._homes.get(user)
        if args.get("hash") and current and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        _check_view(view)
        stored = {"id": (current or {}).get("id") or f"VH{next(self._ids):07d}", "team_id": self.team_id,
                  "type": "home", "blocks": _with_block_ids(view.get("blocks", [])),
                  "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
                  "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}", "app_id": self.app_id, "bot_id": self.bot_id}
        self._homes[user] = stored
        return {"view": copy.deepcopy(stored)}, {"kind": "home", "user": user, "view_id": stored["id"],
                                                 "view": copy.deepcopy(stored)}

    def _conversations_open(self, args: dict[str, Any]) -> tuple[dict[str, Any], None]:
        if args.get("channel"):
            return {"channel": {"id": args["channel"]}, "no_op": True, "already_open": True}, None
        users = [u.strip() for u in str(_required(args, "users")).split(",") if u.strip()]
        key = ",".join(sorted(users))
        known = key in self._dms
        channel = self._dm_channel(key)
        return {"channel": {"id": channel, "is_im": len(users) == 1}, "no_op": known, "already_open": known}, None

    def _users_info(self, args: dict[str, Any]) -> tuple[dict[str, Any], None]:
        user_id = str(_required(args, "user"))
        if user_id not in self.users:
            if user_id[:1] not in ("U", "W"):
                raise SlackError("user_not_found")
            self.users[user_id] = self._generated_user(user_id)
        user = copy.deepcopy(self.users[user_id])
        if str(args.get("include_locale", "")).lower() in ("true", "1"):  # Slack sends `locale` only when asked
            user["locale"] = self._locales.get(user_id, self.default_locale)
        return {"user": user}, None

    def _get_upload_url(self, args: dict[str, Any]) -> tuple[dict[str, Any], None]:
        filename = _required(args, "filename")
        length = int(_required(args, "length"))
        file_id = f"F{next(self._ids):08d}"
        self._pending_uploads[file_id] = {"filename": filename, "length": length, "content": None}
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}, None

    def _complete_upload(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        entries = _required(args, "files")
        channels = [c for c in str(args.get("channels") or args.get("channel_id") or "").split(",") if c]
        channels = [self._resolve_channel(c) for c in channels]
        completed = []
        for entry in entries:
            pending = self._pending_uploads.get(entry.get("id", ""))
            if pending is None or pending["content"] is None:
                raise SlackError("file_not_found")
            completed.append(FakeFile(entry["id"], pending["filename"], entry.get("title") or pending["filename"],
                                      pending["content"], channels, args.get("initial_comment"), args.get("thread_ts")))
        for done in completed:
            del self._pending_uploads[done.id]
            self._files.append(done)
        file_objects = [self._file_object(f) for f in completed]
        effect = None
        for channel in channels:
            message = {**self._new_message({"text": args.get("initial_comment") or ""}, require_content=False),
                       "files": file_objects, "upload": True}
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            self._channels.setdefault(channel, []).append(message)
            effect = {"kind": "file", "channel": channel, "ts": message["ts"], "message": message}
        return {"files": file_objects}, effect

    # ---- response_url ----------------------------------------------------------------------------------------
    def _use_response_url(self, url_id: str, args: dict[str, Any]) -> dict[str, Any]:
        target = self._response_urls.get(url_id)
        if target is None:
            raise SlackError("expired_url", status=404)
        if target.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url", status=404)
        target.uses += 1
        if _truthy(args.get("delete_original")):
            return self._delete_original(target)
        _check_message_content(args, require_content=True)
        if _truthy(args.get("replace_original")) and target.message_ts:
            return self._replace_original(target, args)
        if _truthy(args.get("replace_original")) and target.posted_ts:
            return self._replace_original(replace(target, message_ts=target.posted_ts, ephemeral=True), args)
        if args.get("response_type") == "in_channel":
            return self._post_message({**args, "channel": target.channel})[1]
        effect = self._post_ephemeral({**args, "channel": target.channel, "user": target.user})[1]
        target.posted_ts = effect["ts"]
        return effect

    def _delete_original(self, target: _ResponseUrl) -> dict[str, Any]:
        if target.ephemeral:
            kept = [m for m in self._ephemerals.get(target.user, []) if m["ts"] != target.message_ts]
            self._ephemerals[target.user] = kept
            return {"kind": "delete", "channel": target.channel, "ts": target.message_ts, "ephemeral": True}
        message = self._find_message(target.channel, target.message_ts or "")
        self._channels[target.channel].remove(message)
        return {"kind": "delete", "channel": target.channel, "ts": message["ts"]}

    def _replace_original(self, target: _ResponseUrl, args: dict[str, Any]) -> dict[str, Any]:
        if target.ephemeral:
            pool = self._ephemerals.get(target.user, [])
            message = next((m for m in pool if m["ts"] == target.message_ts), None)
            if message is None:
                raise SlackError("message_not_found", status=404)
        else:
            message = self._find_message(target.channel, target.message_ts or "")
        message["text"] = args.get("text", "")
        message["blocks"] = args.get("blocks", [])
        return {"kind": "update", "channel": target.channel, "ts": message["ts"], "message": message,
                "ephemeral": target.ephemeral, "user": target.user}

    # ---- internals -------------------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        with self._lock:
            self._last_ts = max(round(time.time(), 6), round(self._last_ts + 0.000001, 6))
            return f"{self._last_ts:.6f}"

    def _new_message(self, args: dict[str, Any], require_content: bool = True) -> dict[str, Any]:
        _check_message_content(args, require_content=require_content)
        message: dict[str, Any] = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id,
                                   "app_id": self.app_id, "team": self.team_id, "text": args.get("text") or "",
                                   "ts": self._next_ts()}
        for key in ("blocks", "attachments", "metadata"):
            if args.get(key):
                message[key] = args[key]
        return message

    def _find_message(self, channel: str, ts: str) -> dict[str, Any]:
        found = next((m for m in self._channels.get(channel, []) if m["ts"] == ts), None)
        if found is None:
            raise SlackError("message_not_found")
        return found

    def _resolve_channel(self, channel: str) -> str:
        """A user ID as channel means the DM with the bot, as Slack does for chat.postMessage."""
        if channel[:1] in ("U", "W"):
            return self._dm_channel(channel)
        return channel

    def _dm_channel(self, users_key: str) -> str:
        with self._lock:
            if users_key not in self._dms:
                self._dms[users_key] = f"D{next(self._ids):08d}"
            return self._dms[users_key]

    def _store_view(self, view: dict[str, Any], *, view_id: str | None = None,
                    previous: dict[str, Any] | None = None) -> dict[str, Any]:
        _check_view(view)
        view_id = view_id or f"V{next(self._ids):08d}"
        kept = self._views.get(view_id, {})
        stored = {
            "id": view_id, "team_id": self.team_id, "type": view["type"],
            "blocks": _with_block_ids(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
            "state": {"values": {}}, "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view.get("title"), "close": view.get("close"), "submit": view.get("submit"),
            "clear_on_close": bool(view.get("clear_on_close")), "notify_on_close": bool(view.get("notify_on_close")),
            "external_id": view.get("external_id", ""), "app_id": self.app_id, "bot_id": self.bot_id,
            "root_view_id": kept.get("root_view_id") or (previous or {}).get("root_view_id") or view_id,
            "previous_view_id": kept.get("previous_view_id") if kept else (previous or {}).get("id"),
        }
        self._views.pop(view_id, None)  # re-insert so the newest view is last (the top of the stack)
        self._views[view_id] = stored
        return copy.deepcopy(stored)

    def _generated_user(self, user_id: str) -> dict[str, Any]:
        name = f"user-{user_id.lower()}"
        return {"id": user_id, "team_id": self.team_id, "name": name, "real_name": f"Local {user_id}",
                "deleted": False, "is_admin": False, "is_owner": False, "is_bot": False, "tz": "Asia/Tokyo",
                "tz_label": "Japan Standard Time", "tz_offset": 32400,
                "profile": {"real_name": f"Local {user_id}", "display_name": name,
                            "email": f"{user_id.lower()}@example.invalid"}}

    def _file_object(self, found: FakeFile) -> dict[str, Any]:
        now = int(time.time())
        return {"id": found.id, "created": now, "timestamp": now, "name": found.filename, "title": found.title,
                "mimetype": _mimetype(found.filename), "filetype": found.filename.rpartition(".")[2],
                "user": self.bot_user_id, "size": len(found.content), "channels": found.channels,
                "url_private": f"{self.base_url}/files/{found.id}/{found.filename}",
                "permalink": f"{self.base_url}/files/{found.id}/{found.filename}"}


# ---- request parsing and validation ------------------------------------------------------------------------------
def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _check_token(method: str, bearer: str | None, param: Any) -> None:
    """A bot token for the Web API; the app-level token for Socket Mode, in the header only, as Slack requires."""
    token = str(bearer or param or "")
    if not token:
        raise SlackError("not_authed")
    if not token.startswith(("xoxb-", "xapp-")):
        raise SlackError("invalid_auth")
    if token.startswith("xapp-") != (method in APP_TOKEN_METHODS):
        raise SlackError("not_allowed_token_type")
    if method in APP_TOKEN_METHODS and bearer is None:
        raise SlackError("not_authed")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


async def _request_args(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if body and "json" in content_type:
        args.update(json.loads(body))
    elif body and "multipart/form-data" in content_type:
        args.update({k: v.decode("utf-8", "replace") for k, v in _multipart_parts(body, content_type).items()})
    elif body:
        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return _decode_json_fields(args)


def _decode_json_fields(args: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            args[key] = json.loads(value)
    return args


async def _upload_content(request: Request) -> bytes:
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" not in content_type:
        return body
    parts = _multipart_parts(body, content_type)
    return parts.get("file") or next(iter(parts.values()), b"")


def _multipart_parts(body: bytes, content_type: str) -> dict[str, bytes]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name, payload = part.get_param("name", header="content-disposition"), part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):  # a named leaf part: what an upload form holds
            parts[name] = payload
    return parts


def _required(args: dict[str, Any], name: str) -> Any:
    if args.get(name) in (None, ""):
        problem = f"[ERROR] missing required field: {name}"
        raise SlackError("invalid_arguments", response_metadata={"messages": [problem]})
    return args[name]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _view_arg(args: dict[str, Any]) -> dict[str, Any]:
    view = _required(args, "view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments")
    return view


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack gives every block without a block_id a generated one."""
    return [{**b, "block_id": b.get("block_id") or uuid.uuid4().hex[:5]} for b in copy.deepcopy(blocks)]


def _check_message_content(args: dict[str, Any], *, require_content: bool) -> None:
    if require_content and not (args.get("text") or args.get("blocks") or args.get("attachments")):
        raise SlackError("no_text")
    problems = _block_problems(args.get("blocks") or [], limit=50)
    if problems:
        raise SlackError("invalid_blocks", errors=problems, response_metadata={"messages": problems})


def _check_view(view: dict[str, Any]) -> None:
    problems = []
    if view.get("type") not in ("modal", "home"):
        problems.append("must be modal or home [json-pointer:/view/type]")
    for key in ("title", "submit", "close"):
        text = (view.get(key) or {}).get("text", "")
        if len(text) > TEXT_LIMITS[key]:
            problems.append(f"must be less than {TEXT_LIMITS[key] + 1} characters [json-pointer:/view/{key}/text]")
    if view.get("type") == "modal" and not view.get("title"):
        problems.append("missing required field: title [json-pointer:/view]")
    if len(view.get("private_metadata") or "") > 3000:
        problems.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    has_input = any(b.get("type") == "input" for b in view.get("blocks", []))
    if view.get("type") == "modal" and has_input and not view.get("submit"):
        problems.append("submit is required when input blocks are present [json-pointer:/view/submit]")
    problems += _block_problems(view.get("blocks", []), limit=100, pointer="/view/blocks")
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


def _block_problems(blocks: Iterable[dict[str, Any]], *, limit: int, pointer: str = "/blocks") -> list[str]:
    """The limits the real API enforces that a bot most often trips over."""
    blocks = list(blocks)
    problems = [f"no more than {limit} items allowed [json-pointer:{pointer}]"] if len(blocks) > limit else []
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"{pointer}/{i}"
        block_id = block.get("block_id")
        if block_id and block_id in seen_ids:
            problems.append(f"duplicate block_id {block_id!r} [json-pointer:{where}/block_id]")
        seen_ids.add(block_id or "")
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if kind in ("header", "section") and len(text) > TEXT_LIMITS[kind]:
            problems.append(f"must be less than {TEXT_LIMITS[kind] + 1} characters [json-pointer:{where}/text/text]")
        if kind == "section" and len(block.get("fields") or []) > 10:
            problems.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
        for j, element in enumerate((block.get("elements") or []) if kind == "actions" else []):
            label = (element.get("text") or {}).get("text", "")
            if element.get("type") == "button" and len(label) > TEXT_LIMITS["button"]:
                problems.append(f"must be less than 76 characters [json-pointer:{where}/elements/{j}/text/text]")
            if len(str(element.get("value", ""))) > 2000:
                problems.append(f"must be less than 2001 characters [json-pointer:{where}/elements/{j}/value]")
    return problems


def _mimetype(filename: str) -> str:
    return {"csv": "text/csv", "png": "image/png", "txt": "text/plain", "json": "application/json",
            "pdf": "application/pdf"}.get(filename.rpartition(".")[2].lower(), "application/octet-stream")
