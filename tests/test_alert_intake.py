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
