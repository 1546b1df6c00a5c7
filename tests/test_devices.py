"""/sim diagnose, ping, reconnect and sms end to end: signed requests in, the emulator's device model behind the
client, the stand-in as Slack; assertions on what the emulator now holds, what Slack was sent and the audit rows."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings

from bot.services import audit
from bot.services import devices as device_service
from handlers.views import devices as views
from tests.conftest import ADMIN, OPERATOR, VIEWER

SENSOR_02, SENSOR_05, TRACKER_02, METER_02 = "440100000000002", "440100000000005", "440100000000013", \
    "440100000000015"
UNKNOWN = "440109999999999"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The harness of this module runs on SQLite and on PostgreSQL."""
    return Settings(_env_file=None, DATABASE_URL=database_url,  # type: ignore[call-arg]
                    BOT_DATA_DIR=str(tmp_path / "data"), BOT_ADMINS=ADMIN, BOT_PUBLIC_URL="https://bot.example.test")


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """SORACOM's diagnosis is read again without the real wait between reads."""
    monkeypatch.setattr(device_service, "DIAGNOSIS_INTERVAL", 0.0)


def device(harness, imsi: str):  # type: ignore[no-untyped-def]
    return harness.emulator.devices[imsi]


def calls(harness, operation_id: str) -> list:  # type: ignore[no-untyped-def]
    return [r for r in harness.emulator.requests if r.operation_id == operation_id]


def ephemerals(harness, user: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return harness.fake.ephemerals(user)


def message_text(message: dict[str, Any]) -> str:
    from tests.harness import _all_text

    return _all_text(message.get("blocks") or []) + " " + message.get("text", "")


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {e["action_id"]: e.get("value", "") for b in message.get("blocks") or [] for e in b.get("elements", [])
            if e.get("type") == "button"}


async def rows(harness, action: str) -> list[audit.AuditEntry]:  # type: ignore[no-untyped-def]
    return [e for e in await audit.latest(harness.rt.db, 100) if e.action == action]


async def diagnosed(harness, target: str, user: str = VIEWER) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim diagnose {target}", user=user)
    shown = ephemerals(harness, user)
    assert shown, harness.all_text()
    return shown[-1]


# Diagnose: each verdict


async def test_a_quiet_device_gets_one_message_updated_with_sorcoms_diagnosis_and_reconnect_ping(harness) -> None:  # type: ignore[no-untyped-def]
    message = await diagnosed(harness, "meter-02")
    text = message_text(message)
    assert len(ephemerals(harness, VIEWER)) == 1, "the diagnosis updates the first answer, no second message"
    assert "quiet since" in text and re.search(r"\([45] h ago\)", text)  # went quiet 5 h before the seed's now
    times = re.findall(r"\b\d{1,2}:\d{2}\b(?: [A-Z]{3})?", text)
    assert times and all(moment.endswith(" JST") for moment in times), times  # BOT_TIMEZONE's label on every time
    assert "The device has had no data session for a while." in text  # SORACOM's insight, from the catalogue
    assert "openstreetmap.org/?mlat=35.62580&amp;mlon=139.72370" in text  # the cell's place, located by SORACOM
    assert "TAC 5840 ECI 44668480" in text and "*ended*" in text
    assert set(buttons(message)) == {views.RECONNECT_ACTION, views.PING_ACTION, views.SMS_ACTION}
    assert "/sim sms meter-02 TEXT" in text
    for operation in ("listSessionEvents", "batchGetCellLocations", "listSimStatusHistory", "getAirStats",
                      "sendDiagnosticRequest", "getDiagnostic"):
        assert calls(harness, operation), operation
    first_update = [c for c in harness.fake.calls if c.method == "response_url"]
    assert len(first_update) == 2 and first_update[1].args.get("replace_original") in (True, "true")
    assert "SORACOM is diagnosing" in message_text(first_update[0].args)


async def test_the_reads_of_a_diagnosis_run_concurrently(harness) -> None:  # type: ignore[no-untyped-def]
    harness.emulator.faults.latency = 0.05
    await diagnosed(harness, METER_02)
    assert harness.emulator.peak_concurrency >= 4


async def test_an_inactive_sim_offers_activate_and_the_press_activates_it(harness) -> None:  # type: ignore[no-untyped-def]
    message = await diagnosed(harness, "sensor-05", user=OPERATOR)
    assert "The SIM is *inactive*" in message_text(message)
    assert buttons(message) == {views.ACTIVATE_ACTION: SENSOR_05}
    await harness.press(views.ACTIVATE_ACTION, user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_05]["status"] == "active"
    assert device(harness, SENSOR_05).history[-1]["status"] == "active"
    [row] = await rows(harness, "sim.activate")
    assert (row.user_id, row.target, row.result) == (OPERATOR, SENSOR_05, "ok")


async def test_a_viewer_pressing_activate_is_refused_and_audited(harness) -> None:  # type: ignore[no-untyped-def]
    await diagnosed(harness, "sensor-05", user=VIEWER)
    await harness.press(views.ACTIVATE_ACTION, user=VIEWER)
    assert harness.emulator.subscribers[SENSOR_05]["status"] == "inactive"
    assert not calls(harness, "activateSubscriber")
    [row] = await rows(harness, "sim.activate")
    assert (row.user_id, row.result) == (VIEWER, "refused")


async def test_an_imei_mismatch_is_explained(harness) -> None:  # type: ignore[no-untyped-def]
    text = message_text(await diagnosed(harness, "tracker-02"))
    assert "locked to IMEI `352099001761481`" in text and "`350000000000013`" in text
    assert "*mismatch*" in text
    assert "refused" in text  # SORACOM's insight, in the catalogue's words
    assert "place unknown" in text  # its cell is one SORACOM cannot locate
    assert not buttons(ephemerals(harness, VIEWER)[-1])  # reconnecting or waking it cannot help while locked


async def test_a_slowed_sim_offers_restore_speed(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim speed sensor-02 s1.minimum", user=OPERATOR)
    message = await diagnosed(harness, "sensor-02", user=OPERATOR)
    assert "s1.minimum" in message_text(message) and views.RESTORE_ACTION in buttons(message)
    await harness.press(views.RESTORE_ACTION, user=OPERATOR)
    assert harness.emulator.subscribers[SENSOR_02]["speedClass"] == "s1.standard"
    assert [r.result for r in await rows(harness, "sim.speed")] == ["ok", "ok"]


async def test_the_status_history_names_who_changed_it_through_the_bot(harness) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from bot.store.tables import AuditEvent

    await harness.command("/sim standby sensor-06", user=OPERATOR)
    assert harness.emulator.subscribers["440100000000006"]["status"] == "standby"
    # Audit rows carry the real clock, the emulator the test's: in production both are the one clock.
    with harness.rt.db.session() as session:
        row = session.exec(select(AuditEvent).where(AuditEvent.action == "sim.standby")).one()
        row.at = harness.clock.now
        session.add(row)
        session.commit()
    text = message_text(await diagnosed(harness, "sensor-06"))
    assert "standby, s1.standard, by <@U_OP>" in text


async def test_a_healthy_device_gets_no_buttons(harness) -> None:  # type: ignore[no-untyped-def]
    message = await diagnosed(harness, "sensor-02")
    assert "connected and nothing looks wrong" in message_text(message)
    assert "No problem was found." in message_text(message)
    assert not buttons(message)


async def test_an_unknown_sim_is_told_privately(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim diagnose nosuch-99", user=VIEWER)
    await harness.command(f"/sim diagnose {UNKNOWN}", user=VIEWER)
    await harness.command("/sim diagnose status:active", user=VIEWER)
    await harness.command("/sim ping", user=VIEWER)
    text = harness.all_text()
    assert "Type `/sim ping TARGET`" in text
    assert "No SIM is named `nosuch-99`" in text and f"no SIM with IMSI `{UNKNOWN}`" in text
    assert "one SIM at a time" in text
    assert not calls(harness, "sendDiagnosticRequest")


async def test_soracom_failing_mid_way_says_what_could_not_be_read(harness) -> None:  # type: ignore[no-untyped-def]
    harness.emulator.faults.fail_next("GET", r"/events/sessions", status=403)
    harness.emulator.faults.fail_next("GET", r"/diagnostics/", status=404)
    text = message_text(await diagnosed(harness, "meter-02"))
    assert "Could not read from SORACOM: session events" in text
    assert "SORACOM's diagnosis could not be read" in text
    assert "Traffic, last 24 h" in text and "Status history" in text  # the rest stands
    assert "Traceback" not in harness.all_text()


async def test_a_slow_read_is_left_out_of_the_first_answer(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(device_service, "READ_BUDGET", 0.3)
    harness.emulator.faults.delay_next("GET", r"/statuses/history", 2.0)
    text = message_text(await diagnosed(harness, "meter-02"))
    assert "Could not read from SORACOM: status history" in text
    assert "Last sessions" in text


async def test_a_diagnosis_that_does_not_finish_says_so(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(device_service, "DIAGNOSIS_POLLS", 3)
    harness.emulator.diagnosis_polls = 100
    text = message_text(await diagnosed(harness, "meter-02"))
    assert "did not finish in time" in text
    assert len(calls(harness, "getDiagnostic")) == 3


async def test_diagnose_in_japanese(harness) -> None:  # type: ignore[no-untyped-def]
    harness.fake.set_locale(VIEWER, "ja-JP")
    text = message_text(await diagnosed(harness, "meter-02"))
    assert "の診断" in text and "から通信していません" in text and "しばらくデータセッションがありません" in text
    assert buttons(ephemerals(harness, VIEWER)[-1])


# Ping


async def test_ping_an_online_device_and_a_quiet_one(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim ping sensor-02", user=VIEWER)
    await harness.command("/sim ping meter-02", user=VIEWER)
    texts = [message_text(m) for m in ephemerals(harness, VIEWER)]
    assert "*5/5* replies, loss 0%" in texts[0] and "ms*" in texts[0]
    assert "*no reply*" in texts[1] and "loss 100%" in texts[1]
    assert [r.json for r in calls(harness, "subscriberDownlinkPingToUserEquipment")][0] == \
        {"numberOfPingRequests": 5, "timeoutSeconds": 2}


async def test_the_ping_button_of_a_diagnosis(harness) -> None:  # type: ignore[no-untyped-def]
    await diagnosed(harness, "meter-02")
    await harness.press(views.PING_ACTION, user=VIEWER)
    assert "*no reply*" in message_text(ephemerals(harness, VIEWER)[-1])


# Reconnect


async def test_reconnect_ends_the_session_and_the_device_attaches_again(harness) -> None:  # type: ignore[no-untyped-def]
    before = harness.emulator.subscribers[SENSOR_02]["sessionStatus"]["sessionId"]
    await harness.command("/sim reconnect sensor-02", user=OPERATOR)
    events = device(harness, SENSOR_02).events
    assert [(e["event"], e["sessionId"]) for e in events[-2:]][0] == ("Deleted", before)
    assert events[-1]["event"] == "Created" and events[-1]["sessionId"] != before
    assert harness.emulator.subscribers[SENSOR_02]["sessionStatus"]["sessionId"] == events[-1]["sessionId"]
    [row] = await rows(harness, "sim.reconnect")
    assert (row.user_id, row.target, row.result) == (OPERATOR, SENSOR_02, "ok")
    assert any("Data session ended" in m.get("text", "") for m in harness.fake.messages("C_OPS"))


async def test_a_viewer_cannot_reconnect(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim reconnect sensor-02", user=VIEWER)
    assert not calls(harness, "deleteSubscriberSession")
    [row] = await rows(harness, "sim.reconnect")
    assert (row.user_id, row.result) == (VIEWER, "refused")
    assert "operator" in message_text(ephemerals(harness, VIEWER)[-1])


async def test_the_reconnect_button_reads_the_role_again(harness) -> None:  # type: ignore[no-untyped-def]
    from bot.security.roles import Role
    from bot.services.roles import set_role

    await diagnosed(harness, "meter-02", user=OPERATOR)
    await set_role(harness.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)
    await harness.press(views.RECONNECT_ACTION, user=OPERATOR)
    assert not calls(harness, "deleteSubscriberSession")
    await set_role(harness.rt.db, OPERATOR, Role.operator, granted_by=ADMIN)
    await harness.press(views.RECONNECT_ACTION, user=OPERATOR)
    assert len(calls(harness, "deleteSubscriberSession")) == 1
    assert [r.result for r in await rows(harness, "sim.reconnect")] == ["ok", "refused"]


async def test_reconnect_when_soracom_does_not_answer_is_unknown(harness) -> None:  # type: ignore[no-untyped-def]
    harness.emulator.faults.fail_next("POST", r"/delete_session$", status=500)
    await harness.command("/sim reconnect sensor-02", user=OPERATOR)
    assert len(calls(harness, "deleteSubscriberSession")) == 1  # not repeated: it would end the new session
    [row] = await rows(harness, "sim.reconnect")
    assert row.result == "unknown"
    assert "may or may not" in message_text(ephemerals(harness, OPERATOR)[-1])


# SMS


async def test_sms_in_gsm_7_bit_is_stored_and_audited_without_its_text(harness) -> None:  # type: ignore[no-untyped-def]
    secret = "reboot pin=4711 it's {ok}"
    await harness.command(f"/sim sms sensor-02 {secret}", user=OPERATOR)
    [sms] = device(harness, SENSOR_02).sms
    assert (sms["payload"], sms["encodingType"]) == (secret, 1)
    [row] = await rows(harness, "sim.sms")
    assert (row.user_id, row.target, row.result) == (OPERATOR, SENSOR_02, "ok")
    assert row.error == (f"{len(secret) + 2} characters, encodingType 1, "
                         f"sha256 {hashlib.sha256(secret.encode()).hexdigest()}")  # { and } take two each
    for entry in await audit.latest(harness.rt.db, 100):
        assert "4711" not in f"{entry.command} {entry.target} {entry.error}"
    assert any("SMS sent" in m.get("text", "") and "4711" not in m.get("text", "")
               for m in harness.fake.messages("C_OPS"))


async def test_sms_with_japanese_goes_as_ucs2(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim sms sensor-02 起きてください", user=OPERATOR)
    [sms] = device(harness, SENSOR_02).sms
    assert (sms["payload"], sms["encodingType"]) == ("起きてください", 2)


@pytest.mark.parametrize(("text", "length", "limit"), [
    ("a" * 161, 161, 160),
    ("€" * 81, 162, 160),
    ("あ" * 71, 71, 70),
])
async def test_an_sms_past_its_limit_is_refused_with_the_count(harness, text: str, length: int, limit: int) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim sms sensor-02 {text}", user=OPERATOR)
    said = message_text(ephemerals(harness, OPERATOR)[-1])
    assert f"{length} characters" in said and f"allows {limit}" in said
    assert not calls(harness, "sendSms") and not device(harness, SENSOR_02).sms
    [row] = await rows(harness, "sim.sms")
    assert row.result == "refused" and text not in f"{row.command} {row.target} {row.error}"


async def test_sms_at_the_limit_is_sent(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim sms sensor-02 " + "a" * 160, user=OPERATOR)
    await harness.command("/sim sms sensor-02 " + "あ" * 70, user=OPERATOR)
    assert [m["encodingType"] for m in device(harness, SENSOR_02).sms] == [1, 2]


async def test_a_viewer_cannot_send_sms(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim sms sensor-02 hello", user=VIEWER)
    assert not calls(harness, "sendSms") and not device(harness, SENSOR_02).sms
    [row] = await rows(harness, "sim.sms")
    assert (row.result, row.target) == ("refused", "sensor-02")
    assert "hello" not in row.command


async def test_sms_refused_by_soracom_is_told_plainly(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim sms sensor-01 hello", user=OPERATOR)  # plan-KM1: a data-only SIM
    said = message_text(ephemerals(harness, OPERATOR)[-1])
    assert "Could not send the SMS" in said and "does not support SMS" in said
    [row] = await rows(harness, "sim.sms")
    assert row.result == "failed"


def sms_answer(text: str) -> dict[str, Any]:
    return {views.SMS_BLOCK_ID: {views.SMS_INPUT_ID: {"type": "plain_text_input", "value": text}}}


async def test_the_send_sms_button_asks_for_the_text_and_sends_it(harness) -> None:  # type: ignore[no-untyped-def]
    await diagnosed(harness, "meter-02", user=OPERATOR)
    await harness.press(views.SMS_ACTION, user=OPERATOR)
    response = await harness.submit(sms_answer("x" * 161), user=OPERATOR)
    assert "161 characters" in response.text and not device(harness, METER_02).sms  # told on the input
    await harness.submit(sms_answer("wake up, it's 9"), user=OPERATOR)
    [sms] = device(harness, METER_02).sms
    assert (sms["payload"], sms["encodingType"]) == ("wake up, it's 9", 1)
    [row] = await rows(harness, "sim.sms")
    assert (row.result, row.target) == ("ok", METER_02) and "wake" not in f"{row.command} {row.error}"
    assert any("SMS sent" in m.get("text", "") for m in harness.fake.messages("C_OPS"))


async def test_the_send_sms_modal_reads_the_role_again(harness) -> None:  # type: ignore[no-untyped-def]
    from bot.security.roles import Role
    from bot.services.roles import set_role

    await diagnosed(harness, "meter-02", user=OPERATOR)
    await harness.press(views.SMS_ACTION, user=OPERATOR)
    await set_role(harness.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)
    await harness.submit(sms_answer("wake up"), user=OPERATOR)
    assert not device(harness, METER_02).sms and not calls(harness, "sendSms")
    [row] = await rows(harness, "sim.sms")
    assert (row.user_id, row.result) == (OPERATOR, "refused")


# Alert cards and Home


async def test_diagnose_on_an_alert_card_goes_privately_to_the_presser(harness) -> None:  # type: ignore[no-untyped-def]
    from tests.test_alerts import cards, ready

    await ready(harness)
    await harness.local.add_traffic("sensor-02", 150)
    [card] = cards(harness)
    assert views.DIAGNOSE_ACTION in {e.get("action_id") for b in card["blocks"] for e in b.get("elements", [])}
    await harness.press(views.DIAGNOSE_ACTION, user=VIEWER, value=SENSOR_02)
    dm = harness.fake.messages(harness.fake._dm_channel(VIEWER))
    assert len(dm) == 1 and "Diagnosis of" in dm[0]["text"]
    assert "No problem was found." in message_text(dm[0])  # updated in place once SORACOM's diagnosis was done
    assert not [c for c in harness.fake.calls_to("chat.postMessage")
                if c.args.get("channel") == "C_OPS" and "Diagnosis" in c.args.get("text", "")]


async def test_a_device_that_just_went_offline_is_not_called_healthy(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.local.device("sensor-02", "offline")
    assert device(harness, SENSOR_02).events[-1]["event"] == "Deleted"
    message = await diagnosed(harness, "sensor-02")
    assert "went offline at" in message_text(message) and "nothing looks wrong" not in message_text(message)
    assert set(buttons(message)) == {views.RECONNECT_ACTION, views.PING_ACTION, views.SMS_ACTION}
    await harness.local.device("sensor-02", "online")
    assert harness.emulator.subscribers[SENSOR_02]["sessionStatus"]["online"]


async def test_home_lists_sims_that_went_offline_with_diagnose(harness) -> None:  # type: ignore[no-untyped-def]
    from bot.services import fleet

    rt = harness.rt
    await fleet.refresh(rt.db, rt.soracom, owner="test", clock=rt.clock, zone=rt.settings.timezone)
    assert harness.local.sender is not None
    await harness.local.sender.event({"type": "app_home_opened", "user": VIEWER, "tab": "home"})
    await harness.local.settle()
    home = harness.fake.homes[VIEWER]
    quiet = {b["accessory"]["value"] for b in home["blocks"]
             if (b.get("accessory") or {}).get("action_id") == views.DIAGNOSE_ACTION}
    assert quiet == {METER_02}  # offline 5 h; the others went quiet days ago or are online
    await harness.press(views.DIAGNOSE_ACTION, user=VIEWER, value=METER_02)
    [dm] = harness.fake.messages(harness.fake._dm_channel(VIEWER))
    assert "meter-02" in dm["text"] and "quiet since" in message_text(dm)
