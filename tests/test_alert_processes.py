"""SORACOM's deliveries to `python -m bot serve`: its front process checks each and answers it once serve's worker
has committed its row; while the worker restarts (SIGKILL), the deliveries wait for the next one. Real processes."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.localslack import FakeSlack
from bot.services.alerts import TOKEN_HEADER
from bot.store import Database
from bot.store.tables import AlertEvent
from tests.processes import Bot, Emulator, wait_for

TOKEN = "process-test-events-token"
CHANNEL = "C_ALERTS"


@pytest.fixture
def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    started = Emulator(tmp_path)
    yield started
    started.stop()


def body(imsi: str) -> bytes:
    return json.dumps({"alert": "daily-traffic", "rule": "daily-traffic", "imsi": imsi, "limitMiB": 100}).encode()


def recorded(database_url: str) -> Counter[str]:
    db = Database(database_url)
    try:
        with db.session() as session:
            return Counter(session.exec(select(AlertEvent.imsi)).all())
    finally:
        db.dispose()


async def test_deliveries_are_recorded_by_the_worker_and_wait_for_it_across_a_restart(
        tmp_path: Path, database_url: str, emulator: Emulator, fake: FakeSlack) -> None:
    bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="a",
              env={"BOT_EVENTS_TOKEN": TOKEN, "BOT_RELAY_PATIENCE_SECONDS": "60"})
    try:
        await bot.sender.command("/alerts", f"channel <#{CHANNEL}>", user_id="U_ADMIN", channel_id=CHANNEL)
        await bot.settle()
        async with httpx.AsyncClient(base_url=bot.url, timeout=90) as http:
            async def deliver(imsi: str, token: str = TOKEN) -> httpx.Response:
                return await http.post("/soracom/events", headers={TOKEN_HEADER: token}, content=body(imsi))

            assert (await deliver("440100000000900", token="wrong")).status_code == 401  # refused by the front
            assert (await http.post("/soracom/events", headers={TOKEN_HEADER: TOKEN}, content=b"[]")).status_code == 400
            first = [f"44010000000{n:04d}" for n in range(40)]
            answers = await asyncio.gather(*(deliver(imsi) for imsi in first))
            assert Counter(a.json()["result"] for a in answers) == {"carded": 10, "folded": 30}
            assert recorded(database_url) == Counter(first)

            killed = bot.kill_worker()
            # Sent while no worker runs: answered only once the next worker has recorded them.
            second = [f"44010000001{n:04d}" for n in range(30)]
            answers = await asyncio.gather(*(deliver(imsi) for imsi in [*second, *first[:5]]))
            assert {a.status_code for a in answers} == {200}
            assert Counter(a.json()["result"] for a in answers[:30]) == {"folded": 30}
            assert {a.json()["result"] for a in answers[30:]} == {"duplicate"}
            assert bot.worker_pid() != killed
            assert recorded(database_url) == Counter(first + second)
        await wait_for(lambda: len(fake.calls_to("chat.update")) > 0, 30, "the storm's summary brought up to date")
    finally:
        await bot.stop()
