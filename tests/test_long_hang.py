"""serve's worker hung (SIGSTOP) for six minutes in the middle of a bulk run, on SQLite and PostgreSQL: the commands
acked meanwhile are told "nothing was done" (and nothing is), a modal is answered within Slack's 3 s, /healthz says
503 the whole time; once the worker goes on, the run finishes with each SIM changed and recorded once.

Six real minutes: deselected from the default run (`-m long_hang`); `.ci/run` runs it beside the main suite.
`TEST_HANG_SECONDS` shortens the hang for a try by hand."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.localslack import FakeSlack
from bot.store import Database
from bot.store.tables import AuditEvent, JobItem, PendingAction
from handlers.sim import BULK_UNRECORDED
from tests.clock import Clock
from tests.harness import Harness
from tests.processes import Bot, Emulator, output_of, wait_for

pytestmark = pytest.mark.long_hang

OPERATOR = "U_OP"
FLEET = 120
SINGLES = 5
HANG = float(os.environ.get("TEST_HANG_SECONDS", "360"))
BUSY = "The bot is restarting; nothing was done"


def health(bot: Bot) -> int:
    return httpx.get(f"{bot.url}/healthz", timeout=10).status_code


def ended_items(db: Database) -> int:
    with db.session() as session:
        return len(session.exec(select(JobItem).where(col(JobItem.state) != "todo")).all())


def job_state(db: Database) -> str:
    with db.session() as session:
        return session.exec(select(PendingAction)).one().state


def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == action)).all())


async def test_a_worker_hung_for_six_minutes_mid_run(tmp_path: Path, database_url: str, emulator: Emulator,
                                                    db: Database, fake: FakeSlack) -> None:
    fleet = emulator.control("POST", "/subscribers", {"count": FLEET, "status": "ready", "tags": {"fleet": "hang"}})
    singles = emulator.control("POST", "/subscribers", {"count": SINGLES, "status": "active"})
    bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="a")
    harness = Harness(bot, Clock())  # type: ignore[arg-type]
    await harness.command("/sim activate tag:fleet=hang", user=OPERATOR)
    await wait_for(lambda: "pending_confirm" in str(fake.calls), 60, "the preview")
    container, element = harness.find_element("pending_confirm")
    emulator.control("POST", "/faults", {"latency": 0.05})
    await bot.sender.block_action("pending_confirm", element["value"], user_id=OPERATOR, channel_id="C_OPS",
                                  message=container)
    await wait_for(lambda: ended_items(db) >= 30, 60, "30 SIMs done")

    worker = bot.worker_pid()
    os.kill(worker, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        assert health(bot) == 503
        for imsi in singles:
            answer = await bot.sender.command("/sim", f"tag {imsi} hung=yes", user_id=OPERATOR, channel_id="C_OPS")
            assert answer.status_code == 200  # acked at once all the same
        began = time.monotonic()
        modal = await bot.sender.view_submission({"id": "V_HUNG", "type": "modal", "callback_id": "gate_code",
                                                  "private_metadata": "x", "blocks": []}, {}, user_id=OPERATOR)
        assert time.monotonic() - began < 3.0 and BUSY in str(modal.json()["view"])
        healthz = []
        while (left := HANG - (time.monotonic() - stopped_at)) > 0:
            await asyncio.sleep(min(30.0, left))
            healthz.append(health(bot))
        assert set(healthz) == {503}, healthz  # unable to work, said so for the whole hang
        assert job_state(db) == "running" and ended_items(db) < FLEET
    finally:
        os.kill(worker, signal.SIGCONT)

    await wait_for(lambda: job_state(db) == "done", 120, "the run to finish once the worker went on")
    await bot.settle(quiet=1.0, timeout=60)
    await wait_for(lambda: health(bot) == 200, 30, "healthz 200 again")

    assert all(emulator.subscriber(imsi)["status"] == "active" for imsi in fleet)
    per_sim = Counter(r["path"].split("/")[3] for r in emulator.requests("activateSubscriber"))
    assert set(per_sim) == set(fleet)
    assert sum(1 for count in per_sim.values() if count > 1) <= BULK_UNRECORDED and max(per_sim.values()) <= 2
    activated = audit_rows(db, "sim.activate")
    assert sorted(e.target for e in activated) == sorted(fleet) and {e.result for e in activated} == {"ok"}
    final = [c for c in fake.calls_to("chat.update") if f"all {FLEET} SIMs done" in c.args.get("text", "")]
    assert len(final) == 1

    assert [imsi for imsi in singles if emulator.subscriber(imsi)["tags"].get("hung")] == []
    assert audit_rows(db, "sim.tag") == []  # not made, so not recorded as made
    told = [text for text in harness.texts() if BUSY in text]
    assert len(told) == SINGLES  # every acked command's user was told, once
    log = output_of(bot.log)
    assert log.count("did not take a request within") == SINGLES
    await bot.stop()
