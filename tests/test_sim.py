"""/sim end to end: signed requests in, the stand-in as Slack, assertions on the emulator's SIM state."""

from __future__ import annotations

import re
from datetime import timezone

import pytest

from bot.emulator import FIELD_GROUP_ID, SEED_GROUP_ID
from bot.services import audit
from handlers.views.sim import human_bytes
from tests.conftest import OPERATOR, VIEWER

SENSOR_01, SENSOR_02, SENSOR_03 = "440100000000001", "440100000000002", "440100000000003"
SENSOR_05, SENSOR_06, SENSOR_09 = "440100000000005", "440100000000006", "440100000000009"
GATEWAYS = ("440100000000010", "440100000000011")
METER_01, METER_02, RETIRED_01 = "440100000000014", "440100000000015", "440100000000024"
SPARES = ("440100000000006", "440100000000021", "440100000000022")  # the ready SIMs
CHANGING = frozenset({"POST", "PUT", "DELETE"})
IMSI_IN_TEXT = re.compile(r"`(\d{15})`")


def sim(harness, imsi: str) -> dict:  # type: ignore[no-untyped-def]
    return harness.emulator.subscribers[imsi]


def changes(harness) -> list:  # type: ignore[no-untyped-def]
    """Every request that could change something at SORACOM (authenticating aside)."""
    return [r for r in harness.emulator.requests
            if r.method in CHANGING and r.operation_id not in ("auth", "generateAuthToken")]


def calls(harness, operation_id: str, imsi: str | None = None) -> list:  # type: ignore[no-untyped-def]
    return [r for r in harness.emulator.requests
            if r.operation_id == operation_id and (imsi is None or f"/{imsi}/" in r.path + "/")]


def private(harness) -> str:  # type: ignore[no-untyped-def]
    """What the bot showed only to the person who asked."""
    texts = harness.texts()
    return "\n".join(texts[i] for i, c in enumerate(harness.fake.calls)
                     if c.method == "chat.postEphemeral" or (c.method == "response_url"
                                                             and c.args.get("response_type") != "in_channel"))


def posted(harness) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.args.get("text", "") for c in harness.fake.calls_to("chat.postMessage")]


def latest_list(harness) -> list[dict]:  # type: ignore[no-untyped-def]
    """The blocks of the newest reply that shows list rows."""
    for call in reversed(harness.fake.calls):
        blocks = call.args.get("blocks") or []
        if any(b.get("type") == "section" and " · " in (b.get("text") or {}).get("text", "") for b in blocks):
            return blocks
    raise AssertionError("no list was shown")


def shown_imsis(harness) -> list[str]:  # type: ignore[no-untyped-def]
    rows = [b["text"]["text"] for b in latest_list(harness) if b.get("type") == "section" and "text" in b]
    return IMSI_IN_TEXT.findall("\n".join(row for row in rows if " · " in row))


def has_button(harness, action_id: str) -> bool:  # type: ignore[no-untyped-def]
    return any(e.get("action_id") == action_id for b in latest_list(harness) for e in b.get("elements", []))


async def confirm_with_code(harness, totp) -> None:  # type: ignore[no-untyped-def]
    await harness.press("pending_confirm", user=OPERATOR)
    harness.clock.advance(30)  # a fresh code: each is accepted once
    await harness.submit_code(harness.code(totp), user=OPERATOR)


# Reading


async def test_list_counts_by_status_then_pages(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim list", user=VIEWER)
    text = harness.all_text()
    assert "*25 SIMs*" in text and "active *13*" in text and "ready *3*" in text and "terminated *2*" in text
    assert shown_imsis(harness) == [f"4401000000000{n:02d}" for n in range(1, 21)]
    assert "CustomerManagement" in text and "FieldTest" in text and "s1.4xfast" in text and "online" in text
    page_calls = [r for r in calls(harness, "listSubscribers") if r.query.get("limit") == "20"]
    assert len(page_calls) == 1  # the page asks for what it shows, no more

    await harness.press("sim_list_next", user=VIEWER)
    assert shown_imsis(harness) == [f"4401000000000{n:02d}" for n in range(21, 26)]
    assert "SIMs 21–25 of 25" in harness.all_text()
    assert has_button(harness, "sim_list_prev") and not has_button(harness, "sim_list_next")
    await harness.press("sim_list_prev", user=VIEWER)
    assert shown_imsis(harness) == [f"4401000000000{n:02d}" for n in range(1, 21)]
    assert not changes(harness)


async def test_list_pages_through_a_locally_filtered_fleet(harness) -> None:  # type: ignore[no-untyped-def]
    added = harness.emulator.add_subscribers(130, groupId=FIELD_GROUP_ID)
    for index, sub in enumerate(added):
        sub["status"] = "active" if index % 3 else "inactive"
    expected = sorted(i for i, s in harness.emulator.subscribers.items()
                      if s["groupId"] == FIELD_GROUP_ID and s["status"] == "active")
    await harness.command("/sim list group:FieldTest status:active", user=VIEWER)
    assert f"*{len(expected)} SIMs* matching `group:FieldTest status:active`" in harness.all_text()
    seen = shown_imsis(harness)
    while has_button(harness, "sim_list_next"):
        await harness.press("sim_list_next", user=VIEWER)
        seen += shown_imsis(harness)
    assert seen == expected  # every matching SIM once, in order, none skipped at API page borders


async def test_list_with_tag_and_status_selectors(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim list tag:name=gateway status:inactive", user=VIEWER)
    assert shown_imsis(harness) == [GATEWAYS[1]]
    assert "inactive *1*" in harness.all_text()


async def test_show_has_everything_and_this_months_traffic(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim show sensor-03", user=VIEWER)
    text = harness.all_text()
    sub = sim(harness, SENSOR_03)
    for value in (SENSOR_03, sub["iccid"], sub["msisdn"], "plan01s", "s1.fast", "CustomerManagement",
                  "35.6258, 139.7237", sub["sessionStatus"]["imei"], "Termination protection", "name=sensor-03"):
        assert value in text, value
    start = harness.clock.now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    samples = [by_class for at, by_class in harness.emulator.air_stats[SENSOR_03].items() if at >= start]
    up = sum(s["uploadByteSizeTotal"] for by_class in samples for s in by_class.values())
    down = sum(s["downloadByteSizeTotal"] for by_class in samples for s in by_class.values())
    assert up and f"↑ {human_bytes(up)} · ↓ {human_bytes(down)}" in text
    assert not changes(harness)


async def test_show_by_imsi_and_human_units(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim show {SENSOR_09}", user=VIEWER)
    assert "terminated" in harness.all_text() and "not available" in harness.all_text()
    assert [human_bytes(n) for n in (512, 1_500, 2_345_678, 7_000_000_000)] == ["512 B", "1.5 kB", "2.3 MB", "7.0 GB"]


# One SIM, not gated: done at once, told to the channel


async def test_activate_and_standby_one_sim(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim activate sensor-05")
    assert sim(harness, SENSOR_05)["status"] == "active"
    await harness.command(f"/sim standby {SPARES[1]}")
    assert sim(harness, SPARES[1])["status"] == "standby"
    assert any("Activate" in p and SENSOR_05 in p and "was `inactive`" in p for p in posted(harness))
    assert any("Set to standby" in p and SPARES[1] in p for p in posted(harness))
    entries = await audit.latest(harness.rt.db, 5)
    assert [(e.action, e.target, e.result) for e in entries[:2]] == [
        ("sim.standby", SPARES[1], "ok"), ("sim.activate", SENSOR_05, "ok")]


async def test_a_refused_change_is_private_and_audited(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim standby {SENSOR_03}")  # active SIMs cannot go to standby
    assert sim(harness, SENSOR_03)["status"] == "active"
    assert "cannot change from active to standby" in private(harness)
    assert not posted(harness)
    entry = (await audit.latest(harness.rt.db, 1))[0]
    assert (entry.action, entry.target, entry.result) == ("sim.standby", SENSOR_03, "failed")


async def test_tag_and_untag(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim tag sensor-01 site=osaka floor=3")
    assert sim(harness, SENSOR_01)["tags"] == {"name": "sensor-01", "site": "osaka", "floor": "3"}
    await harness.command("/sim untag sensor-01 floor")
    assert sim(harness, SENSOR_01)["tags"] == {"name": "sensor-01", "site": "osaka"}
    assert len(posted(harness)) == 2


async def test_group_by_name_and_id_then_ungroup(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim group sensor-05 FieldTest")
    assert sim(harness, SENSOR_05)["groupId"] == FIELD_GROUP_ID
    await harness.command(f"/sim group sensor-05 {SEED_GROUP_ID}")
    assert sim(harness, SENSOR_05)["groupId"] == SEED_GROUP_ID
    await harness.command("/sim ungroup sensor-05")
    assert sim(harness, SENSOR_05)["groupId"] is None
    assert any("`FieldTest`" in p for p in posted(harness))


async def test_speed_class(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim speed meter-01 s1.fast")
    assert sim(harness, METER_01)["speedClass"] == "s1.fast"
    await harness.command("/sim speed sensor-01 s1.fast")  # plan-KM1 has one speed class
    assert sim(harness, SENSOR_01)["speedClass"] == "t1.standard"
    assert "not available for plan-KM1" in private(harness)


async def test_imei_lock_then_gated_unlock(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim imei-lock sensor-01 353456789012345")
    assert sim(harness, SENSOR_01)["imeiLock"] == {"imei": "353456789012345"}
    totp = await harness.enroll(OPERATOR)
    await harness.command("/sim imei-unlock sensor-01")
    assert sim(harness, SENSOR_01)["imeiLock"] == {"imei": "353456789012345"}  # nothing before the code
    await confirm_with_code(harness, totp)
    assert sim(harness, SENSOR_01)["imeiLock"] is None


# Gated: deactivate, suspend, terminate (and IMEI unlock above) ask for a code


async def test_gated_change_needs_an_enrollment(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim deactivate sensor-02")
    assert "/mfa enroll" in private(harness)
    assert sim(harness, SENSOR_02)["status"] == "active" and not changes(harness)
    assert (await audit.latest(harness.rt.db, 1))[0].result == "refused"


async def test_deactivate_and_suspend_with_a_code(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/sim deactivate sensor-02")
    assert "inactive` SIMs are still billed" in private(harness)
    await confirm_with_code(harness, totp)
    assert sim(harness, SENSOR_02)["status"] == "inactive"
    await harness.command("/sim suspend meter-02")
    await confirm_with_code(harness, totp)
    assert sim(harness, METER_02)["status"] == "suspended"
    await harness.command("/sim activate meter-02 sensor-02")
    assert "leaving `suspended` costs a reactivation fee" in private(harness)
    assert sim(harness, METER_02)["status"] == "suspended"


async def test_terminate_asks_for_a_code_and_lifts_protection(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/sim terminate sensor-02")
    preview = private(harness)
    assert "Terminating is final" in preview and "Termination protection is *on* for 1 of 1" in preview
    await harness.press("pending_confirm", user=OPERATOR)
    view = harness.latest_view()
    harness.clock.advance(30)
    wrong = "000000" if harness.code(totp) != "000000" else "111111"
    response = await harness.submit_code(wrong, user=OPERATOR, view=view)
    assert response.json()["response_action"] == "errors"
    assert sim(harness, SENSOR_02)["status"] == "active" and not sim(harness, SENSOR_02)["terminationEnabled"]
    assert not changes(harness)

    await harness.submit_code(harness.code(totp), user=OPERATOR, view=view)
    assert sim(harness, SENSOR_02)["status"] == "terminated"
    assert [r.operation_id for r in changes(harness)] == ["enableTermination", "terminateSubscriber"]
    assert any("Terminate" in p and SENSOR_02 in p for p in posted(harness))
    results = [(e.action, e.result) for e in await audit.latest(harness.rt.db, 5) if e.action == "sim.terminate"]
    assert results == [("sim.terminate", "ok"), ("sim.terminate", "refused")]


async def test_protection_is_put_back_when_terminate_fails(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    harness.emulator.faults.fail_next("POST", r"/terminate$", status=400,
                                      body={"code": "SEM9999", "message": "Injected refusal."})
    await harness.command("/sim terminate meter-01")
    await confirm_with_code(harness, totp)
    assert sim(harness, METER_01)["status"] == "active"
    assert sim(harness, METER_01)["terminationEnabled"] is False  # protection back on
    assert [(r.operation_id, r.status) for r in changes(harness)] == [
        ("enableTermination", 200), ("terminateSubscriber", 400), ("disableTermination", 200)]
    assert "Injected refusal" in harness.all_text()
    entry = (await audit.latest(harness.rt.db, 1))[0]
    assert (entry.action, entry.result, entry.target) == ("sim.terminate", "failed", METER_01)


async def test_gated_bulk_takes_one_code_for_all(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/sim suspend meter-01 meter-02")
    assert "*Suspend* — 2 SIMs" in private(harness) and not changes(harness)
    await confirm_with_code(harness, totp)
    assert sim(harness, METER_01)["status"] == sim(harness, METER_02)["status"] == "suspended"
    assert "all 2 SIMs done" in harness.fake.calls_to("chat.update")[-1].args["text"]
    entries = [(e.target, e.result) for e in await audit.latest(harness.rt.db, 5) if e.action == "sim.suspend"]
    assert sorted(entries) == [(METER_01, "ok"), (METER_02, "ok")]


# Several SIMs or a selector: a preview first, then one run with a report


async def test_bulk_tag_by_selector_previews_then_runs_once(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim tag status:ready batch=7")
    assert "3 SIMs" in private(harness) and all(imsi in private(harness) for imsi in SPARES)
    assert not changes(harness) and all("batch" not in sim(harness, i)["tags"] for i in SPARES)
    await harness.press("pending_confirm")
    await harness.press("pending_confirm")
    assert all(sim(harness, i)["tags"]["batch"] == "7" for i in SPARES)
    assert len(calls(harness, "putSubscriberTags")) == 3
    assert "already done, once" in harness.all_text()
    final = harness.fake.calls_to("chat.update")[-1].args["text"]
    assert "all 3 SIMs done" in final
    entries = [e for e in await audit.latest(harness.rt.db, 10) if e.action == "sim.tag"]
    assert sorted(e.target for e in entries) == sorted(SPARES) and {e.result for e in entries} == {"ok"}


async def test_bulk_report_names_every_failed_sim(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/sim activate sensor-09 sensor-06 {RETIRED_01}")
    assert "2 of 3 are terminated already" in private(harness)
    await harness.press("pending_confirm")
    assert sim(harness, SENSOR_06)["status"] == "active"
    report = harness.fake.calls_to("chat.update")[-1]
    text = harness.texts()[harness.fake.calls.index(report)]
    assert "1 of 3 SIMs done" in text and "2 failed" in text
    assert f"`{SENSOR_09}` (sensor-09)" in text and f"`{RETIRED_01}` (retired-01)" in text
    assert "is terminated" in text


# Bad input: a private error saying what to type, and nothing changed


@pytest.mark.parametrize(("line", "expected"), [
    ("/sim activate 44010000000001", "an IMSI has 15 digits"),
    ("/sim activate 440109999999999", "no SIM with IMSI `440109999999999`"),
    ("/sim activate no-such-sim", "No SIM is named `no-such-sim`"),
    ("/sim activate gateway", "2 SIMs are named `gateway`: `440100000000010` (active), `440100000000011`"),
    ("/sim terminate gateway", "2 SIMs are named `gateway`"),
    ("/sim group sensor-01 NoSuchGroup", "There is no group `NoSuchGroup`"),
    ("/sim activate group:NoSuchGroup", "There is no group `NoSuchGroup`"),
    ("/sim speed sensor-01 s9.warp", "`s1.minimum`, `s1.slow`, `s1.standard`, `s1.fast`, `s1.4xfast`"),
    ("/sim imei-lock sensor-01 35345678901", "an IMEI has 15 digits"),
    ("/sim imei-lock status:active 353456789012345", "for one SIM at a time"),
    ("/sim tag sensor-01 site", "the `=` is needed"),
    ("/sim tag sensor-01 site=osaka floor", "`floor` is not a tag"),
    ("/sim untag sensor-01", "/sim untag TARGET KEY"),
    ("/sim activate tag:site", "Type `tag:KEY=VALUE`"),
    ("/sim activate status:broken", "`broken` is not a SIM status"),
    ("/sim activate sensor-01 status:active", "not both"),
    ("/sim activate tag:site=nowhere", "No SIM matches `tag:site=nowhere`"),
    ("/sim activate", "Name the SIMs"),
    ("/sim list sensor-01", "takes selectors only"),
    ("/sim show status:active", "`/sim show` shows one"),
    ("/sim frobnicate", "`/sim frobnicate` is not a command"),
])
async def test_bad_input_changes_nothing(harness, line: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    before = {imsi: dict(sub, tags=dict(sub["tags"])) for imsi, sub in harness.emulator.subscribers.items()}
    await harness.command(line)
    assert expected in private(harness)
    assert not changes(harness)
    assert not posted(harness)
    assert not any("pending_confirm" in str(c.args.get("blocks")) for c in harness.fake.calls)  # no preview
    assert harness.emulator.subscribers == before


async def test_viewer_is_refused_and_nothing_changes(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim activate sensor-05", user=VIEWER)
    assert "needs the *operator* role" in harness.all_text()
    assert sim(harness, SENSOR_05)["status"] == "inactive" and not changes(harness)
    entry = (await audit.latest(harness.rt.db, 1))[0]
    assert (entry.user_id, entry.action, entry.result) == (VIEWER, "sim.activate", "refused")
    await harness.command("/sim tag status:ready x=1")  # the operator's preview …
    await harness.press("pending_confirm", user=VIEWER)  # … is not the viewer's to confirm
    assert all("x" not in sim(harness, i)["tags"] for i in SPARES) and not changes(harness)


async def test_usage_lists_every_subcommand(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim help", user=VIEWER)
    text = harness.all_text()
    for sub in ("list", "show", "activate|standby", "deactivate|suspend|terminate", "tag", "untag", "group",
                "ungroup", "imei-lock", "imei-unlock", "speed"):
        assert f"`/sim {sub} " in text or f"`/sim {sub}`" in text, sub
