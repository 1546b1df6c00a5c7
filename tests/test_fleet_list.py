"""`/sim list` from the fleet snapshot: the first page and the counts at 10,000 SIMs without paging SORACOM, the
snapshot's age shown, pages turned in the snapshot, Refresh reading SORACOM again; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from bot.services import fleet
from tests.conftest import VIEWER
from tests.harness import Harness
from tests.test_home import settings  # noqa: F401  (the harness on SQLite and PostgreSQL)
from tests.test_bill import reply_text


async def take_snapshot(harness: Harness) -> None:
    rt = harness.rt
    assert await fleet.refresh(rt.db, rt.soracom, owner="test", clock=rt.clock, zone=rt.settings.timezone,
                               pages_per_second=1000)


def subscriber_calls(harness: Harness) -> int:
    return sum(1 for r in harness.emulator.requests if r.path == "/v1/subscribers")


def last_reply(harness: Harness) -> dict:
    return harness.fake.calls_to("response_url")[-1].args


async def test_first_page_and_counts_of_10000_sims_come_from_the_snapshot(harness: Harness) -> None:
    state = harness.emulator
    state.add_subscribers(10_000 - len(state.subscribers))
    await take_snapshot(harness)
    harness.clock.advance(180)
    state.requests.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await harness.command("/sim list", user=VIEWER)
    assert loop.time() - started < 1.0
    assert subscriber_calls(harness) == 0
    text = reply_text(harness, VIEWER)
    counts = Counter(s["status"] for s in state.subscribers.values())
    assert "*10000 SIMs*" in text
    for status, count in counts.items():
        assert f"{status} *{count}*" in text
    assert "Snapshot from 3 min ago" in text and "SIMs 1–20 of 10000" in text
    first = sorted(state.subscribers)[0]
    assert first in text

    await harness.press("sim_list_next", user=VIEWER)
    page_two = json.dumps(last_reply(harness).get("blocks"), ensure_ascii=False)
    assert "SIMs 21–40 of 10000" in page_two and sorted(state.subscribers)[20] in page_two
    assert subscriber_calls(harness) == 0

    state.add_subscribers(1)
    await harness.press("sim_list_refresh", user=VIEWER)
    refreshed = json.dumps(last_reply(harness).get("blocks"), ensure_ascii=False)
    assert subscriber_calls(harness) > 0
    assert "10001 SIMs" in refreshed and "Snapshot from" not in refreshed


async def test_selectors_are_answered_from_the_snapshot(harness: Harness) -> None:
    await take_snapshot(harness)
    state = harness.emulator
    state.requests.clear()
    await harness.command("/sim list status:active", user=VIEWER)
    active = sum(1 for s in state.subscribers.values() if s["status"] == "active")
    assert f"*{active} SIMs* matching `status:active`" in reply_text(harness, VIEWER)
    sub = sorted(state.subscribers.values(), key=lambda s: s["imsi"])[2]
    await harness.command(f"/sim list tag:name={sub['tags']['name']}", user=VIEWER)
    text = reply_text(harness, VIEWER)
    assert f"*1 SIM* matching `tag:name={sub['tags']['name']}`" in text and sub["imsi"] in text
    assert subscriber_calls(harness) == 0


async def test_an_old_snapshot_is_not_used(harness: Harness) -> None:
    await take_snapshot(harness)
    harness.clock.now += fleet.FRESH
    harness.emulator.requests.clear()
    await harness.command("/sim list", user=VIEWER)
    assert subscriber_calls(harness) > 0
    assert "Snapshot from" not in reply_text(harness, VIEWER)
