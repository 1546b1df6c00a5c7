"""The App Home tab end to end: `app_home_opened` as a signed event, the emulator as SORACOM, the stand-in's
views.publish as Slack; the snapshot on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import Settings
from bot.services import audit, fleet
from bot.services.alerts import AlertStore, Event
from bot.services.sims import month_traffic
from bot.soracom import SoracomClient
from bot.store import Database
from tests.clock import Clock
from tests.conftest import ADMIN, OPERATOR, VIEWER
from handlers.views.common import traffic as format_traffic
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The harness of this module runs on SQLite and on PostgreSQL."""
    return Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                    BOT_DATA_DIR=str(tmp_path / "data"), BOT_ADMINS=ADMIN, BOT_PUBLIC_URL="https://bot.example.test")


async def open_home(harness: Harness, user: str) -> dict[str, Any]:
    assert harness.local.sender is not None
    response = await harness.local.sender.event({"type": "app_home_opened", "user": user, "tab": "home",
                                                 "channel": "D0HOME"})
    assert response.status_code == 200
    await harness.local.settle()
    return harness.fake.homes[user]


def view_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def soracom_reads(harness: Harness) -> list[str]:
    return [r.path for r in harness.emulator.requests if not r.path.startswith("/v1/auth")]


async def test_home_shows_the_emulators_fleet_and_refreshes_when_there_is_no_snapshot(harness: Harness) -> None:
    subscribers = harness.emulator.subscribers.values()
    by_status = Counter(s["status"] for s in subscribers)
    online = sum(1 for s in subscribers if (s.get("sessionStatus") or {}).get("online"))
    hour_ago_ms = (harness.clock.now - timedelta(hours=1)).timestamp() * 1000
    seen = sum(1 for s in subscribers if ((s.get("sessionStatus") or {}).get("lastUpdatedAt") or 0) >= hour_ago_ms)
    await harness.command("/sim activate 001010000000001", user=OPERATOR)  # something in the audit log

    home = await open_home(harness, OPERATOR)
    publishes = [c for c in harness.fake.calls if c.method == "views.publish"]
    assert len(publishes) == 2  # at once from the (empty) snapshot, then again once it was read
    first = json.dumps(publishes[0].args["view"], ensure_ascii=False)
    assert "No snapshot of the fleet yet" in first
    text = view_text(home)
    assert "/v1/subscribers" in soracom_reads(harness)
    assert f"*SIMs*\\n{len(harness.emulator.subscribers)}" in text
    for status, count in by_status.items():
        assert f"{status}: {count}" in text
    assert f"{online} of {by_status['active']} active" in text
    assert "Snapshot from 0 s ago" in text
    month = harness.clock.now.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m")  # BOT_TIMEZONE's month
    assert f"{month} so far" in text and "Forecast at month end" in text and "¥" in text
    assert f"*Sessions seen in the last hour*\\n{seen}" in text
    scale = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    top = [(imsi, size, float(value.replace(",", "")) * scale[unit])
           for imsi, size, value, unit in re.findall(r"\d\. [^`]*`(\d{15})` — (([\d,.]+) (B|KiB|MiB|GiB|TiB))", text)]
    assert 1 <= len(top) <= 5 and [n for _, _, n in top] == sorted((n for _, _, n in top), reverse=True)
    traffic = await month_traffic(harness.rt.soracom, top[0][0], harness.clock.now)  # the API's own figure
    assert traffic is not None and format_traffic(traffic.upload_bytes + traffic.download_bytes) == top[0][1]
    assert "Activate `sim.activate` `001010000000001`" in text and "Latest actions" in text
    actions = {e["action_id"] for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert actions == {"home_refresh", "home_sim_list", "home_bill"}


async def test_a_fresh_snapshot_of_10000_sims_opens_without_soracom(harness: Harness) -> None:
    state = harness.emulator
    state.add_subscribers(10_000 - len(state.subscribers))
    rt = harness.rt
    assert await fleet.refresh(rt.db, rt.soracom, owner="test", clock=rt.clock, zone=rt.settings.timezone,
                               pages_per_second=1000)
    state.requests.clear()
    harness.clock.advance(120)
    loop = asyncio.get_running_loop()
    started = loop.time()
    home = await open_home(harness, VIEWER)
    assert loop.time() - started < 1.0
    assert state.requests == []  # not one SORACOM call
    text = view_text(home)
    assert "*SIMs*\\n10,000" in text and "Snapshot from 2 min ago" in text
    assert "Your latest actions" in text  # a viewer sees their own actions only


async def test_refresh_button_reads_soracom_again(harness: Harness) -> None:
    await open_home(harness, OPERATOR)
    harness.emulator.add_subscribers(3)
    harness.emulator.requests.clear()
    harness.clock.advance(60)
    await harness.press("home_refresh", user=OPERATOR)
    assert "/v1/subscribers" in soracom_reads(harness)
    text = view_text(harness.fake.homes[OPERATOR])
    assert f"*SIMs*\\n{len(harness.emulator.subscribers)}" in text and "Snapshot from 0 s ago" in text


async def test_fifteen_refresh_presses_in_ten_seconds_read_the_fleet_once(harness: Harness) -> None:
    await open_home(harness, OPERATOR)  # a snapshot, as the team's Home shows it
    harness.clock.advance(fleet.REFRESH_COOLDOWN.total_seconds())
    harness.emulator.requests.clear()
    users = [f"U_PRESS{n:02d}" for n in range(15)]
    for user in users:
        await harness.press("home_refresh", user=user)
        harness.clock.advance(10 / len(users))
    fleet_reads = [path for path in soracom_reads(harness) if path == "/v1/subscribers"]
    assert len(fleet_reads) == 1  # the first press; the others see that snapshot
    last = view_text(harness.fake.homes[users[-1]])
    assert "Snapshot from 9 s ago" in last and "Refresh reads SORACOM again in 51 s" in last


async def test_fifteen_presses_while_the_first_ones_read_is_paging_make_that_one_read(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """15 users press Refresh within 10 s, the first press's read of the fleet still paging SORACOM (held until
    all 15 are in): the 14 others join it, none reads the fleet; every Home then shows the snapshot it made and
    its age. A press within the team's minute, and one by a user who pressed within their 5 minutes, serve that
    snapshot and say when Refresh reads again; another user past the minute reads the fleet."""
    await open_home(harness, OPERATOR)  # a snapshot, as the team's Home shows it
    harness.clock.advance(fleet.REFRESH_COOLDOWN.total_seconds())  # old enough for a Refresh to read SORACOM
    harness.emulator.add_subscribers(3)  # what the read will find
    fleet_reads: list[str] = []
    real_call, real_lease = SoracomClient._call, fleet.take_lease
    paging, release = asyncio.Event(), asyncio.Event()
    refused = [0]

    async def holding(self: SoracomClient, operation_id: str, **kwargs: Any) -> Any:
        if operation_id == "listSubscribers":
            if not kwargs["params"].get("last_evaluated_key"):
                fleet_reads.append(operation_id)  # the first page of a read of the whole fleet
            paging.set()
            await release.wait()
        return await real_call(self, operation_id, **kwargs)

    async def counted_lease(*args: Any, **kwargs: Any) -> bool:
        taken = await real_lease(*args, **kwargs)
        refused[0] += not taken
        return taken

    async def until(condition: Any) -> None:  # a guard against a hang, not a measure of time
        async with asyncio.timeout(30):
            while not condition():
                await asyncio.sleep(0.01)

    monkeypatch.setattr(SoracomClient, "_call", holding)
    monkeypatch.setattr(fleet, "take_lease", counted_lease)
    view, button = harness.find_element("home_refresh")
    started = harness.clock.now
    users = [f"U_PRESS{n:02d}" for n in range(15)]
    assert harness.local.sender is not None
    for number, user in enumerate(users):
        response = await harness.local.sender.block_action("home_refresh", button["value"], user_id=user,
                                                           view=view)
        assert response.status_code == 200  # acked at once, the read going on
        await until(paging.is_set if number == 0 else lambda joined=number: refused[0] == joined)  # under way
        harness.clock.now = started + timedelta(seconds=10 * (number + 1) / len(users))
    release.set()
    await harness.local.settle()

    assert fleet_reads == ["listSubscribers"]  # one read, by the first press; the 14 others joined it
    assert refused[0] == 14
    for user in users:
        text = view_text(harness.fake.homes[user])
        assert f"*SIMs*\\n{len(harness.emulator.subscribers)}" in text and "Snapshot from 0 s ago" in text
        assert "reads SORACOM again" not in text

    harness.clock.advance(5)  # within the team's minute: the snapshot as it is
    await harness.press("home_refresh", user="U_LATE")
    text = view_text(harness.fake.homes["U_LATE"])
    assert "Snapshot from 5 s ago" in text and "Refresh reads SORACOM again in 55 s" in text
    harness.clock.advance(56)  # past the team's minute; users[3] pressed 2 s after the first, 71 s ago
    await harness.press("home_refresh", user=users[3])
    text = view_text(harness.fake.homes[users[3]])
    assert harness.clock.now - started == timedelta(seconds=71)
    assert "Snapshot from 1 min ago" in text and "Refresh reads SORACOM again in 231 s" in text
    assert fleet_reads == ["listSubscribers"]
    await harness.press("home_refresh", user=VIEWER)  # past the minute, no press of their own: a read
    assert fleet_reads == ["listSubscribers"] * 2
    assert "Snapshot from 0 s ago" in view_text(harness.fake.homes[VIEWER])


async def test_one_user_reads_the_fleet_at_most_once_in_five_minutes(harness: Harness) -> None:
    await open_home(harness, OPERATOR)
    harness.clock.advance(60)
    await harness.press("home_refresh", user=OPERATOR)
    harness.clock.advance(120)  # past the team's cooldown, within the user's own
    harness.emulator.requests.clear()
    await harness.press("home_refresh", user=OPERATOR)
    assert "/v1/subscribers" not in soracom_reads(harness)
    assert "Refresh reads SORACOM again in 180 s" in view_text(harness.fake.homes[OPERATOR])
    await harness.press("home_refresh", user=VIEWER)  # another user, past the team's cooldown: a read
    assert "/v1/subscribers" in soracom_reads(harness)


async def test_home_buttons_answer_in_direct_messages(harness: Harness) -> None:
    await open_home(harness, VIEWER)
    await harness.press("home_bill", user=VIEWER)
    await harness.press("home_sim_list", user=VIEWER)
    replies = [c.args for c in harness.fake.calls if c.method == "chat.postEphemeral" and c.args.get("user") == VIEWER]
    assert any("¥" in (r.get("text") or "") for r in replies)
    assert any("SIMs" in json.dumps(r.get("blocks")) for r in replies)
    assert {r["channel"] for r in replies} == {harness.fake.calls_to("conversations.open")[0].response["channel"]["id"]}


async def test_viewers_see_only_their_own_audit_entries(harness: Harness) -> None:
    await audit.record(harness.rt.db, audit.Actor(OPERATOR), command="/sim x", action="sim.secret-op", target="x",
                       result="ok")
    await audit.record(harness.rt.db, audit.Actor(VIEWER), command="/bill budget", action="bill.budget",
                       target="1", result="refused")
    viewer = view_text(await open_home(harness, VIEWER))
    assert "bill.budget" in viewer and "sim.secret-op" not in viewer
    admin = view_text(await open_home(harness, ADMIN))
    assert "bill.budget" in admin and "sim.secret-op" in admin


async def test_one_refresh_at_a_time_across_two_processes(database_url: str) -> None:
    databases = [Database(database_url), Database(database_url)]
    databases[0].create_schema()
    clock = Clock()
    try:
        won = await asyncio.gather(*(fleet.take_lease(db, f"bot-{i}", clock.now) for i, db in enumerate(databases)))
        assert sorted(won) == [False, True]
        assert not await fleet.take_lease(databases[0], "bot-2", clock.now + timedelta(seconds=30))
        assert await fleet.take_lease(databases[1], "bot-3", clock.now + fleet.LEASE + timedelta(seconds=1))  # lapsed
    finally:
        for db in databases:
            db.dispose()


async def test_a_refresh_skips_while_another_holds_the_lease(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers import home

    rt = harness.rt
    assert await fleet.take_lease(rt.db, "other-replica", rt.clock())
    harness.emulator.requests.clear()
    assert not await fleet.refresh(rt.db, rt.soracom, owner=rt.worker_id, clock=rt.clock, zone=rt.settings.timezone)
    assert soracom_reads(harness) == []
    monkeypatch.setattr(home, "WAIT_SECONDS", 0.3)  # the other replica never finishes here
    home_view = await open_home(harness, OPERATOR)
    assert "refreshing" in view_text(home_view) and soracom_reads(harness) == []
    assert len([c for c in harness.fake.calls if c.method == "views.publish"]) == 2  # again after the wait


def test_manifest_subscribes_to_app_home_opened_and_enables_the_home_tab(shared_dir: Path) -> None:
    import jsonschema

    schema = json.loads((shared_dir / "slack-manifest-schema" / "manifest.schema.1.0.0.json").read_text())
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    jsonschema.validate(manifest, schema)
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


async def test_background_refresher_keeps_the_snapshot(harness: Harness) -> None:
    rt = harness.rt
    refresher = fleet.FleetRefresher(rt.db, rt.soracom, owner="bg", clock=rt.clock, zone=rt.settings.timezone,
                                     every=0.05, pages_per_second=1000)
    await refresher.start()
    try:
        for _ in range(100):
            if (await fleet.read_snapshot(rt.db, rt.clock())).refreshed_at is not None:
                break
            await asyncio.sleep(0.05)
        snapshot = await fleet.read_snapshot(rt.db, rt.clock())
        assert snapshot.sim_count == len(harness.emulator.subscribers) and not snapshot.refreshing
    finally:
        await refresher.stop()


async def test_console_home_shows_the_tab_and_presses_its_buttons(harness: Harness) -> None:
    import io

    from bot.localslack.console import Console

    assert harness.local.sender is not None
    out = io.StringIO()
    console = Console(harness.local.sender, harness.fake, harness.local.settle, user_id=OPERATOR, channel_id="C_CON",
                      out=out)
    await console.run_script([":home", "press Refresh"])
    printed = out.getvalue()
    assert "--- Home tab ---" in printed and "SORACOM fleet" in printed and "Refresh" in printed
    assert printed.count("--- Home tab ---") >= 3  # opened, read, refreshed
    assert f"{len(harness.emulator.subscribers)}" in printed


async def test_home_opened_during_another_replicas_refresh_shows_its_result(harness: Harness,
                                                                             database_url: str) -> None:
    rt = harness.rt
    other_db = Database(database_url)  # the other replica: its own engine on the same database
    harness.emulator.faults.latency = 0.2
    try:
        other = asyncio.create_task(fleet.refresh(other_db, rt.soracom, owner="other-replica", clock=rt.clock,
                                                  zone=rt.settings.timezone, pages_per_second=1000))
        while not (await fleet.read_snapshot(rt.db, rt.clock())).refreshing:
            await asyncio.sleep(0.01)
        home = await open_home(harness, OPERATOR)  # waits for the other replica's refresh, then shows it
        assert await other
    finally:
        other_db.dispose()
    assert f"*SIMs*\\n{len(harness.emulator.subscribers)}" in view_text(home)
    assert sum(1 for r in harness.emulator.requests if r.path == "/v1/subscribers") == 1  # one refresh read the fleet


async def test_home_lists_the_alerts_of_the_last_day(harness: Harness) -> None:
    store = AlertStore(harness.rt.db)
    now = harness.clock.now
    for imsi, age_hours, state in (("440100000000001", 1, "carded"), ("440100000000002", 2, "folded"),
                                   ("440100000000003", 30, "carded"), ("440100000000004", 1, "muted")):
        event = Event(alert="slackbot:daily-traffic", rule="daily-traffic", imsi=imsi, limit_mib=100)
        recorded = await store.record(event, now - timedelta(hours=age_hours))
        await store.set_state(recorded.id, state, channel_id="C_ALERTS", message_ts="1.0")
    view = await open_home(harness, ADMIN)
    # The alerts' own block: the same IMSIs may stand elsewhere on Home (the month's top traffic).
    text = next(json.dumps(block, ensure_ascii=False) for block in view["blocks"]
                if "Alerts in the last 24 hours" in json.dumps(block))
    assert "Alerts in the last 24 hours: 2" in text
    assert "440100000000001" in text and "440100000000002" in text and "<#C_ALERTS>" in text
    assert "440100000000003" not in text and "440100000000004" not in text  # a day old; muted
