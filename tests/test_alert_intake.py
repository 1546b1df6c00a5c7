"""Alert deliveries at scale, over HTTP into the bot, on SQLite and PostgreSQL: arriving together they are recorded
in one transaction each tick, each answered only once its row is committed, once per rule, SIM and period; a
rule's storm folds into one summary card whatever group each alert watches."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from sqlmodel import func, select

from bot.config import Settings

from bot.services.alerts import TOKEN_HEADER
from bot.store.tables import AlertEvent, AlertStorm
from tests.test_alerts import OPS, _blocks, cards, event, ready, token


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """The whole bot on SQLite and on PostgreSQL."""
    return settings.model_copy(update={"DATABASE_URL": database_url})


async def post(harness, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return await harness.local.http.post("/soracom/events", headers={TOKEN_HEADER: token(harness)},
                                         content=json.dumps(body).encode())


def rows(harness) -> list[AlertEvent]:  # type: ignore[no-untyped-def]
    with harness.rt.db.session() as session:
        return list(session.exec(select(AlertEvent)))


def summaries(harness) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [c for c in cards(harness) if any(b.get("block_id") == "storm_buttons" for b in _blocks(c))]


async def test_300_sims_crossing_one_rule_at_once_make_one_summary_card(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(300, status="active", speedClass="s1.standard")]
    # Two alerts of the same rule (the whole account, one group): the storm is the rule's.
    bodies = [{**event(imsi), "alert": "daily-traffic" + ("@g-1" if n % 2 else "")} for n, imsi in enumerate(sims)]
    responses = await asyncio.gather(*(post(harness, body) for body in bodies))
    await harness.local.settle()
    assert Counter(r.status_code for r in responses) == {200: 300}
    per_minute = harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE
    assert Counter(r.json()["result"] for r in responses) == {"carded": per_minute, "folded": 300 - per_minute}
    posted = cards(harness)
    assert len(summaries(harness)) == 1 and len(posted) == per_minute + 1
    shown = [summaries(harness)[0]["text"],
             *(c.args["text"] for c in harness.fake.calls_to("chat.update") if c.args.get("channel") == OPS)]
    assert "300 SIMs crossed 100 MiB today" in shown[-1]  # the cards before the storm counted in
    kept = rows(harness)
    assert sorted(r.imsi for r in kept) == sorted(sims)
    assert len({r.storm_id for r in kept}) == 1 and None not in {r.storm_id for r in kept}
    with harness.rt.db.session() as session:
        assert session.exec(select(func.count()).select_from(AlertStorm)).one() == 1


async def test_a_delivery_repeated_with_another_time_or_suffix_at_the_same_moment_is_one_row(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(40, status="active", speedClass="s1.standard")]
    bodies = [event(imsi, time=1) for imsi in sims]
    bodies += [{**event(imsi, time=1_700_000_000_000 + n), "alert": f"daily-traffic@x{n}"}
               for n, imsi in enumerate(sims)]
    responses = await asyncio.gather(*(post(harness, body) for body in bodies))
    await harness.local.settle()
    results = Counter(r.json()["result"] for r in responses)
    assert results["duplicate"] == 40 and results["carded"] + results["folded"] == 40
    assert Counter(r.imsi for r in rows(harness)) == Counter(sims)  # one row a SIM
    again = await asyncio.gather(*(post(harness, body) for body in bodies[:10]))
    assert {r.json()["result"] for r in again} == {"duplicate"}
    assert len(rows(harness)) == 40


async def test_each_delivery_is_answered_only_once_its_row_is_committed(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(120, status="active", speedClass="s1.standard")]
    missing: list[str] = []

    async def deliver_and_look(imsi: str) -> int:
        response = await post(harness, event(imsi))
        # Another connection, at the moment the answer arrives: the row is there for everyone.
        with harness.rt.db.session() as session:
            if session.exec(select(AlertEvent).where(AlertEvent.imsi == imsi)).first() is None:
                missing.append(imsi)
        return response.status_code

    statuses = await asyncio.gather(*(deliver_and_look(imsi) for imsi in sims))
    await harness.local.settle()
    assert set(statuses) == {200} and missing == []
    assert len(rows(harness)) == 120 and len(summaries(harness)) == 1


async def test_a_batch_the_database_refuses_is_503_for_each_delivery_and_taken_when_sent_again(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    from bot.services import alert_intake

    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(30, status="active", speedClass="s1.standard")]
    real = alert_intake.record_batch

    def refusing(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(alert_intake, "record_batch", refusing)
    refused = await asyncio.gather(*(post(harness, event(imsi)) for imsi in sims))
    assert {r.status_code for r in refused} == {503} and rows(harness) == [] and cards(harness) == []
    monkeypatch.setattr(alert_intake, "record_batch", real)
    taken = await asyncio.gather(*(post(harness, event(imsi)) for imsi in sims))
    await harness.local.settle()
    assert {r.status_code for r in taken} == {200} and len(rows(harness)) == 30


def summary_texts(harness) -> list[str]:  # type: ignore[no-untyped-def]
    """Each summary's text as Slack shows it last (its post, then its edits)."""
    latest = {c.response["ts"]: c.args["text"] for c in harness.fake.calls_to("chat.postMessage")
              if c.args.get("channel") == OPS and (c.response or {}).get("ok")
              and any(b.get("block_id") == "storm_buttons" for b in _blocks(c.args))}
    for call in harness.fake.calls_to("chat.update"):
        if call.args.get("ts") in latest:
            latest[call.args["ts"]] = call.args["text"]
    return sorted(latest.values())


async def test_a_summary_edit_slack_refused_in_passing_is_made_again(harness, caplog) -> None:  # type: ignore[no-untyped-def]
    harness.rt.settings = harness.rt.settings.model_copy(update={"BOT_ALERT_STORM_UPDATE_SECONDS": 0.1})
    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(30, status="active", speedClass="s1.standard")]
    await asyncio.gather(*(post(harness, event(imsi)) for imsi in sims[:20]))
    await harness.local.settle()
    harness.fake.fail_next("chat.update", "ratelimited")  # the last wave's edit: no delivery comes after it
    await asyncio.gather(*(post(harness, event(imsi)) for imsi in sims[20:]))
    await harness.local.settle()
    refused = [c for c in harness.fake.calls_to("chat.update") if not (c.response or {}).get("ok")]
    assert len(refused) == 1 and "trying again" in caplog.text
    shown = summary_texts(harness)
    assert len(shown) == 1 and "30 SIMs crossed 100 MiB today" in shown[0], shown


async def test_a_rule_set_up_with_two_limits_makes_a_summary_for_each_limit(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(60, status="active", speedClass="s1.standard")]
    # The account's rule at 100 MiB, a group's at 500 MiB: one kind of rule, two limits.
    bodies = [event(imsi) if n % 3 else {**event(imsi), "alert": "daily-traffic@g-1", "limitMiB": 500}
              for n, imsi in enumerate(sims)]
    responses = [await post(harness, body) for body in bodies]
    await harness.local.settle()
    assert {r.status_code for r in responses} == {200}
    per_minute = harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE
    assert len(cards(harness)) == per_minute + 2  # the rule's cards a minute, then a summary per limit
    kept = rows(harness)
    carded = Counter(r.limit_mib for r in kept if r.state == "carded")
    folded = Counter(r.limit_mib for r in kept if r.state == "folded")
    assert sum(carded.values()) == per_minute
    over_500, over_100 = carded[500] + folded[500], carded[100] + folded[100]
    assert (over_500, over_100) == (20, 40)
    shown = summary_texts(harness)
    assert len(shown) == 2, shown
    assert [f"{over_100} SIMs crossed 100 MiB today" in text for text in shown].count(True) == 1, shown
    assert [f"{over_500} SIMs crossed 500 MiB today" in text for text in shown].count(True) == 1, shown
    with harness.rt.db.session() as session:
        storms = {s.alert: s.id for s in session.exec(select(AlertStorm))}
    assert set(storms) == {"daily-traffic/100", "daily-traffic/500"}
    assert {(r.limit_mib, r.storm_id) for r in kept} == {(100, storms["daily-traffic/100"]),
                                                         (500, storms["daily-traffic/500"])}


async def test_a_summary_whose_poster_died_is_posted_by_the_storms_next_delivery(harness) -> None:  # type: ignore[no-untyped-def]
    from bot.services.alert_intake import record_batch
    from bot.services.alerts import Event

    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(16, status="active", speedClass="s1.standard")]
    per_minute = harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE
    # Another process recorded a storm, and died before it posted the summary.
    batch = [(Event("daily-traffic", "daily-traffic", imsi, limit_mib=100), harness.clock.now) for imsi in sims[:12]]
    taken = await harness.rt.db.run(record_batch, harness.rt.db, batch, per_minute)
    assert [t.starts for t in taken].count(True) == 1 and cards(harness) == []
    harness.clock.advance(20)  # a post may still be on its way: left to that process
    assert (await post(harness, event(sims[12]))).json()["result"] == "folded"
    await harness.local.settle()
    assert summaries(harness) == []
    harness.clock.advance(30)  # past the poster's patience: it died
    assert (await post(harness, event(sims[13]))).json()["result"] == "folded"
    await harness.local.settle()
    shown = summary_texts(harness)
    assert len(shown) == 1 and "14 SIMs crossed 100 MiB today" in shown[0], shown
    assert (await post(harness, event(sims[14]))).json()["result"] == "folded"
    await harness.local.settle()
    assert len(summaries(harness)) == 1  # posted once; edited after


async def a_storm_whose_summary_slack_refused(harness, count: int, folded: int | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """The rule's cards of a minute, then `folded` of `count` SIMs' deliveries (all the rest by default) folded into
    a storm whose summary Slack refused; the SIMs."""
    await ready(harness)
    sims = [s["imsi"] for s in harness.emulator.add_subscribers(count, status="active", speedClass="s1.standard")]
    per_minute = harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE
    for imsi in sims[:per_minute]:
        assert (await post(harness, event(imsi))).json()["result"] == "carded"
    harness.fake.fail_next("chat.postMessage", "internal_error")
    stormy = sims[per_minute:] if folded is None else sims[per_minute:per_minute + folded]
    answers = await asyncio.gather(*(post(harness, event(imsi)) for imsi in stormy))
    assert {r.json()["result"] for r in answers} == {"folded"}
    await harness.local.settle()
    assert summaries(harness) == []
    return sims


async def test_a_summary_slack_refused_in_a_storm_that_went_quiet_is_posted_by_a_sweep(harness, caplog) -> None:  # type: ignore[no-untyped-def]
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.app import job_sweeper
    from bot.local import LOCAL_BOT_TOKEN

    sims = await a_storm_whose_summary_slack_refused(harness, 13)
    assert "could not post storm summary" in caplog.text
    sweeper = job_sweeper(harness.rt, AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=harness.fake.api_url))
    await sweeper.sweep()
    await harness.local.settle()
    assert summaries(harness) == []  # Slack is given a few seconds
    harness.clock.advance(11)  # no delivery comes: the storm went quiet
    await sweeper.sweep()
    await harness.local.settle()
    shown = summary_texts(harness)
    assert len(shown) == 1 and f"{len(sims)} SIMs crossed 100 MiB today" in shown[0], shown
    await sweeper.sweep()
    await harness.local.settle()
    assert len(summaries(harness)) == 1  # posted once
    harness.fake.fail_next("chat.postMessage", "channel_not_found", times=100)
    harness.clock.advance(60)
    another = harness.emulator.add_subscribers(13, status="active", speedClass="s1.standard")
    for sim in another:
        await post(harness, event(sim["imsi"]))
    await harness.local.settle()
    harness.clock.advance(11 * 60)  # a storm Slack kept refusing, quiet for more than ten minutes: no more tries
    posts = len(harness.fake.calls_to("chat.postMessage"))
    await sweeper.sweep()
    await harness.local.settle()
    assert len(harness.fake.calls_to("chat.postMessage")) == posts


async def test_a_summary_slack_refused_is_posted_again_by_a_later_delivery(harness, caplog) -> None:  # type: ignore[no-untyped-def]
    sims = await a_storm_whose_summary_slack_refused(harness, 14, folded=1)
    per_minute = harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE
    assert "could not post storm summary" in caplog.text
    assert (await post(harness, event(sims[per_minute + 1]))).json()["result"] == "folded"
    await harness.local.settle()
    assert summaries(harness) == []  # given back to a delivery a few seconds on, not to the very next one
    harness.clock.advance(11)
    assert (await post(harness, event(sims[per_minute + 2]))).json()["result"] == "folded"
    await harness.local.settle()
    shown = summary_texts(harness)
    assert len(shown) == 1 and f"{per_minute + 3} SIMs crossed 100 MiB today" in shown[0], shown
