"""Alerts end to end: /alerts sets up Event Handler rules at the emulator, the emulator's web requests reach
POST /soracom/events over HTTP, cards land in the fake Slack, and their buttons change the emulator's SIMs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_core.testing import MockRequest, MockResponse

from bot.services import alerts, audit
from bot.services.alerts import TOKEN_HEADER
from handlers.views import alerts as views
from tests.conftest import ADMIN, OPERATOR, VIEWER

SENSOR_02, SENSOR_03 = "440100000000002", "440100000000003"
OPS = "C_OPS"
SERVER = "https://api.soracom.io"
CREDENTIALS = {"X-Soracom-API-Key": "api-key", "X-Soracom-Token": "token"}


def cards(harness) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Alert cards and storm summaries posted to the alert channel, in order."""
    return [c.args for c in harness.fake.calls_to("chat.postMessage")
            if c.args.get("channel") == OPS and (c.response or {}).get("ok") and any(b.get("block_id") in ("alert_buttons", "storm_buttons")
                                                      for b in _blocks(c.args))]


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def token(harness) -> str:  # type: ignore[no-untyped-def]
    return harness.rt.settings.BOT_EVENTS_TOKEN


async def send(harness, body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None):  # type: ignore[no-untyped-def]
    response = await harness.local.http.post(
        "/soracom/events", headers={TOKEN_HEADER: token(harness)} if headers is None else headers,
        content=raw if raw is not None else json.dumps(body).encode())
    await harness.local.settle()
    return response


def event(imsi: str, rule: str = "daily-traffic", **extra: Any) -> dict[str, Any]:
    return {"alert": rule, "rule": rule, "imsi": imsi, "operatorId": "OP0012345678", "limitMiB": 100, **extra}


async def ready(harness) -> None:  # type: ignore[no-untyped-def]
    """An alert channel and a daily-traffic rule of 100 MB at the emulator, made from Slack."""
    await harness.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
    await harness.command("/alerts setup daily-traffic 100MB", user=ADMIN)
    assert len(harness.emulator.event_handlers) == 1, harness.all_text()


async def test_an_emulator_rule_fires_one_card_and_slow_down_changes_the_speed_class(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    await harness.local.add_traffic("sensor-02", 60)
    assert cards(harness) == [] and len(harness.emulator.web_requests) == 0  # 60 MB: under the limit
    await harness.local.add_traffic("sensor-02", 60)
    [sent] = harness.emulator.web_requests
    assert sent["status"] == 200 and sent["url"] == "https://bot.example.test/soracom/events"
    [card] = cards(harness)
    text = json.dumps(_blocks(card))
    assert SENSOR_02 in text and "sensor-02" in text and "100 MiB" in text and "CustomerManagement" in text
    await harness.local.add_traffic("sensor-02", 60)  # the same day again: SORACOM fires once per day
    assert len(cards(harness)) == 1

    await harness.press(views.SLOW_ACTION, user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_02]["speedClass"] == "s1.minimum"
    [updated] = [c.args for c in harness.fake.calls_to("chat.update") if c.args.get("ts") == _ts(harness, card)]
    assert f"<@{OPERATOR}> slowed this SIM down" in json.dumps(_blocks(updated))
    entries = await audit.latest(harness.rt.db, 10)
    assert any(e.action == "sim.speed" and e.target == SENSOR_02 and e.result == "ok"
               and e.command.startswith("/alerts") for e in entries)


def _ts(harness, card: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    return next(c.response["ts"] for c in harness.fake.calls_to("chat.postMessage") if c.args is card)


async def test_suspend_goes_through_the_gate_and_asks_for_a_code(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    totp = await harness.enroll(OPERATOR)
    assert (await send(harness, event(SENSOR_03))).json()["result"] == "carded"
    await harness.press(views.SUSPEND_ACTION, user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_03]["status"] == "active"  # nothing before Confirm and the code
    await harness.press("pending_confirm", user=OPERATOR)
    assert harness.latest_view()["callback_id"] and harness.emulator.subscribers[SENSOR_03]["status"] == "active"
    harness.clock.advance(30)
    await harness.submit_code(harness.code(totp), user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_03]["status"] == "suspended"


async def test_a_viewer_pressing_slow_down_is_refused_and_audited(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    await send(harness, event(SENSOR_02))
    await harness.press(views.SLOW_ACTION, user=VIEWER)
    assert harness.emulator.subscribers[SENSOR_02]["speedClass"] == "s1.standard"
    entries = await audit.latest(harness.rt.db, 5)
    assert entries[0].action == "alerts.slow-down" and entries[0].result == "refused"
    await harness.press(views.SHOW_ACTION, user=VIEWER)  # reading is a viewer's
    assert "sensor-02" in harness.texts(VIEWER)[-1]


async def test_a_duplicate_delivery_posts_nothing_new(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    first = await send(harness, event(SENSOR_02, time=1_700_000_000_000))
    again = await send(harness, event(SENSOR_02, time=1_700_000_000_000))
    assert (first.json()["result"], again.json()["result"]) == ("carded", "duplicate")
    # Whoever holds the token cannot make the same SIM's crossing new by varying the time or the alert's suffix.
    for varied in (event(SENSOR_02, time=1_700_086_400_000), {**event(SENSOR_02), "alert": "daily-traffic@x1"},
                   event(SENSOR_02)):
        assert (await send(harness, varied)).json()["result"] == "duplicate"
    assert len(cards(harness)) == 1
    harness.clock.advance(24 * 3600)  # another day: another event
    assert (await send(harness, event(SENSOR_02, time=1_700_000_000_000))).json()["result"] == "carded"
    assert len(cards(harness)) == 2
    status = event(SENSOR_02, rule="status-change", oldStatus="active", newStatus="inactive")
    assert (await send(harness, status)).json()["result"] == "carded"  # another rule of the same SIM
    assert (await send(harness, {**status, "time": 9})).json()["result"] == "duplicate"
    reverse = {**status, "oldStatus": "inactive", "newStatus": "active"}
    assert (await send(harness, reverse)).json()["result"] == "carded"  # another change


async def test_two_hundred_events_in_a_minute_make_one_summary_card_with_a_bulk_slow_down(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    sims = harness.emulator.add_subscribers(200, status="active", speedClass="s1.standard")
    for sim in sims:
        assert (await send(harness, event(sim["imsi"]))).status_code == 200
    per_minute = harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE
    posted = cards(harness)
    summaries = [c for c in posted if any(b.get("block_id") == "storm_buttons" for b in _blocks(c))]
    assert len(posted) == per_minute + 1 and len(summaries) == 1
    last = [c.args for c in harness.fake.calls_to("chat.update")][-1]
    assert "200 SIMs crossed 100 MiB today" in last["text"]

    await harness.press(views.STORM_SLOW_ACTION, user=OPERATOR)
    assert all(harness.emulator.subscribers[s["imsi"]]["speedClass"] == "s1.standard" for s in sims)  # preview
    assert "200" in harness.texts(OPERATOR)[-1]
    await harness.press("pending_confirm", user=OPERATOR)
    assert all(harness.emulator.subscribers[s["imsi"]]["speedClass"] == "s1.minimum" for s in sims)


@pytest.mark.parametrize("headers", [{}, {TOKEN_HEADER: "wrong"}, {"Authorization": "Bearer x"}])
async def test_a_request_without_the_token_is_401_and_posts_nothing(harness, headers) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    response = await send(harness, event(SENSOR_02), headers=headers)
    assert response.status_code == 401 and cards(harness) == []
    assert (await send(harness, event(SENSOR_02))).json()["result"] == "carded"  # it was not recorded either


@pytest.mark.parametrize("raw", [b"not json", b"[]", json.dumps(event("123")).encode(),
                                 json.dumps(event(SENSOR_02, rule="reboot")).encode(),
                                 json.dumps(event(SENSOR_02, time="yesterday")).encode(),
                                 json.dumps({**event(SENSOR_02), "alert": "monthly-traffic"}).encode()])
async def test_a_bad_body_is_400_and_posts_nothing(harness, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    response = await send(harness, None, raw=raw)
    assert response.status_code == 400 and "error" in response.json() and cards(harness) == []


async def test_a_body_over_64_kb_is_413(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    response = await send(harness, None, raw=json.dumps({**event(SENSOR_02), "pad": "x" * 70_000}).encode())
    assert response.status_code == 413 and cards(harness) == []


async def test_muted_sims_and_rules_post_nothing(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    await harness.command("/alerts mute sensor-02 2h", user=OPERATOR)
    assert (await send(harness, event(SENSOR_02))).json()["result"] == "muted"
    await harness.command("/alerts mute daily-traffic", user=OPERATOR)
    assert (await send(harness, event(SENSOR_03))).json()["result"] == "muted"
    await harness.command("/alerts unmute daily-traffic", user=OPERATOR)
    await harness.command("/alerts unmute sensor-02", user=OPERATOR)
    harness.clock.advance(24 * 3600)  # SORACOM fires a daily rule again the next day
    assert (await send(harness, event(SENSOR_03, time=1))).json()["result"] == "carded"
    harness.clock.advance(3 * 3600)
    assert cards(harness) and (await send(harness, event(SENSOR_02, time=2))).json()["result"] == "carded"


async def test_mute_from_the_card_lasts_a_day(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    await send(harness, event(SENSOR_02, time=1))
    await harness.press(views.MUTE_ACTION, user=OPERATOR)
    status = event(SENSOR_02, rule="status-change", oldStatus="active", newStatus="inactive")
    assert (await send(harness, status)).json()["result"] == "muted"  # the SIM is muted, whatever its rule
    harness.clock.advance(24 * 3600 + 1)
    assert (await send(harness, event(SENSOR_02, time=3))).json()["result"] == "carded"


async def test_setup_creates_handlers_that_pass_the_official_spec(harness, openapi) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
    for line in ("daily-traffic 100MB", "monthly-traffic 2GB group:CustomerManagement", "status-change",
                 "session-disconnect", "expiry", "daily-traffic 200MB"):
        await harness.command(f"/alerts setup {line}", user=ADMIN)
    handlers = harness.emulator.event_handlers
    assert len(handlers) == 5  # the second daily-traffic updated the first
    writes = [r for r in harness.emulator.requests if r.operation_id in ("createEventHandler", "updateEventHandler")]
    assert len(writes) == 6 and all(r.status < 300 for r in writes)
    for request in writes:
        openapi.validate_request(MockRequest(SERVER, request.method.lower(), request.path, headers=CREDENTIALS,
                                             data=json.dumps(request.json).encode()))
    with pytest.raises(Exception, match="status|Invalid"):  # the check can fail: a value outside the spec's enum
        openapi.validate_request(MockRequest(SERVER, "post", writes[0].path, headers=CREDENTIALS,
                                             data=json.dumps({**writes[0].json, "status": "on"}).encode()))
    creates = [r for r in harness.emulator.requests if r.operation_id == "createEventHandler"]
    for made in handlers.values():  # as created, in order; each one's answer is an EventHandlerModel
        openapi.validate_response(MockRequest(SERVER, "post", creates[0].path),
                                  MockResponse(json.dumps(made).encode(), status_code=201,
                                               content_type="application/json"))
    daily = next(h for h in handlers.values() if h["name"] == "slackbot:daily-traffic")
    assert daily["ruleConfig"]["properties"]["limitTotalTrafficMegaByte"] == "200"
    [action] = daily["actionConfigList"]
    assert action["properties"]["headers"] == {TOKEN_HEADER: token(harness)}
    monthly = next(h for h in handlers.values() if h["name"].startswith("slackbot:monthly-traffic@"))
    assert monthly["targetGroupId"] and monthly["ruleConfig"]["properties"]["limitTotalTrafficMegaByte"] == "2048"
    await harness.command("/alerts list", user=VIEWER)
    listing = harness.texts(VIEWER)[-1]
    assert "daily-traffic" in listing and "expiry" in listing and token(harness) not in harness.all_text()


async def test_off_removes_the_rule_at_soracom(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    await harness.command("/alerts off daily-traffic", user=ADMIN)
    assert harness.emulator.event_handlers == {}
    await harness.command("/alerts off daily-traffic", user=ADMIN)
    assert "No alert rule `daily-traffic`" in harness.texts(ADMIN)[-1]


@pytest.mark.parametrize("line, says", [
    ("/alerts setup daily-traffic", "needs one limit"),
    ("/alerts setup daily-traffic lots", "is not a traffic limit"),
    ("/alerts setup reboot", "is not an alert rule"),
    ("/alerts setup expiry 100MB", "takes no limit"),
    ("/alerts setup daily-traffic 100MB group:Nowhere", "Nowhere"),
    ("/alerts mute sensor-02 forever", "is not a duration"),
    ("/alerts channel nowhere", "nowhere"),
])
async def test_bad_input_says_what_to_type_and_changes_nothing(harness, line: str, says: str) -> None:  # type: ignore[no-untyped-def]
    await harness.command(line, user=ADMIN)
    assert says in harness.texts(ADMIN)[-1]
    assert harness.emulator.event_handlers == {} and await alerts.AlertStore(harness.rt.db).mutes(harness.clock()) == []


async def test_only_admins_set_up_rules(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/alerts setup daily-traffic 100MB", user=OPERATOR)
    assert harness.emulator.event_handlers == {}
    assert (await audit.latest(harness.rt.db, 1))[0].result == "refused"


async def test_a_status_change_at_the_emulator_fires_a_status_rule(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/alerts channel <#{OPS}|ops>", user=ADMIN)
    await harness.command("/alerts setup status-change", user=ADMIN)
    await harness.command(f"/sim standby {'440100000000006'}", user=OPERATOR)
    [card] = cards(harness)
    assert "status changed from ready to standby" in card["text"]


async def test_a_card_slack_refused_is_posted_when_the_event_comes_again(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    harness.fake.fail_next("chat.postMessage", "channel_not_found")
    refused = await send(harness, event(SENSOR_02, time=5))
    assert refused.status_code == 502 and cards(harness) == []
    again = await send(harness, event(SENSOR_02, time=5))
    assert again.json()["result"] == "carded" and len(cards(harness)) == 1
    assert (await send(harness, event(SENSOR_02, time=5))).json()["result"] == "duplicate"


async def test_without_bot_events_token_the_endpoint_is_off() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from bot.web import events

    async def take(*_: object) -> events.Answer:
        raise AssertionError("nothing is taken while the endpoint is off")

    app = Starlette(middleware=[Middleware(events.SoracomEvents, token=None, take=take)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
        response = await http.post("/soracom/events", headers={TOKEN_HEADER: ""}, json=event(SENSOR_02))
    assert response.status_code == 404


def test_the_bot_user_policy_gains_exactly_the_event_handler_calls_alerts_make() -> None:
    from bot.services import account

    assert {p for p in account.bot_permissions() if p.startswith("EventHandler:")} == {
        "EventHandler:listEventHandlers", "EventHandler:createEventHandler", "EventHandler:updateEventHandler",
        "EventHandler:deleteEventHandler"}


async def test_a_storm_delivered_all_at_once_still_makes_one_summary_card(harness) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    await ready(harness)
    sims = harness.emulator.add_subscribers(60, status="active", speedClass="s1.standard")
    responses = await asyncio.gather(*(harness.local.http.post(
        "/soracom/events", headers={TOKEN_HEADER: token(harness)}, json=event(s["imsi"])) for s in sims))
    await harness.local.settle()
    assert all(r.status_code == 200 for r in responses)
    posted = cards(harness)
    summaries = [c for c in posted if any(b.get("block_id") == "storm_buttons" for b in _blocks(c))]
    assert len(summaries) == 1 and len(posted) <= harness.rt.settings.BOT_ALERT_STORM_PER_MINUTE + 1
    shown = [summaries[0]["text"], *(c.args["text"] for c in harness.fake.calls_to("chat.update"))]
    assert len(shown) < len(sims) and f"{len(sims)} SIMs crossed" in shown[-1]  # coalesced, and true at the end


async def test_a_hostile_sim_name_on_a_card_is_inert(harness) -> None:  # type: ignore[no-untyped-def]
    await ready(harness)
    harness.emulator.subscribers[SENSOR_02]["tags"]["name"] = "<!channel> *boom*"
    await send(harness, event(SENSOR_02))
    [card] = cards(harness)
    shown = card["text"] + json.dumps(_blocks(card))
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown


async def test_a_storms_summary_is_edited_at_most_once_per_interval(harness) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    interval = 0.3
    harness.rt.settings = harness.rt.settings.model_copy(update={"BOT_ALERT_STORM_UPDATE_SECONDS": interval})
    await ready(harness)
    sims = harness.emulator.add_subscribers(80, status="active", speedClass="s1.standard")
    for batch in (sims[:40], sims[40:]):  # two waves, so that edits are asked for while one is waited on
        await asyncio.gather(*(harness.local.http.post(
            "/soracom/events", headers={TOKEN_HEADER: token(harness)}, json=event(s["imsi"])) for s in batch))
    await harness.local.settle()
    updates = harness.fake.calls_to("chat.update")
    assert updates and f"{len(sims)} SIMs crossed" in updates[-1].args["text"]  # the last edit tells the truth
    gaps = [later.time - earlier.time for earlier, later in zip(updates, updates[1:])]
    assert all(gap >= interval * 0.95 for gap in gaps), gaps


async def test_a_delivery_forgets_alert_rows_older_than_90_days(harness) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlmodel import select

    from bot.services.alerts import AlertStore, Event
    from bot.store.tables import AlertEvent

    await ready(harness)
    store = AlertStore(harness.rt.db)
    await store.record(Event("daily-traffic", "daily-traffic", SENSOR_03), harness.clock.now - timedelta(days=91))
    assert (await send(harness, event(SENSOR_02))).json()["result"] == "carded"
    with harness.rt.db.session() as session:
        assert [row.imsi for row in session.exec(select(AlertEvent))] == [SENSOR_02]
