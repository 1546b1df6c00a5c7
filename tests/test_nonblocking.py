"""The event loop that acks Slack never waits: not on a locked database, not on the console's prompt."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
import threading
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.config import Settings
from bot.emulator.seed import imsi_for
from bot.local import LocalBot
from bot.localslack import FakeSlack, SlackSender
from bot.localslack.console import Console
from bot.security.roles import Role
from bot.services import audit
from bot.serve import build_server
from bot.services.roles import set_role
from bot.store import db as db_module
from bot.store import outbox
from tests.conftest import ADMIN, OPERATOR


async def test_console_waiting_at_its_prompt_leaves_the_bots_pages_served(settings: Settings) -> None:
    typed = threading.Event()

    def type_later(prompt: str) -> str:
        typed.wait(10)
        return ":quit"

    async with LocalBot(settings, serve_http=True) as local:
        assert local.sender is not None
        console = Console(local.sender, local.fake, local.settle, out=io.StringIO(), input_func=type_later)
        prompt = asyncio.create_task(console.run_interactive())
        try:
            async with httpx.AsyncClient() as http:
                health = await asyncio.wait_for(http.get(f"{local.rt.settings.public_url}/healthz"), 5)
            assert health.status_code == 200
            assert not prompt.done() and not typed.is_set()  # answered while the console still waited for a line
        finally:
            typed.set()
            await prompt


# A locked database: the ack does not wait for it, and the reply says so plainly


class HeldLock:
    """Another connection holding the database's write lock (SQLite) or a table lock (PostgreSQL) until released."""

    def __init__(self, url: str) -> None:
        self.url, self.taken, self.released = url, threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        if self.url.startswith("sqlite"):
            connection = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")  # the write lock; WAL readers go on
        else:
            connection = psycopg.connect(self.url)
            connection.execute("LOCK TABLE pending_action IN ACCESS EXCLUSIVE MODE")  # where a gated command writes
        self.taken.set()
        self.released.wait(30)
        connection.rollback()
        connection.close()

    def __enter__(self) -> "HeldLock":
        self._thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._thread.join(10)


async def test_locked_database_the_ack_is_fast_and_the_reply_plain(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_SECONDS", 1)  # SQLite gives up on the lock after 1 s, not 15
    monkeypatch.setattr(outbox, "RETRY_AFTER", 0.05)
    settings = Settings(_env_file=None, DATABASE_URL=database_url, BOT_DATA_DIR=str(tmp_path / "data"),  # type: ignore[call-arg]
                        BOT_ADMINS=ADMIN)
    async with LocalBot(settings) as local:
        assert local.sender is not None and local.rt is not None
        await set_role(local.rt.db, OPERATOR, Role.operator, granted_by=ADMIN)
        ready, tagged = (sub["imsi"] for sub in local.rt.emulator.add_subscribers(2, status="ready"))
        local.rt.emulator.subscribers[tagged]["tags"]["lot"] = "locked"
        commands = (("/sim", "list"), ("/soracom", "help"), ("/sim", f"activate {ready}"),
                    ("/sim", "activate tag:lot=locked"))
        with HeldLock(database_url) as lock:
            for command, text in commands:
                response = await local.sender.command(command, text, user_id=OPERATOR, channel_id="C_OPS")
                assert response.status_code == 200 and not lock.released.is_set()  # answered while still locked
            if database_url.startswith("sqlite"):
                await local.settle()  # the writes give up after the busy timeout, the lock still held
                assert not lock.released.is_set()
        await local.settle()
        told = [call.args.get("text", "") for call in local.fake.calls if call.args.get("user") == OPERATOR
                or call.method == "response_url"]
        subscribers = local.rt.emulator.subscribers
        await local.rt.db.run(outbox.flush, local.rt.db)  # (as the sweeper does once the database works again)
        rows = [(e.action, e.target, e.result) for e in await audit.latest(local.rt.db, 20)]
        assert not any("reference" in text or "Traceback" in text for text in told)
        if database_url.startswith("sqlite"):
            # A write is recorded before it is made: its intent could not be written, so it was not made, and the
            # user was told so; the refusal's own row is written late but not lost.
            assert subscribers[ready]["status"] == "ready"
            assert any("refused to record `/sim activate" in text and "nothing was done" in text for text in told)
            assert ("sim.activate", ready, "refused") in rows
            # The gated command could not write its confirmation: nothing done.
            busy = [text for text in told if "database stayed locked" in text]
            assert len(busy) == 1 and "/sim activate tag:lot=locked" in busy[0]
            assert subscribers[tagged]["status"] == "ready" and "pending_confirm" not in str(local.fake.calls)
            assert ("sim.activate", "tag:lot=locked", "error") in rows  # the attempt is on record
        else:  # PostgreSQL waits for the lock (no lock timeout): the change and the confirmation once it is released
            assert subscribers[ready]["status"] == "active" and ("sim.activate", ready, "ok") in rows
            assert subscribers[tagged]["status"] == "ready" and "pending_confirm" in str(local.fake.calls)
            assert not any("database stayed locked" in text for text in told)


async def test_serve_acks_while_its_worker_process_is_stopped(fake: FakeSlack, tmp_path: Path) -> None:
    """serve's own process answers Slack; the bot runs in its worker process (bot.postack), even when that one is
    frozen; forged requests are still refused."""
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="worker-secret",  # type: ignore[call-arg]
                        SLACK_API_URL=fake.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                        BOT_DATA_DIR=str(tmp_path), BOT_ADMINS=ADMIN)
    web = build_server(settings)
    async with web.router.lifespan_context(web):
        worker = web.state.worker.process
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
            sender = SlackSender("worker-secret", http, fake=fake)
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                acked = await sender.command("/soracom", "roles", user_id=ADMIN, channel_id="C1")
                answered_while_stopped = fake.calls_to("response_url") == []
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            reply = await fake.wait_for("response_url", timeout=20)
            forged = await sender.with_signature(secret="wrong").command("/soracom", "roles", user_id=ADMIN)
    assert acked.status_code == 200 and acked.content == b"" and answered_while_stopped
    assert forged.status_code == 401  # not acked here: refused by bolt in the worker
    assert "Roles" in reply.args["text"] and len(fake.calls_to("response_url")) == 1  # the forged one did nothing
    assert not worker.is_alive()  # stopped with the server


async def test_commands_acked_while_the_worker_restarts_are_answered_in_order(fake: FakeSlack, tmp_path: Path) -> None:
    """The worker killed (SIGKILL): serve still acks, keeps each user's commands until a new worker is up, then
    hands them over in the order they were sent, each answered once."""
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="worker-secret",  # type: ignore[call-arg]
                        SLACK_API_URL=fake.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                        BOT_DATA_DIR=str(tmp_path), BOT_ADMINS=ADMIN)
    imsis = [imsi_for(number) for number in (1, 2, 3)]
    web = build_server(settings)
    async with web.router.lifespan_context(web):
        first = web.state.worker.process
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
            sender = SlackSender("worker-secret", http, fake=fake)
            await sender.command("/soracom", "roles", user_id=ADMIN, channel_id="C1")  # a kept-alive relay
            await fake.wait_for("response_url", timeout=20)
            os.kill(first.pid, signal.SIGKILL)
            first.join(5)
            acks = [await sender.command("/sim", f"show {imsi}", user_id=ADMIN, channel_id="C1") for imsi in imsis]
            for _ in range(60 * 4):
                if len(fake.calls_to("response_url")) >= 1 + len(imsis):
                    break
                await asyncio.sleep(0.25)
            await asyncio.sleep(0.5)  # a duplicate would come now
            second = web.state.worker.process
    assert [a.status_code for a in acks] == [200, 200, 200] and second.pid != first.pid
    replies = [str(call.args) for call in fake.calls_to("response_url")[1:]]
    assert len(replies) == len(imsis)
    assert [next(imsi for imsi in imsis if imsi in reply) for reply in replies] == imsis
