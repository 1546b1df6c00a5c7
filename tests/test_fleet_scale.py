"""The fleet snapshot kept in generations: a refresh that fails half-way leaves the previous snapshot whole, traffic
readings carry over, selectors are answered by SQL from the snapshot (content, not timing), the emulator pages
by cursor; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import col, func, select

from bot.emulator import EmulatorState
from bot.services import fleet
from bot.soracom import SoracomClient
from bot.soracom.models import RateWindow, Subscriber
from bot.store import Database, migrations
from bot.store.db import make_engine
from bot.store.tables import FleetSim, FleetSimTag, FleetSnapshot, as_utc
from tests.conftest import VIEWER
from tests.harness import Harness
from tests.test_bill import reply_text
from tests.test_home import open_home, settings, view_text  # noqa: F401  (the harness on SQLite and PostgreSQL)


async def take_snapshot(harness: Harness, **options: Any) -> bool:
    rt = harness.rt
    return await fleet.refresh(rt.db, rt.soracom, owner="test", clock=rt.clock, zone=rt.settings.timezone,
                               **options)


def subscriber_calls(harness: Harness) -> int:
    return sum(1 for r in harness.emulator.requests if r.path == "/v1/subscribers")


def rows_by_generation(db: Database) -> dict[str, int]:
    with db.session() as session:
        return dict(session.exec(select(FleetSim.generation, func.count()).group_by(col(FleetSim.generation))).all())


def tag_rows(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.exec(select(FleetSimTag.generation).distinct()).all())


def build(state: EmulatorState, count: int) -> str:
    """`count` SIMs in all, tagged site=site-0…site-6, every fifth in the first group; that group's name."""
    state.add_subscribers(count - len(state.subscribers))
    group = next(iter(state.groups.values()))
    for number, sub in enumerate(state.subscribers.values()):
        sub["tags"]["site"] = f"site-{number % 7}"
        sub["groupId"] = group["groupId"] if number % 5 == 0 else None
    return str(group["tags"]["name"])


async def test_a_refresh_failing_half_way_leaves_the_previous_snapshot_whole(harness: Harness,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    state, db = harness.emulator, harness.rt.db
    build(state, 1200)
    assert await take_snapshot(harness)
    before = await fleet.read_snapshot(db, harness.clock.now)
    assert before.sim_count == 1200
    [generation] = rows_by_generation(db)

    # SORACOM changes, and then answers the refresh's twelfth page with an error (from the emulator, through the
    # client): the SIMs of the first ten pages are written by then (their first half surely)
    state.add_subscribers(30)
    changed = sorted(state.subscribers)[0]
    state.subscribers[changed]["status"] = "suspended"
    real = SoracomClient._call
    pages: list[str | None] = []

    async def failing_twelfth(self: SoracomClient, operation_id: str, **kwargs: Any) -> Any:
        if operation_id == "listSubscribers":
            pages.append(kwargs["params"].get("last_evaluated_key"))
            if len(pages) == 12:
                state.faults.fail_next("GET", r"^/v1/subscribers$", status=400)
                assert sum(rows_by_generation(db).values()) > 1200  # the new generation is half-written
        return await real(self, operation_id, **kwargs)

    monkeypatch.setattr(SoracomClient, "_call", failing_twelfth)
    assert not await take_snapshot(harness)
    assert len(pages) == 12

    after = await fleet.read_snapshot(db, harness.clock.now)
    assert (after.sim_count, after.by_status, after.refreshed_at) == (before.sim_count, before.by_status,
                                                                      before.refreshed_at)
    assert after.last_error  # said on the Home
    assert rows_by_generation(db) == {generation: 1200}  # the half-written generation is gone
    assert tag_rows(db) == {generation}
    await harness.command("/sim list status:suspended", user=VIEWER)
    assert changed not in reply_text(harness, VIEWER)  # still the SORACOM of the last complete refresh

    monkeypatch.setattr(SoracomClient, "_call", real)
    assert await take_snapshot(harness)
    generations = rows_by_generation(db)
    # the snapshot it replaced stays (no reader asks for it) until the next refresh drops it while it writes
    assert generations.pop(generation) == 1200 and list(generations.values()) == [1230]
    assert await take_snapshot(harness)
    generations = rows_by_generation(db)
    assert list(generations.values()) == [1230, 1230] and generation not in generations
    assert tag_rows(db) == set(generations)
    now = await fleet.read_snapshot(db, harness.clock.now)
    assert now.sim_count == 1230 and now.last_error is None
    assert now.by_status == dict(sorted(Counter(s["status"] for s in state.subscribers.values()).items(),
                                        key=lambda kv: (-kv[1], kv[0])))


async def test_readers_see_the_old_snapshot_while_a_refresh_writes_its_generation(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    state, db = harness.emulator, harness.rt.db
    state.add_subscribers(250 - len(state.subscribers))
    assert await take_snapshot(harness)
    state.add_subscribers(1000)
    seen: list[tuple[int, int]] = []
    real = SoracomClient._call

    async def watching(self: SoracomClient, operation_id: str, **kwargs: Any) -> Any:
        if operation_id == "listSubscribers" and kwargs["params"].get("last_evaluated_key"):
            snapshot = await fleet.read_snapshot(db, harness.clock.now)
            seen.append((snapshot.sim_count, sum(rows_by_generation(db).values())))
        return await real(self, operation_id, **kwargs)

    monkeypatch.setattr(SoracomClient, "_call", watching)
    assert await take_snapshot(harness)
    assert seen and all(count == 250 for count, _ in seen)  # the Home's figures: the previous snapshot
    assert any(rows > 250 for _, rows in seen)  # while the new generation was being written beside it
    assert (await fleet.read_snapshot(db, harness.clock.now)).sim_count == 1250


async def test_traffic_readings_carry_over_to_the_next_generation(harness: Harness) -> None:
    db = harness.rt.db
    assert await take_snapshot(harness, traffic_per_refresh=100)
    month = harness.clock.now.astimezone(timezone.utc).strftime("%Y%m")
    with db.session() as session:
        read = {imsi: total for imsi, total in session.exec(
            select(FleetSim.imsi, FleetSim.traffic_bytes).where(col(FleetSim.traffic_month) == month)).all()}
    assert read
    assert await take_snapshot(harness, traffic_per_refresh=0)  # reads no traffic: only carries it over
    with db.session() as session:
        carried = {imsi: total for imsi, total in session.exec(
            select(FleetSim.imsi, FleetSim.traffic_bytes)
            .where(fleet.in_snapshot(), col(FleetSim.traffic_month) == month)).all()}
    assert carried == read


async def test_selectors_on_thousands_of_sims_are_answered_from_the_snapshot(harness: Harness) -> None:
    state = harness.emulator
    group = build(state, 3000)
    assert await take_snapshot(harness)
    state.requests.clear()
    subs = sorted(state.subscribers.values(), key=lambda s: s["imsi"])

    site = [s["imsi"] for s in subs if s["tags"].get("site") == "site-3"]
    await harness.command("/sim list tag:site=site-3", user=VIEWER)
    text_ = reply_text(harness, VIEWER)
    assert f"*{len(site)} SIMs* matching `tag:site=site-3`" in text_
    assert all(imsi in text_ for imsi in site[:20]) and site[20] not in text_
    await harness.press("sim_list_next", user=VIEWER)
    page_two = json.dumps(harness.fake.calls_to("response_url")[-1].args.get("blocks"), ensure_ascii=False)
    assert all(imsi in page_two for imsi in site[20:40]) and site[19] not in page_two

    both = [s for s in subs if s["tags"].get("site") == "site-3" and s["status"] == "active"]
    await harness.command("/sim list tag:site=site-3 status:active", user=VIEWER)
    text_ = reply_text(harness, VIEWER)
    assert f"*{len(both)} SIM" in text_ and both[0]["imsi"] in text_

    grouped = [s for s in subs if s.get("groupId")]
    await harness.command(f"/sim list group:{group}", user=VIEWER)
    text_ = reply_text(harness, VIEWER)
    assert f"*{len(grouped)} SIMs*" in text_ and grouped[0]["imsi"] in text_
    for status, count in Counter(s["status"] for s in grouped).items():
        assert f"{status} *{count}*" in text_

    named = subs[1234]
    await harness.command(f"/sim list tag:name={named['tags']['name']} tag:site={named['tags']['site']}",
                          user=VIEWER)
    text_ = reply_text(harness, VIEWER)
    assert "*1 SIM*" in text_ and named["imsi"] in text_

    await harness.command("/sim list tag:site=nowhere", user=VIEWER)
    assert "0 SIMs" in reply_text(harness, VIEWER) or "No SIM" in reply_text(harness, VIEWER)
    assert subscriber_calls(harness) == 0


async def test_a_tag_longer_than_the_snapshot_keeps_is_read_from_soracom(harness: Harness) -> None:
    state = harness.emulator
    long_value = "x" * (fleet.TAG_LENGTH + 5)
    sub = sorted(state.subscribers.values(), key=lambda s: s["imsi"])[3]
    sub["tags"]["note"] = long_value
    assert await take_snapshot(harness)
    state.requests.clear()
    await harness.command(f"/sim list tag:note={long_value}", user=VIEWER)
    assert subscriber_calls(harness) > 0
    assert "*1 SIM*" in reply_text(harness, VIEWER) and sub["imsi"] in reply_text(harness, VIEWER)


async def test_the_home_counts_come_from_the_current_generation_only(harness: Harness) -> None:
    state = harness.emulator
    state.add_subscribers(300 - len(state.subscribers))
    assert await take_snapshot(harness)
    db = harness.rt.db
    with db.session() as session:  # what a refresh killed half-way leaves behind: rows of another generation
        session.add(FleetSim(generation="abandoned", imsi="440109999999999", status="active", online=True))
        session.commit()
    view = view_text(await open_home(harness, VIEWER))
    assert "300" in view and "301" not in view
    snapshot = await fleet.read_snapshot(db, harness.clock.now)
    online = sum(1 for s in state.subscribers.values() if (s.get("sessionStatus") or {}).get("online"))
    assert snapshot.sim_count == 300 and snapshot.online == online
    assert await take_snapshot(harness)  # the next refresh drops what was left behind
    assert "abandoned" not in rows_by_generation(db)


def test_the_refresh_keeps_under_soracoms_announced_rate_limit() -> None:
    def rate(remaining: int) -> RateWindow:
        return RateWindow(100, remaining, 7.0)

    assert fleet._pause(None, since=0.0, now=0.0, pages_per_second=None) == 0.0
    assert fleet._pause(rate(50), since=0.0, now=0.0, pages_per_second=None) == 0.0
    assert fleet._pause(rate(10), since=0.0, now=0.0, pages_per_second=None) == 7.0  # the reserve left to others
    assert fleet._pause(rate(50), since=0.0, now=0.02, pages_per_second=10) == pytest.approx(0.08)


def test_the_emulator_pages_a_large_fleet_by_cursor_in_imsi_order() -> None:
    from starlette.testclient import TestClient

    from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, create_app

    state = EmulatorState()
    state.add_subscribers(1000)
    state.subscribers = dict(reversed(list(state.subscribers.items())))  # a plain dict, in no order
    for imsi in sorted(state.subscribers)[::7]:
        state.subscribers[imsi]["status"] = "suspended"
    suspended = [imsi for imsi in sorted(state.subscribers) if state.subscribers[imsi]["status"] == "suspended"]
    client = TestClient(create_app(state))
    auth = client.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY}).json()
    headers = {"X-Soracom-API-Key": auth["apiKey"], "X-Soracom-Token": auth["token"]}
    for status, expected in ((None, sorted(state.subscribers)), ("suspended", suspended)):
        seen: list[str] = []
        key = None
        while True:
            params = {"limit": 100, **({"last_evaluated_key": key} if key else {}),
                      **({"status_filter": status} if status else {})}
            response = client.get("/v1/subscribers", params=params, headers=headers)
            seen += [sub["imsi"] for sub in response.json()]
            key = response.headers.get("x-soracom-next-key")
            if not key:
                break
        assert seen == expected


def test_an_old_snapshot_becomes_the_first_generation_on_upgrade(database_url: str) -> None:
    """0012 keeps the rows of a 0010 database as the current snapshot, with their tags in rows of their own."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrations.config(connection), "0010")
            connection.execute(text("INSERT INTO fleet_snapshot (name, generation, sim_count, refreshed_at) "
                                    "VALUES ('fleet', 'g1', 1, :at)"), {"at": datetime(2026, 1, 2, tzinfo=timezone.utc)})
            connection.execute(text(
                "INSERT INTO fleet_sim (imsi, name, status, speed_class, tags_json, generation, traffic_bytes) "
                "VALUES ('440100000000001', 'a', 'active', 's1.fast', :tags, 'g1', 42)"),
                {"tags": json.dumps({"name": "a", "site": "tokyo"})})
    finally:
        engine.dispose()
    migrations.upgrade(database_url)
    db = Database(database_url)
    try:
        with db.session() as session:
            [sim] = session.exec(select(FleetSim)).all()
            assert (sim.generation, sim.imsi, sim.traffic_bytes) == ("g1", "440100000000001", 42)
            tags = {(t.key, t.value) for t in session.exec(select(FleetSimTag)).all()}
            assert tags == {("site", "tokyo")}  # the name is the row's own column
            assert session.get(FleetSnapshot, "fleet").generation == "g1"  # type: ignore[union-attr]
    finally:
        db.dispose()


def snapshot_sims(db: Database) -> dict[str, FleetSim]:
    with db.session() as session:
        return {sim.imsi: sim for sim in session.exec(select(FleetSim).where(fleet.in_snapshot())).all()}


def snapshot_tags(db: Database) -> set[tuple[str, str, str]]:
    with db.session() as session:
        current = session.get(FleetSnapshot, fleet.ROW).generation  # type: ignore[union-attr]
        return {(t.imsi, t.key, t.value) for t in session.exec(
            select(FleetSimTag).where(col(FleetSimTag.generation) == current)).all()}


async def test_the_refresh_reads_soracoms_json_as_the_client_models_would_and_fields_of_another_type_as_missing(
        harness: Harness) -> None:
    """The refresh reads each SIM's JSON without validating a model per SIM: what it stores is what the Subscriber
    model gives for every SIM as SORACOM sends them, and a field of another type counts as missing (where the model
    would have refused the whole page)."""
    state, db = harness.emulator, harness.rt.db
    build(state, 250)
    subs = sorted(state.subscribers.values(), key=lambda s: s["imsi"])
    odd = {sub["imsi"]: sub for sub in subs[100:106]}  # on the second page
    a, b, c, d, e, f = odd.values()
    a["tags"]["floor"] = 3  # not text: left out
    b["sessionStatus"] = None
    c["sessionStatus"] = {"online": "yes", "lastUpdatedAt": "soon"}
    d["status"] = None
    d["speedClass"] = None
    e["tags"] = "not an object"
    f["groupId"] = 42
    assert await take_snapshot(harness)

    rows, tags = snapshot_sims(db), snapshot_tags(db)
    assert set(rows) == {sub["imsi"] for sub in subs}
    for sub in subs:
        row = rows[sub["imsi"]]
        if sub["imsi"] in odd:
            continue
        model = Subscriber.model_validate(sub)
        session = model.sessionStatus
        seen = session.lastUpdatedAt if session and session.lastUpdatedAt else None
        assert (row.sim_id, row.name, row.status, row.online, row.group_id, row.speed_class) == (
            model.simId or model.iccid, (model.tags or {}).get("name", ""), model.status,
            session.online if session else None, model.groupId, model.speedClass or "")
        assert as_utc(row.last_seen_at) == (datetime.fromtimestamp(seen / 1000, timezone.utc) if seen else None)
        assert json.loads(row.tags_json) == model.tags
        assert {(key, value) for imsi, key, value in tags if imsi == sub["imsi"]} == {
            (key, value) for key, value in (model.tags or {}).items() if key != "name"}
    assert json.loads(rows[a["imsi"]].tags_json) == {k: v for k, v in a["tags"].items() if k != "floor"}
    assert (a["imsi"], "floor", "3") not in tags and (a["imsi"], "site", a["tags"]["site"]) in tags
    assert (rows[b["imsi"]].online, rows[b["imsi"]].last_seen_at) == (None, None)
    assert (rows[c["imsi"]].online, rows[c["imsi"]].last_seen_at) == (None, None)
    assert (rows[d["imsi"]].status, rows[d["imsi"]].speed_class) == ("unknown", "")
    assert (rows[e["imsi"]].name, rows[e["imsi"]].tags_json) == ("", "{}")
    assert not any(imsi == e["imsi"] for imsi, _, _ in tags)
    assert rows[f["imsi"]].group_id is None


async def test_what_is_not_a_sim_in_a_page_is_skipped(harness: Harness) -> None:
    state, db = harness.emulator, harness.rt.db
    good = sorted(state.subscribers.values(), key=lambda s: s["imsi"])[0]
    state.faults.fail_next("GET", r"^/v1/subscribers$", status=200,
                           body=[good, "a string", None, {"imsi": 5, "status": "active"}, {"status": "active"}])
    assert await take_snapshot(harness)
    assert list(snapshot_sims(db)) == [good["imsi"]]
    assert (await fleet.read_snapshot(db, harness.clock.now)).sim_count == 1


@pytest.mark.parametrize("answer", [{"subscribers": []}, "<html>busy</html>"])
async def test_an_answer_that_is_not_a_list_of_sims_fails_the_refresh_and_keeps_the_snapshot(
        harness: Harness, answer: Any) -> None:
    state, db = harness.emulator, harness.rt.db
    assert await take_snapshot(harness)
    before = await fleet.read_snapshot(db, harness.clock.now)
    harness.clock.advance(600)
    state.faults.fail_next("GET", r"^/v1/subscribers$", status=200, body=answer)
    assert not await take_snapshot(harness)
    after = await fleet.read_snapshot(db, harness.clock.now)
    assert (after.sim_count, after.by_status, after.refreshed_at) == (before.sim_count, before.by_status,
                                                                      before.refreshed_at)
    assert after.last_error and "not the JSON list" in after.last_error
    assert len(rows_by_generation(db)) == 1


async def test_the_next_page_is_asked_for_before_a_page_is_handed_over() -> None:
    """The call for the next page is on its way before the caller gets the page it works on (the refresh's work on
    a page overlaps SORACOM's answer to the next, instead of coming before it)."""
    from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, create_app
    from bot.local import EMBEDDED_EMULATOR_ENDPOINT
    from bot.soracom import AuthKeyCredentials

    state = EmulatorState()
    state.add_subscribers(450 - len(state.subscribers))
    asked: list[str | None] = []
    emulator = httpx.ASGITransport(app=create_app(state))

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/subscribers"):
                asked.append(request.url.params.get("last_evaluated_key"))
            return await emulator.handle_async_request(request)

    handed: list[str] = []
    pages = 0
    async with SoracomClient(EMBEDDED_EMULATOR_ENDPOINT, AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
                             transport=Recording()) as client:
        async for page in client.subscriber_pages():
            pages += 1
            if page.next_key:
                assert asked[-1] == page.next_key and len(asked) == pages + 1  # the next page asked for already
            else:
                assert len(asked) == pages  # the last page: nothing more asked
            handed += [sim["imsi"] for sim in page.items]
    assert handed == sorted(state.subscribers) and pages == 5


def traffic_reads(db: Database) -> dict[str, datetime]:
    return {imsi: as_utc(sim.traffic_read_at) for imsi, sim in snapshot_sims(db).items()  # type: ignore[misc]
            if sim.traffic_read_at is not None}


async def test_each_refresh_reads_the_traffic_of_the_snapshots_least_recently_read_sims(harness: Harness) -> None:
    """Up to `traffic_per_refresh` SIMs a refresh, chosen from the snapshot it replaces (read while the fleet is
    paged): never read first, then the oldest reading; on the first refresh, the first SIMs written. A SIM new to
    SORACOM is read once it is in the snapshot."""
    state, db = harness.emulator, harness.rt.db
    state.add_subscribers(32 - len(state.subscribers))
    imsis = sorted(state.subscribers)
    for imsi in imsis:
        state.subscribers[imsi]["status"] = "active"
    state.subscribers[imsis[3]]["status"], state.subscribers[imsis[7]]["status"] = "terminated", "ready"
    due = [imsi for imsi in imsis if imsi not in (imsis[3], imsis[7])]  # 30 SIMs SORACOM has traffic for
    times = []

    async def refresh() -> None:
        harness.clock.advance(1)
        times.append(harness.clock.now)
        assert await take_snapshot(harness, traffic_per_refresh=10)

    await refresh()  # no snapshot yet: the first SIMs written
    assert traffic_reads(db) == {imsi: times[0] for imsi in due[:10]}
    await refresh()
    assert traffic_reads(db) == {imsi: times[0] for imsi in due[:10]} | {imsi: times[1] for imsi in due[10:20]}
    [new] = state.add_subscribers(1, status="active")
    await refresh()  # chosen from the snapshot, which does not hold the new SIM yet
    assert traffic_reads(db) == ({imsi: times[0] for imsi in due[:10]} | {imsi: times[1] for imsi in due[10:20]}
                                 | {imsi: times[2] for imsi in due[20:30]})
    await refresh()  # never read first, then the oldest readings
    assert traffic_reads(db) == ({new["imsi"]: times[3]} | {imsi: times[3] for imsi in due[:9]}
                                 | {due[9]: times[0]} | {imsi: times[1] for imsi in due[10:20]}
                                 | {imsi: times[2] for imsi in due[20:30]})


async def test_the_bill_and_the_traffic_are_read_while_the_fleet_is_paged(harness: Harness,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page after the sixth is held until a traffic reading and a bill call have been made: a refresh that
    read them only after the paging would never end (the guard below fails it instead)."""
    state = harness.emulator
    build(state, 1200)
    real = SoracomClient._call
    made: list[str] = []
    both = asyncio.Event()

    async def holding(self: SoracomClient, operation_id: str, **kwargs: Any) -> Any:
        made.append(operation_id)
        if {"getAirStats", "getBilling"} <= set(made):
            both.set()
        if operation_id == "listSubscribers" and made.count("listSubscribers") > 6:
            await asyncio.wait_for(both.wait(), 60)  # a guard against a hang, not a measure of time
        return await real(self, operation_id, **kwargs)

    monkeypatch.setattr(SoracomClient, "_call", holding)
    for _ in range(2):  # without a snapshot (read after the first write), then replacing one
        made.clear()
        both.clear()
        assert await take_snapshot(harness)
        last_page = len(made) - 1 - made[::-1].index("listSubscribers")
        assert "getAirStats" in made[:last_page] and "getBilling" in made[:last_page]
        assert made.count("listSubscribers") == 12
