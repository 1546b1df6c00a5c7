"""What the bot keeps of alerts, on SQLite and PostgreSQL: one row per event across replicas, one storm per alert."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlmodel import func, select

from bot.services.alert_intake import record_batch
from bot.services.alerts import CHANNEL_SETTING, AlertStore, Event
from bot.store import Database
from bot.store.tables import AlertEvent, AlertSetting, AlertStorm
from tests.clock import pinned_now


async def test_the_same_event_is_new_once_whichever_replica_records_it(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    first.create_schema()
    try:
        now, event = pinned_now(), Event(alert="daily-traffic", rule="daily-traffic", imsi="440100000000002", time=1)
        results = await asyncio.gather(*(AlertStore(db).record(event, now) for db in (first, second, first, second)))
        assert sorted(r.new for r in results) == [False, False, False, True]
        assert len({r.id for r in results}) == 1
    finally:
        first.dispose()
        second.dispose()


async def test_a_delivery_left_unfinished_by_a_dead_process_is_taken_again_by_one_retry(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    try:
        pinned = pinned_now().astimezone(timezone.utc)
        # Every delivery below in one UTC day, the daily rule's period: 10 minutes on from 23:55 is a new event.
        store, now = AlertStore(db), min(pinned, pinned.replace(hour=23, minute=0, second=0, microsecond=0))
        event = Event(alert="daily-traffic", rule="daily-traffic", imsi="440100000000002", time=1)
        first = await store.record(event, now)
        await store.set_state(first.id, "carded", channel_id="C_ALERTS")  # then killed before the card was posted
        assert not (await store.record(event, now + timedelta(seconds=10))).new  # maybe still being posted
        retries = await asyncio.gather(*(store.record(event, now + timedelta(minutes=2)) for _ in range(3)))
        assert sorted(r.new for r in retries) == [False, False, True] and {r.id for r in retries} == {first.id}
        await store.set_state(first.id, "carded", message_ts="1.0")
        assert not (await store.record(event, now + timedelta(minutes=10))).new  # posted: a duplicate now
    finally:
        db.dispose()


def _channel(db: Database, now: datetime) -> None:
    with db.session() as session:
        session.add(AlertSetting(name=CHANNEL_SETTING, value="C_ALERTS", updated_by="U_ADMIN", updated_at=now))
        session.commit()


def _event(imsi: str, rule: str = "daily-traffic", alert: str | None = None) -> Event:
    return Event(alert or rule, rule, imsi)


async def test_more_than_n_cards_a_minute_of_one_rule_start_one_storm_whatever_the_alert(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    now = pinned_now()
    _channel(db, now)
    try:
        taken = []
        for number in range(8):  # one at a time; the group suffix varies: storms fold per rule
            alert = "daily-traffic" + ("@g1" if number % 2 else "")
            taken += await db.run(record_batch, db, [(_event(f"4401000000001{number:02d}", alert=alert), now)], 3)
        assert [t.outcome for t in taken] == ["card"] * 3 + ["folded"] * 5
        assert [t.starts for t in taken[3:]] == [True, False, False, False, False]
        assert len({t.storm_id for t in taken[3:]}) == 1
        assert await AlertStore(db).storm_count(taken[3].storm_id) == 8  # the three cards before it are counted in
        other = await db.run(record_batch, db, [(_event("440100000000150", rule="expiry"), now)], 3)
        assert [t.outcome for t in other] == ["card"]  # another rule: cards of its own
        later = now + timedelta(minutes=2)
        calm = await db.run(record_batch, db, [(_event("440100000000199"), later)], 3)
        assert [t.outcome for t in calm] == ["card"]  # calm again
    finally:
        db.dispose()


async def test_one_batch_of_300_sims_of_one_rule_and_their_repeats_records_each_once(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    now = pinned_now()
    _channel(db, now)
    try:
        sims = [f"44010000001{n:04d}" for n in range(300)]
        deliveries = [(_event(imsi), now) for imsi in sims]
        deliveries += [(Event("daily-traffic@x", "daily-traffic", imsi, time=n), now + timedelta(seconds=1))
                       for n, imsi in enumerate(sims[:50])]  # repeats in the same batch, another time and suffix
        taken = await db.run(record_batch, db, deliveries, 10)
        assert Counter(t.outcome for t in taken) == {"card": 10, "folded": 290, "duplicate": 50}
        assert sum(t.starts for t in taken) == 1
        again = await db.run(record_batch, db, deliveries[:100], 10)  # the whole batch delivered again
        assert {t.outcome for t in again} == {"duplicate"}
        with db.session() as session:
            rows = session.exec(select(AlertEvent.imsi, AlertEvent.state, AlertEvent.storm_id)).all()
        assert sorted(imsi for imsi, _, _ in rows) == sorted(sims)  # one row a SIM
        assert Counter(state for _, state, _ in rows) == {"new": 10, "folded": 290}
        assert {storm for _, _, storm in rows} == {taken[10].storm_id}  # the cards belong to the storm too
    finally:
        db.dispose()


async def test_two_replicas_batches_of_the_same_deliveries_record_each_once(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    first.create_schema()
    now = pinned_now()
    _channel(first, now)
    try:
        sims = [f"44010000002{n:04d}" for n in range(200)]
        forward = [(_event(imsi), now) for imsi in sims]
        backward = [(_event(imsi, alert="daily-traffic@g"), now) for imsi in reversed(sims)]
        results = await asyncio.gather(*(db.run(record_batch, db, batch, 10) for db, batch in (
            (first, forward[:100]), (second, backward[:100]), (first, forward[100:]), (second, backward[100:]))))
        outcomes = Counter(t.outcome for batch in results for t in batch)
        assert outcomes["duplicate"] == 200 and outcomes["card"] + outcomes["folded"] == 200
        with first.session() as session:
            assert session.exec(select(func.count()).select_from(AlertEvent)).one() == 200
            assert session.exec(select(func.count()).select_from(AlertStorm)).one() == 1
    finally:
        first.dispose()
        second.dispose()


async def test_rows_older_than_90_days_are_purged(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    store, now = AlertStore(db), pinned_now()
    try:
        old, recent = now - timedelta(days=91), now - timedelta(days=89)
        for number, moment in enumerate((old, old, recent)):
            recorded = await store.record(Event("daily-traffic", "daily-traffic", f"44010000000030{number}"), moment)
            await store.set_state(recorded.id, "carded")
        _channel(db, now)
        old_storm = [(Event("daily-traffic", "daily-traffic", f"44010000000040{number}"), old) for number in range(5)]
        taken = await db.run(record_batch, db, old_storm, 2)  # a storm in the old minute, with its rows
        assert {t.outcome for t in taken} == {"folded"}  # the two old cards came first
        assert await store.purge(now) == 7 + 1  # the seven old deliveries and their storm
        assert [a.imsi for a in (await store.open_alerts(recent + timedelta(hours=1)))[0]] == ["440100000000302"]
        assert await store.purge(now) == 0
    finally:
        db.dispose()


async def test_a_purge_goes_in_transactions_of_a_bounded_size_and_takes_every_old_row(database_url: str,
                                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.services import alerts

    monkeypatch.setattr(alerts, "PURGE_CHUNK", 4)
    db = Database(database_url)
    db.create_schema()
    store, now = AlertStore(db), pinned_now()
    try:
        old, recent = now - timedelta(days=91), now - timedelta(days=89)
        _channel(db, now)
        batch = [(Event("daily-traffic", "daily-traffic", f"4401000000005{n:02d}", limit_mib=100), old)
                 for n in range(11)]
        await db.run(record_batch, db, batch, 2)  # two cards, then a storm of nine
        await db.run(record_batch, db, [(Event("daily-traffic", "daily-traffic", "440100000000600"), recent)], 2)
        commits: list[int] = []
        real = store._purge_chunk

        def counted(*args: object) -> int:
            went = real(*args)  # type: ignore[arg-type]
            commits.append(went)
            return went

        monkeypatch.setattr(store, "_purge_chunk", counted)
        assert await store.purge(now) == 11 + 1
        assert commits == [4, 4, 3, 1]  # the deliveries in transactions of 4, then the storm
        with db.session() as session:
            assert [r.imsi for r in session.exec(select(AlertEvent))] == ["440100000000600"]
            assert session.exec(select(func.count()).select_from(AlertStorm)).one() == 0
    finally:
        db.dispose()
