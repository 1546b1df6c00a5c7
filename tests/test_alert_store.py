"""What the bot keeps of alerts, on SQLite and PostgreSQL: one row per event across replicas, one storm per alert."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.services.alerts import AlertStore, Event
from bot.store import Database
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
        store, now = AlertStore(db), pinned_now()
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


async def test_more_than_n_cards_a_minute_start_one_storm(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    store, now = AlertStore(db), pinned_now()
    try:
        storms = []
        for number in range(8):
            recorded = await store.record(Event("daily-traffic", "daily-traffic", f"4401000000001{number:02d}"), now)
            storm = await store.storm_for(recorded.id, "daily-traffic", now, per_minute=3)
            if storm is None:
                await store.set_state(recorded.id, "carded")
            storms.append(storm)
        assert storms[:3] == [None, None, None]
        assert [s.new for s in storms[3:] if s] == [True, False, False, False, False]
        assert storms[-1] is not None and storms[-1].count == 8  # the three cards before it are counted in
        later = now + timedelta(minutes=2)
        recorded = await store.record(Event("daily-traffic", "daily-traffic", "440100000000199"), later)
        assert await store.storm_for(recorded.id, "daily-traffic", later, per_minute=3) is None  # calm again
    finally:
        db.dispose()


async def test_rows_older_than_90_days_are_purged(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    store, now = AlertStore(db), pinned_now()
    try:
        old, recent = now - timedelta(days=91), now - timedelta(days=89)
        for number, moment in enumerate((old, old, recent)):
            recorded = await store.record(Event("daily-traffic", "daily-traffic", f"44010000000030{number}"), moment)
            await store.set_state(recorded.id, "carded")
        for number in range(5):  # a storm in the old minute, with its rows
            recorded = await store.record(Event("daily-traffic", "daily-traffic", f"44010000000040{number}"), old)
            if await store.storm_for(recorded.id, "daily-traffic", old, per_minute=2) is None:
                await store.set_state(recorded.id, "carded")
        assert await store.purge(now) == 7 + 1  # the seven old deliveries and their storm
        assert [a.imsi for a in (await store.open_alerts(recent + timedelta(hours=1)))[0]] == ["440100000000302"]
        assert await store.purge(now) == 0
    finally:
        db.dispose()
