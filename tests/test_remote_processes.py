"""Remote access closes once, whatever happens to the bot: real `python -m bot serve` processes against a
`python -m bot emulator`, SIGKILLed and restarted, or two of them on one database; SQLite and PostgreSQL.

These run on the real clock (the processes have no other): an access opened for a few seconds, waited out."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
import pyotp
import pytest
from sqlmodel import col, select

from bot.localslack import FakeSlack
from bot.security.crypto import SecretBox
from bot.security.mfa import Mfa
from bot.store import Database
from bot.store.tables import AuditEvent, PendingAction, RemoteAccess
from tests.clock import Clock
from tests.harness import Harness, _all_text
from tests.processes import Bot, Emulator, SECRET_KEY, wait_for

OPERATOR = "U_OP"
CHANNEL = "C_OPS"
OPEN_FOR = 6  # seconds
ENDPOINT = re.compile(r"192\.0\.2\.\d+:\d+")
HOSTNAME = re.compile(r"[0-9a-f]{16}\.napter\.example\.net")


@pytest.fixture
async def bots(tmp_path: Path, database_url: str, emulator: Emulator,
               fake: FakeSlack) -> AsyncIterator[Callable[[str], Bot]]:
    started: list[Bot] = []

    def start(name: str) -> Bot:
        bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name=name, admins="U_ADMIN")
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.stop()


async def enroll(db: Database, user: str) -> pyotp.TOTP:
    mfa = Mfa(db, SecretBox(SECRET_KEY))
    new = await mfa.enroll(user)
    assert new is not None
    totp = pyotp.TOTP(new.secret)
    assert (await mfa.confirm(user, totp.at(time.time() - 30))).ok
    return totp


def rows(db: Database) -> list[RemoteAccess]:
    with db.session() as session:
        return list(session.exec(select(RemoteAccess)).all())


def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == action)).all())


def job_states(db: Database) -> list[str]:
    with db.session() as session:
        return [job.state for job in session.exec(select(PendingAction)).all()]


async def open_remote(bot: Bot, db: Database, totp: pyotp.TOTP) -> tuple[str, str]:
    """/sim remote through the gate, in a bot process; returns the endpoint and host name its opener was given."""
    from bot.services.roles import set_role
    from bot.security.roles import Role

    await set_role(db, OPERATOR, Role.operator, granted_by="U_ADMIN")
    harness = Harness(bot, Clock())  # type: ignore[arg-type]
    await harness.command(f"/sim remote sensor-02 22 {OPEN_FOR}s from 203.0.113.0/24", user=OPERATOR,
                          channel=CHANNEL)
    await wait_for(lambda: any("pending_confirm" in str(c.args) for c in bot.fake.calls), 60, "the preview")
    await harness.press("pending_confirm", user=OPERATOR)
    await wait_for(lambda: bool(bot.fake.calls_to("views.open")), 60, "the code modal")
    await bot.sender.view_submission(harness.latest_view(), {
        "gate_code": {"code": {"type": "plain_text_input", "value": totp.now()}}}, user_id=OPERATOR)
    await wait_for(lambda: job_states(db) == ["done"], 60, "the open to finish")
    private = " ".join(_all_text(c.args) for c in bot.fake.calls_to("chat.postEphemeral"))
    endpoint, hostname = ENDPOINT.search(private), HOSTNAME.search(private)
    assert endpoint and hostname, private
    return endpoint.group(0), hostname.group(0)


def assert_closed_once(fake: FakeSlack, db: Database, emulator: Emulator) -> None:
    [row] = rows(db)
    assert row.state == "expired" and row.told_at is not None
    edits = [c for c in fake.calls_to("chat.update") if c.args.get("channel") == CHANNEL]
    assert len(edits) == 1 and "expired at" in edits[0].args["text"]
    told = [c for c in fake.calls_to("chat.postMessage") if c.args.get("channel") == OPERATOR]
    assert len(told) == 1 and "expired" in told[0].args["text"]
    assert [e.result for e in audit_rows(db, "sim.remote.expire")] == ["ok"]
    assert [e.result for e in audit_rows(db, "sim.remote")] == ["ok"]
    deletes = emulator.requests("deletePortMapping")
    assert [d["status"] for d in deletes] == [204]  # SORACOM still had it: the bot deleted it, once


def assert_never_shown(secrets: tuple[str, str], fake: FakeSlack, db: Database, logs: list[str]) -> None:
    for call in fake.calls:
        private = (call.method == "chat.postEphemeral" and call.args.get("user") == OPERATOR) \
            or call.method in ("views.update", "views.open")
        if not private:
            assert not any(s in _all_text(call.args) for s in secrets), (call.method, call.args)
    with db.session() as session:
        for event in session.exec(select(AuditEvent)).all():
            assert not any(s in f"{event.command} {event.target} {event.error}" for s in secrets)
    for log in logs:
        assert not any(s in log for s in secrets)


async def test_an_access_whose_bot_was_killed_is_closed_at_expiry_by_the_restarted_bot(
        bots: Callable[[str], Bot], emulator: Emulator, db: Database, fake: FakeSlack) -> None:
    totp = await enroll(db, OPERATOR)
    first = bots("a")
    secrets = await open_remote(first, db, totp)
    # SORACOM's clock a little behind the bot's: it still holds the access when the bot's expiry comes.
    emulator.control("POST", "/clock", {"seconds": -60})
    first.kill()
    [row] = rows(db)
    assert row.state == "open"

    second = bots("b")
    await wait_for(lambda: rows(db)[0].told_at is not None, OPEN_FOR + 60, "the expiry to be closed and told")
    await asyncio.sleep(2.5)  # more sweeps: none does it again
    await second.settle()
    assert_closed_once(fake, db, emulator)
    logs = [log_of(first), log_of(second)]
    assert "/port_mappings/[redacted]/[redacted]" in logs[1]  # the bot logs its calls: the delete's is redacted
    assert_never_shown(secrets, fake, db, logs)


async def test_two_bot_processes_on_one_database_close_an_expired_access_once(
        bots: Callable[[str], Bot], emulator: Emulator, db: Database, fake: FakeSlack) -> None:
    totp = await enroll(db, OPERATOR)
    first, second = bots("a"), bots("b")
    secrets = await open_remote(first, db, totp)
    emulator.control("POST", "/clock", {"seconds": -60})
    await wait_for(lambda: rows(db)[0].told_at is not None, OPEN_FOR + 60, "the expiry to be closed and told")
    await asyncio.sleep(2.5)  # both keep sweeping
    await first.settle()
    assert_closed_once(fake, db, emulator)
    assert_never_shown(secrets, fake, db, [log_of(first), log_of(second)])


def log_of(bot: Bot) -> str:
    return Path(bot.log.name).read_text(encoding="utf-8")
