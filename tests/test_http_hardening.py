"""POST /slack/events under attack: body limit, signature before parsing, replays; /healthz; the enrollment page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from bot.config import Settings
from bot.local import LocalBot
from bot.security import replay
from bot.security.roles import Role
from bot.services import audit
from bot.services.roles import set_role
from bot.store import Database
from bot.store.tables import SeenRequest
from bot.web import enroll_page
from bot.web.limits import MAX_BODY_BYTES
from tests.conftest import ADMIN, OPERATOR
from tests.clock import Clock

SIM = "440100000000005"  # ready in the seed: /sim activate changes it


def signed_headers(secret: str, body: bytes, timestamp: str, content_type: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


async def post_signed(local: LocalBot, body: bytes, *, content_type: str = "application/x-www-form-urlencoded",
                      timestamp: str | None = None, secret: str | None = None) -> httpx.Response:
    assert local.http is not None
    headers = signed_headers(secret or local.signing_secret, body, str(int(time.time())) if timestamp is None else timestamp,
                             content_type)
    return await local.http.post("/slack/events", content=body, headers=headers)


class CountingBody:
    """A request body streamed in chunks, counting how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield b"x" * self.chunk


# ---- body limit ------------------------------------------------------------------------------------------------


async def test_a_declared_body_over_1_mb_is_refused_before_a_byte_is_read(harness) -> None:  # type: ignore[no-untyped-def]
    body = CountingBody(50 * 1024 * 1024)
    response = await harness.local.http.post("/slack/events", content=body,
                                             headers={"Content-Length": str(body.total)})
    assert response.status_code == 413
    assert body.pulled == 0
    assert not harness.fake.calls


async def test_a_chunked_body_is_cut_off_once_past_1_mb(harness) -> None:  # type: ignore[no-untyped-def]
    body = CountingBody(50 * 1024 * 1024)
    response = await harness.local.http.post("/slack/events", content=body)  # no Content-Length: chunked
    assert response.status_code == 413
    assert MAX_BODY_BYTES < body.pulled <= MAX_BODY_BYTES + body.chunk
    assert not harness.fake.calls


async def test_a_signed_command_of_exactly_1_mb_still_runs(harness) -> None:  # type: ignore[no-untyped-def]
    form = harness.local.sender.command_form("/sim", "show 440100000000001", user_id=OPERATOR, channel_id="C1")
    base = urlencode(form).encode()
    body = base + b"&pad=" + b"x" * (MAX_BODY_BYTES - len(base) - 5)
    assert len(body) == MAX_BODY_BYTES
    assert (await post_signed(harness.local, body)).status_code == 200
    assert (await post_signed(harness.local, body + b"x")).status_code == 413


# ---- signature first, then parsing ------------------------------------------------------------------------------

MALFORMED_BODIES = [
    (urlencode({"payload": "{not json"}).encode(), "application/x-www-form-urlencoded"),
    (urlencode({"payload": "null"}).encode(), "application/x-www-form-urlencoded"),
    (urlencode({"payload": "[]"}).encode(), "application/x-www-form-urlencoded"),
    (b"{not json", "application/json"),
    (b"null", "application/json"),
    (b"[]", "application/json"),
    (b"\xff\xfe text=\xc3", "application/x-www-form-urlencoded"),
    # JSON, but not Slack's shapes: each of these was a 500 from deep inside bolt or the bot's middleware
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": "U1"})}).encode(),
     "application/x-www-form-urlencoded"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": 5}, "team": 3})}).encode(),
     "application/x-www-form-urlencoded"),
    (json.dumps({"type": "event_callback", "event": "x"}).encode(), "application/json"),
    (urlencode({"command": "/sim", "text": "list", "user_id": ""}).encode(), "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
async def test_a_malformed_body_is_400_when_signed_and_401_when_forged(harness, body: bytes,  # type: ignore[no-untyped-def]
                                                                       content_type: str) -> None:
    assert (await post_signed(harness.local, body, content_type=content_type)).status_code == 400
    forged = await post_signed(harness.local, body, content_type=content_type, secret="not-the-secret")
    assert forged.status_code == 401
    assert not harness.fake.calls


@pytest.mark.parametrize("timestamp", ["abc", "1e400", "-1", "", " 17"])
async def test_a_malformed_timestamp_is_400_when_signed_and_401_when_forged(harness, timestamp: str) -> None:  # type: ignore[no-untyped-def]
    body = urlencode(harness.local.sender.command_form("/soracom", "roles", user_id=ADMIN)).encode()
    signed = await post_signed(harness.local, body, timestamp=timestamp)
    assert signed.status_code == (401 if timestamp == "" else 400)
    forged = await post_signed(harness.local, body, timestamp=timestamp, secret="not-the-secret")
    assert forged.status_code == 401
    assert not harness.fake.calls


async def test_a_stale_or_unsigned_request_is_401(harness) -> None:  # type: ignore[no-untyped-def]
    body = urlencode(harness.local.sender.command_form("/soracom", "roles", user_id=ADMIN)).encode()
    stale = await post_signed(harness.local, body, timestamp=str(int(time.time()) - 301))
    assert stale.status_code == 401
    bare = await harness.local.http.post("/slack/events", content=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bare.status_code == 401
    assert not harness.fake.calls


# ---- replays, across two bot processes on one database ----------------------------------------------------------


@pytest.fixture
async def two_bots(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[LocalBot, LocalBot]]:
    from bot.emulator import EmulatorState

    settings = Settings(_env_file=None, DATABASE_URL=database_url, BOT_DATA_DIR=str(tmp_path / "data"),  # type: ignore[call-arg]
                        BOT_ADMINS=ADMIN, BOT_SECRET_KEY="one-key-for-both")
    emulator = EmulatorState(now=Clock())
    first, second = LocalBot(settings, emulator=emulator), LocalBot(settings, emulator=emulator)
    second.signing_secret = first.signing_secret  # one Slack app, two processes behind a load balancer
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await second.stop()
        await first.stop()


def activations(emulator: Any) -> int:
    return len([r for r in emulator.requests if r.operation_id == "activateSubscriber"])


async def test_a_replayed_command_runs_once_across_processes(two_bots) -> None:  # type: ignore[no-untyped-def]
    first, second = two_bots
    body = urlencode(first.sender.command_form("/sim", f"activate {SIM}", user_id=OPERATOR, channel_id="C1"))
    timestamp = str(int(time.time()))
    await set_role(first.rt.db, OPERATOR, Role.operator, granted_by=ADMIN)
    original = await post_signed(first, body.encode(), timestamp=timestamp)
    await first.settle()
    assert original.status_code == 200
    for bot in (second, first, second):
        again = await post_signed(bot, body.encode(), timestamp=timestamp)
        assert (again.status_code, again.content) == (200, b"")
    await first.settle()
    await second.settle()
    assert activations(first.rt.emulator) == 1
    assert [e.action for e in await audit.latest(first.rt.db, 10)].count("sim.activate") == 1
    # The same command sent afresh (new timestamp, new signature) is a new request and runs.
    await post_signed(second, body.encode(), timestamp=str(int(timestamp) + 1))
    await second.settle()
    assert [e.action for e in await audit.latest(first.rt.db, 10)].count("sim.activate") == 2


async def test_slack_retrying_an_event_does_the_work_once(two_bots) -> None:  # type: ignore[no-untyped-def]
    first, second = two_bots
    seen: list[str] = []

    async def mentioned(event: dict[str, Any]) -> None:
        seen.append(event["text"])

    for bot in (first, second):
        bot.app.event("app_mention")(mentioned)
    event = {"token": "t", "team_id": "T0LOCAL", "api_app_id": "A0LOCAL", "type": "event_callback",
             "event_id": "Ev0RETRIED01", "event_time": int(time.time()),
             "event": {"type": "app_mention", "user": OPERATOR, "text": "hi", "channel": "C1", "ts": "1.2"}}
    body = json.dumps(event).encode()
    assert (await first.sender.post(body, "application/json")).status_code == 200
    await first.settle()
    # Slack signs each retry afresh (a new timestamp), with X-Slack-Retry-Num; it may land on the other process.
    later = second.sender.with_signature(clock=lambda: time.time() + 60)
    retried = await later.post(body, "application/json", retry_num=1)
    await second.settle()
    assert (retried.status_code, retried.content) == (200, b"")
    assert seen == ["hi"]
    # Another event is work again.
    other = json.dumps(event | {"event_id": "Ev0OTHER0001"}).encode()
    assert (await second.sender.post(other, "application/json")).status_code == 200
    await second.settle()
    assert seen == ["hi", "hi"]


async def test_an_event_that_failed_before_any_work_runs_on_slacks_retry(two_bots) -> None:  # type: ignore[no-untyped-def]
    first, second = two_bots
    seen: list[str] = []
    blips = [RuntimeError("database blip")]

    async def flaky(next: Any) -> None:  # e.g. the role lookup failing while PostgreSQL restarts
        if blips:
            raise blips.pop()
        await next()

    async def mentioned(event: dict[str, Any]) -> None:
        seen.append(event["text"])

    first.app.middleware(flaky)
    for bot in (first, second):
        bot.app.event("app_mention")(mentioned)
    body = json.dumps({"type": "event_callback", "team_id": "T0LOCAL", "event_id": "Ev0FLAKY0001",
                       "event": {"type": "app_mention", "user": OPERATOR, "text": "hi", "channel": "C1"}}).encode()
    assert (await first.sender.post(body, "application/json")).status_code == 500
    later = second.sender.with_signature(clock=lambda: time.time() + 60)
    assert (await later.post(body, "application/json", retry_num=1)).status_code == 200
    await second.settle()
    assert seen == ["hi"]


async def test_remembered_requests_are_purged_once_expired(database_url: str) -> None:
    from datetime import timedelta

    from tests.clock import pinned_now

    db = Database(database_url)
    db.create_schema()
    now = pinned_now()
    sent = now - timedelta(minutes=7)
    assert await replay.remember(db, replay.signature_key(int(sent.timestamp()), "v0=old"), replay.signature_expiry(sent))
    assert await replay.remember(db, replay.signature_key(int(now.timestamp()), "v0=new"), replay.signature_expiry(now))
    assert not await replay.remember(db, replay.signature_key(int(now.timestamp()), "v0=new"), replay.signature_expiry(now))
    assert (await replay.purge_expired(db, now)) == 1
    with db.session() as session:
        assert [row.key for row in session.exec(select(SeenRequest))] == [f"sig:{int(now.timestamp())}:v0=new"]
    db.dispose()


# ---- /healthz ----------------------------------------------------------------------------------------------------


class TcpProxy:
    """PostgreSQL behind a switch: stop() is the database going away, as far as the bot can tell."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.running = True
        self.silent = False  # accept connections and never answer: a host that hangs
        self.hung = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.silent:
                self.open.append(client)
                self.hung += 1
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def hang(self) -> None:
        """Cuts every connection and lets new ones in that never get an answer."""
        self.silent = True
        self._close_connections()

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the other thread; close() alone does not
        self.listener.close()
        self._close_connections()

    def _close_connections(self) -> None:
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


async def health(local: LocalBot) -> httpx.Response:
    assert local.http is not None
    return await local.http.get("/healthz")


@pytest.fixture
def postgresql_proxy() -> Iterator[tuple[TcpProxy, str]]:
    """The test PostgreSQL behind a TcpProxy, and the URL that reaches it through the proxy."""
    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    url = httpx.URL(POSTGRES_URL.replace("postgresql://", "http://", 1))
    proxy = TcpProxy((url.host, url.port or 5432))
    yield proxy, POSTGRES_URL.replace(f"@{url.host}:{url.port}", f"@127.0.0.1:{proxy.port}")
    proxy.stop()


async def test_healthz_is_503_while_postgresql_is_down(settings: Settings, postgresql_proxy) -> None:  # type: ignore[no-untyped-def]
    proxy, url = postgresql_proxy
    async with LocalBot(settings.model_copy(update={"DATABASE_URL": url})) as local:
        ok = await health(local)
        assert (ok.status_code, ok.json()) == (200, {"ok": True, "sandbox": True, "database": "ok"})
        proxy.stop()
        down = await health(local)
        assert (down.status_code, down.json()) == (503, {"ok": False, "sandbox": True, "database": "unusable"})


async def test_healthz_answers_503_in_time_while_postgresql_hangs(settings: Settings, postgresql_proxy) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from bot.web.health import CHECK_TIMEOUT_SECONDS

    proxy, url = postgresql_proxy
    async with LocalBot(settings.model_copy(update={"DATABASE_URL": url})) as local:
        assert (await health(local)).status_code == 200
        proxy.hang()
        started = time.monotonic()
        answers = await asyncio.gather(*(health(local) for _ in range(8)))
        assert [a.status_code for a in answers] == [503] * 8
        assert time.monotonic() - started < CHECK_TIMEOUT_SECONDS + 2
        assert proxy.hung == 1  # one probe in flight, not one hung thread and connection per check
        proxy.stop()  # the hung connect fails now, and its thread ends


async def test_healthz_is_503_when_the_sqlite_file_is_unusable(settings: Settings) -> None:
    async with LocalBot(settings) as local:
        assert (await health(local)).status_code == 200
        path = Path(settings.DATABASE_URL.removeprefix("sqlite:///"))
        local.rt.db.engine.dispose()  # closing the last connection checkpoints the WAL into the file: before
        path.write_bytes(b"this is not a database" * 512)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        down = await health(local)
        assert down.status_code == 503 and down.json()["database"] == "unusable"


# ---- the enrollment page ----------------------------------------------------------------------------------------

PAGE_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "content-security-policy": enroll_page.CONTENT_SECURITY_POLICY,
}


async def enroll_link(harness, user: str = OPERATOR) -> str:  # type: ignore[no-untyped-def]
    await harness.command("/mfa enroll", user=user)
    shown = json.dumps(harness.latest_view())
    return re.search(r"https://bot\.example\.test(/mfa/enroll/[\w-]+)", shown).group(1)


def assert_page_headers(response: httpx.Response) -> None:
    for name, value in PAGE_HEADERS.items():
        assert response.headers.get(name) == value, name


async def test_the_enrollment_page_is_locked_down_on_every_status(harness) -> None:  # type: ignore[no-untyped-def]
    link = await enroll_link(harness)
    first = await harness.local.http.get(link)
    assert first.status_code == 200
    assert_page_headers(first)
    gone = await harness.local.http.get(link)
    assert gone.status_code == 410
    assert_page_headers(gone)
    assert_page_headers(await harness.local.http.get("/mfa/enroll/unknown-token"))


async def test_the_policy_allows_exactly_what_the_page_holds(harness) -> None:  # type: ignore[no-untyped-def]
    """Nothing loads, nothing runs; the inline SVG QR code draws and the one style block applies (by its hash)."""
    page = (await harness.local.http.get(await enroll_link(harness))).text
    policy = dict(part.strip().split(" ", 1) for part in enroll_page.CONTENT_SECURITY_POLICY.split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in styles] == [
        policy["style-src"]]
    assert "<svg" in page
    assert not re.search(r"<script|\ssrc=|\shref=|\sstyle=|\son\w+=", page, re.I)


async def test_a_head_request_does_not_use_up_the_link(harness) -> None:  # type: ignore[no-untyped-def]
    link = await enroll_link(harness)
    head = await harness.local.http.head(link)
    assert head.status_code == 200 and head.content == b""
    assert_page_headers(head)
    page = await harness.local.http.get(link)
    assert page.status_code == 200 and "<svg" in page.text
    assert (await harness.local.http.head(link)).status_code == 410


async def test_an_older_link_never_shows_a_newer_secret(harness) -> None:  # type: ignore[no-untyped-def]
    older = await enroll_link(harness)
    newer = await enroll_link(harness)
    newest_secret = harness.latest_view()
    stale = await harness.local.http.get(older)
    assert stale.status_code == 410
    page = await harness.local.http.get(newer)
    assert page.status_code == 200
    secret = enroll_page.secret_of(re.search(r"otpauth://[^\"\s<]+", json.dumps(newest_secret)).group(0))
    assert secret and secret in page.text.replace(" ", "")
    assert secret not in stale.text.replace(" ", "")


def test_access_log_paths_hide_the_token() -> None:
    from bot.web.access_log import redact_path

    assert redact_path("/mfa/enroll/abcDEF_123-xyz") == "/mfa/enroll/[redacted]"
    assert redact_path("/mfa/enroll/abc?x=1") == "/mfa/enroll/[redacted]?x=1"
    assert redact_path("/healthz") == "/healthz"

