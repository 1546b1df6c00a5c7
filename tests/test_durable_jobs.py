"""A bot killed mid-way (SIGKILL) finishes or reports after a restart, or on another replica, with nothing lost
and nothing done twice: real processes on one database, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlmodel import col, select

from bot.localslack import FakeSlack
from bot.security.crypto import SecretBox
from bot.security.mfa import Mfa
from bot.store import Database
from bot.store.tables import AuditEvent, JobItem, PendingAction
from handlers.sim import BULK_UNRECORDED
from tests.clock import Clock
from tests.harness import Harness
from tests.processes import SECRET_KEY, Bot, Emulator, wait_for

OPERATOR = "U_OP"
FLEET = 300



@pytest.fixture
async def bots(tmp_path: Path, database_url: str, emulator: Emulator,
               fake: FakeSlack) -> AsyncIterator[Callable[[str], Bot]]:
    started: list[Bot] = []

    def start(name: str) -> Bot:
        bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name=name)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.stop()


def job_rows(db: Database) -> list[PendingAction]:
    with db.session() as session:
        return list(session.exec(select(PendingAction)).all())


def ended_items(db: Database) -> int:
    with db.session() as session:
        return len(session.exec(select(JobItem).where(col(JobItem.state) != "todo")).all())


def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == action)).all())


@pytest.mark.parametrize("takeover", ["restart", "replica"])
async def test_a_bulk_run_killed_at_sim_100_of_300_finishes_after_a_restart_each_sim_once(
        bots: Callable[[str], Bot], emulator: Emulator, db: Database, fake: FakeSlack, takeover: str) -> None:
    """restart: the killed bot starts again; replica: a second bot already serving on the database finishes it."""
    imsis = emulator.control("POST", "/subscribers", {"count": FLEET, "status": "ready", "tags": {"fleet": "crash"}})
    second = bots("b") if takeover == "replica" else None  # serving before the run starts
    first = bots("a")
    harness = Harness(first, Clock())  # type: ignore[arg-type]
    await harness.command("/sim activate tag:fleet=crash", user=OPERATOR)
    container, element = await shown(harness, "pending_confirm")
    emulator.control("POST", "/faults", {"latency": 0.05})
    await first.sender.block_action("pending_confirm", element["value"], user_id=OPERATOR, channel_id="C_OPS",
                                    message=container)

    await wait_for(lambda: ended_items(db) >= 100, 60, "100 SIMs done")
    first.kill()
    [job] = job_rows(db)
    assert job.state == "running" and ended_items(db) < FLEET  # killed mid-way: its lease is still held

    second = second or bots("b")  # its sweeper takes the job over once the dead worker's lease has lapsed
    await wait_for(lambda: job_rows(db)[0].state == "done", 90, "the job to finish after the restart")
    await second.settle()

    assert all(emulator.subscriber(imsi)["status"] == "active" for imsi in imsis)
    per_sim = Counter(r["path"].split("/")[3] for r in emulator.requests("activateSubscriber"))
    assert set(per_sim) == set(imsis)
    repeated = [imsi for imsi, count in per_sim.items() if count > 1]
    # Once more: only the SIMs in flight at the kill (called, or done and waiting for their record to be written).
    assert len(repeated) <= BULK_UNRECORDED and max(per_sim.values()) <= 2
    assert sorted(e.target for e in audit_rows(db, "sim.activate")) == sorted(imsis)  # one row per SIM
    assert {e.result for e in audit_rows(db, "sim.activate")} == {"ok"}

    progress = [c for c in fake.calls_to("chat.postMessage") if f"{FLEET} SIMs" in c.args.get("text", "")]
    assert len(progress) == 1  # the resumed run updates the same message …
    final = [c for c in fake.calls_to("chat.update") if f"all {FLEET} SIMs done" in c.args.get("text", "")]
    assert len(final) == 1 and final[0].args["ts"] == progress[0].response["ts"]  # … and reports once
    told = [c for c in fake.calls_to("chat.postEphemeral") if "after a restart" in c.args.get("text", "")]
    assert len(told) == 1 and told[0].args["user"] == OPERATOR


async def test_an_order_killed_during_confirm_is_reported_after_restart_and_never_confirmed_twice(
        bots: Callable[[str], Bot], emulator: Emulator, db: Database, fake: FakeSlack) -> None:
    totp = await enroll(db, OPERATOR)
    first = bots("a")
    harness = Harness(first, Clock())  # type: ignore[arg-type]
    await harness.command("/order sims 2", user=OPERATOR)
    await shown(harness, "pending_confirm")
    await harness.press("pending_confirm", user=OPERATOR)
    await wait_for(lambda: bool(harness.fake.calls_to("views.open")), 60, "the code modal")
    emulator.control("POST", "/faults", {"delay_next": [{"method": "PUT", "path_regex": r"/orders/.+/confirm$",
                                                         "seconds": 1.0}]})
    await first.sender.view_submission(harness.latest_view(), {
        "gate_code": {"code": {"type": "plain_text_input", "value": totp.now()}}}, user_id=OPERATOR)
    await wait_for(lambda: emulator.control("GET", "/stats")["in_flight"] > 0, 30, "the confirm in flight")
    first.kill()  # SORACOM still confirms it: the bot dies not knowing

    second = bots("b")
    await wait_for(lambda: job_rows(db)[0].state in ("done", "failed", "unknown"), 60, "the order's job to end")
    await second.settle()
    [job] = job_rows(db)
    assert job.state == "done" and job.attempts == 2
    confirms = emulator.requests("confirmOrder")
    assert len(confirms) == 1  # read back, not confirmed again
    order_id = confirms[0]["path"].split("/")[3]
    assert order_id in str(job.result_json)
    assert [e.result for e in audit_rows(db, "order.sims")] == ["ok"]
    told = [c for c in fake.calls_to("chat.postEphemeral") if "after a restart" in c.args.get("text", "")]
    assert len(told) == 1 and order_id in told[0].args["text"]
    assert any(order_id in c.args.get("text", "") for c in fake.calls_to("chat.postMessage"))  # the channel hears


async def test_a_confirm_pressed_on_a_finished_job_tells_the_truth(
        bots: Callable[[str], Bot], emulator: Emulator, db: Database, fake: FakeSlack) -> None:
    emulator.control("POST", "/subscribers", {"count": 3, "status": "ready", "tags": {"fleet": "small"}})
    bot = bots("a")
    harness = Harness(bot, Clock())  # type: ignore[arg-type]
    await harness.command("/sim activate tag:fleet=small", user=OPERATOR)
    container, element = await shown(harness, "pending_confirm")
    for _ in range(2):
        await bot.sender.block_action("pending_confirm", element["value"], user_id=OPERATOR, channel_id="C_OPS",
                                      message=container)
        await bot.settle()
    assert len(emulator.requests("activateSubscriber")) == 3
    assert "This was already done, once" in harness.all_text()


async def shown(harness: Harness, action_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The element once the bot (another process, maybe slow under load) has shown it."""
    await wait_for(lambda: any(action_id in str(call.args) for call in harness.fake.calls), 60, action_id)
    return harness.find_element(action_id)


async def enroll(db: Database, user: str) -> pyotp.TOTP:
    """An enrollment confirmed with the previous time step's code, so the current one is still unused."""
    mfa = Mfa(db, SecretBox(SECRET_KEY))
    new = await mfa.enroll(user)
    assert new is not None
    totp = pyotp.TOTP(new.secret)
    assert (await mfa.confirm(user, totp.at(time.time() - 30))).ok
    return totp
