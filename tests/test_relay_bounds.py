"""serve's worker process hung (SIGSTOP) or down: acked commands wait a bounded time, then their users hear that
nothing was done (and nothing is, the worker refusing the late copies); a modal gets its answer within Slack's 3 s;
/healthz says 503 meanwhile. Real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncBoltRequest

from bot import postack
from bot.config import Settings
from bot.localslack import FakeSlack
from tests.clock import Clock
from tests.harness import Harness
from tests.processes import Bot, Emulator, output_of

OPERATOR = "U_OP"
BUSY = "The bot is restarting; nothing was done"
STOPPED_FOR = 10.0


def health(bot: Bot) -> int:
    return httpx.get(f"{bot.url}/healthz", timeout=10).status_code


@pytest.mark.parametrize("patience", [3.0, 60.0], ids=["past-the-bound", "within-the-bound"])
async def test_a_worker_stopped_for_10_s(tmp_path: Path, database_url: str, emulator: Emulator, fake: FakeSlack,
                                         patience: float) -> None:
    """past-the-bound stands for the 6-minute hang with the bound shortened to 3 s: every user told, nothing run.
    within-the-bound: the commands run once the worker goes on, and nobody is told anything false."""
    imsis = emulator.control("POST", "/subscribers", {"count": 5, "status": "active"})
    bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="a",
              env={"BOT_RELAY_PATIENCE_SECONDS": str(patience)})
    harness = Harness(bot, Clock())  # type: ignore[arg-type]
    assert health(bot) == 200
    worker = bot.worker_pid()
    os.kill(worker, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        assert health(bot) == 503  # hung: not answering its own /healthz
        for imsi in imsis:
            response = await bot.sender.command("/sim", f"tag {imsi} hung=yes", user_id=OPERATOR, channel_id="C_OPS")
            assert response.status_code == 200  # acked at once all the same
        began = time.monotonic()
        modal = await bot.sender.view_submission({"id": "V_HUNG", "type": "modal", "callback_id": "gate_code",
                                                  "private_metadata": "x", "blocks": []}, {}, user_id=OPERATOR)
        assert time.monotonic() - began < 3.0 and modal.status_code == 200
        assert modal.json()["response_action"] == "update" and BUSY in str(modal.json()["view"])
        await asyncio.sleep(max(0.0, STOPPED_FOR - (time.monotonic() - stopped_at)))
    finally:
        os.kill(worker, signal.SIGCONT)
    await bot.settle(quiet=1.0, timeout=60)
    deadline = time.monotonic() + 30
    while health(bot) != 200:
        assert time.monotonic() < deadline, "healthz stayed 503 after the worker went on"
        await asyncio.sleep(0.2)

    tagged = [imsi for imsi in imsis if emulator.subscriber(imsi)["tags"].get("hung") == "yes"]
    told = [text for text in harness.texts() if BUSY in text]
    log = output_of(bot.log)
    if patience < STOPPED_FOR:
        assert tagged == [] and len(told) == len(imsis)  # told "nothing was done", and nothing was
        assert log.count("did not take a request within") == len(imsis)
        assert "arrived after its deadline" in log
    else:
        assert tagged == imsis and told == []  # run once the worker goes on; nobody told anything
    await bot.stop()


async def test_healthz_is_503_once_the_sqlite_file_is_gone(harness: Harness, tmp_path: Path) -> None:
    http = harness.local.http
    assert http is not None
    assert (await http.get("/healthz")).status_code == 200
    (tmp_path / "bot.db").unlink()  # the settings' database: a volume unmounted, a file deleted by hand
    answer = await http.get("/healthz")
    assert answer.status_code == 503 and answer.json()["problem"] == "database file missing"


class BusyWorker:
    """serve's view of a worker that is running but slow: a relayed copy read after its deadline is refused (as
    bot.web.slack_events does), on a clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.copies: list[tuple[str, float]] = []  # (text, the deadline the copy carried)
        self.told: list[str] = []
        self.slow_once = True

    def time(self) -> float:
        return self.now

    async def relay(self, request: AsyncBoltRequest, deadline: float | None = None) -> BoltResponse:
        assert deadline is not None
        self.copies.append((request.body["text"], deadline))
        if self.slow_once:  # the first copy reaches the worker after its deadline: busy with earlier ones
            self.slow_once = False
            self.now = deadline + 0.5
        if self.now > deadline:
            return BoltResponse(status=503, body='{"error": "past its relay deadline"}')
        return BoltResponse(status=200, body="")

    async def tell(self, body: dict[str, object]) -> None:
        self.told.append(str(body["text"]))

    async def answers(self) -> bool:
        return True


async def test_a_copy_refused_as_late_by_a_busy_worker_goes_again_with_a_new_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One user's commands queue behind each other; a copy the busy worker refused as late is sent again at once
    with a fresh deadline (it used to be re-sent with the stale one every 0.25 s until serve's own deadline passed:
    2,000 queued commands then took minutes to answer)."""
    busy = BusyWorker(now=1_800_000_000.0)
    monkeypatch.setattr(postack, "time", busy)
    worker = postack.WorkerProcess(Settings(_env_file=None, BOT_RELAY_PATIENCE_SECONDS=10),  # type: ignore[call-arg]
                                   build=lambda _: None, tell=busy.tell)
    monkeypatch.setattr(worker, "relay", busy.relay)
    monkeypatch.setattr(worker, "busy", busy.answers)
    for text in ("list", "show"):
        worker.relay_later(AsyncBoltRequest(body=f"command=%2Fsim&text={text}&user_id=U_ONE", headers={}))
    await asyncio.wait_for(asyncio.gather(*worker._relayed), 5)

    assert [text for text, _ in busy.copies] == ["list", "list", "show"]
    refused, again = busy.copies[0][1], busy.copies[1][1]
    assert busy.now <= again and again >= refused + 0.5  # taken: its new deadline is ahead of the worker's clock
    assert busy.told == []  # the worker was busy, not hung: nobody told that nothing was done


async def test_a_worker_whose_loop_stopped_answering_has_its_waiting_users_told(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Running, not stopped, yet its loop answers nothing (a call stuck in it): after the patience each waiting
    request's user is told that nothing was done, one after another in the order sent, not one patience each."""
    started = time.monotonic()
    clock = BusyWorker(now=1_800_000_000.0)
    clock.time = lambda: 1_800_000_000.0 + time.monotonic() - started  # type: ignore[method-assign]
    monkeypatch.setattr(postack, "time", clock)
    worker = postack.WorkerProcess(Settings(_env_file=None, BOT_RELAY_PATIENCE_SECONDS=1),  # type: ignore[call-arg]
                                   build=lambda _: None, tell=clock.tell)
    copies: list[str] = []

    async def never_answered(request: AsyncBoltRequest, deadline: float | None = None) -> BoltResponse:
        copies.append(request.body["text"])
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def not_answering() -> bool:
        return False

    monkeypatch.setattr(worker, "relay", never_answered)
    monkeypatch.setattr(worker, "working", lambda: True)  # running, not stopped
    monkeypatch.setattr(worker, "responsive", not_answering)
    for text in ("list", "show", "tag"):
        worker.relay_later(AsyncBoltRequest(body=f"command=%2Fsim&text={text}&user_id=U_ONE", headers={}))
    await asyncio.wait_for(asyncio.gather(*worker._relayed), 10)

    assert clock.told == ["list", "show", "tag"]
    assert copies == ["list"]  # the later ones' patience had passed by their turn: told without a copy sent
