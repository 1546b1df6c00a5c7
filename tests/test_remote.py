"""/sim remote (SORACOM Napter) on the real path: signed commands and presses into the bot, the emulator as SORACOM,
the stand-in as Slack, on SQLite and PostgreSQL. The endpoint must reach its opener and nobody, nothing else."""

from __future__ import annotations

import logging
from datetime import timedelta
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from bot.config import ConfigError, Settings, load_settings
from bot.local import LocalBot
from bot.security.roles import Role
from bot.services import audit, roles
from bot.store.tables import AuditEvent, PendingAction, RemoteAccess
from bot.app import job_sweeper
from tests.conftest import ADMIN, OPERATOR, VIEWER
from tests.harness import Harness, assert_valid_slack_payloads

SIM = "440100000000002"  # sensor-02, active
OTHER_OPERATOR = "U_OP2"
CHANNEL = "C_OPS"
DEFAULT_SOURCES = "198.51.100.0/24"


@pytest.fixture
async def bot(database_url: str, tmp_path, clock) -> AsyncIterator[Harness]:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, DATABASE_URL=database_url, BOT_DATA_DIR=str(tmp_path / "data"),  # type: ignore[call-arg]
                        BOT_ADMINS=ADMIN, BOT_PUBLIC_URL="https://bot.example.test",
                        BOT_REMOTE_SOURCES=DEFAULT_SOURCES)
    local = LocalBot(settings, clock=clock)
    await local.start()
    assert local.rt is not None
    for user, role in ((OPERATOR, Role.operator), (OTHER_OPERATOR, Role.operator), (VIEWER, Role.viewer)):
        await roles.set_role(local.rt.db, user, role, granted_by=ADMIN)
    try:
        yield Harness(local, clock)
        assert_valid_slack_payloads(local.fake)
    finally:
        await local.stop()


def creates(harness: Harness) -> list[Any]:
    return [r for r in harness.emulator.requests if r.operation_id == "createPortMapping" and r.status == 201]


def deletes(harness: Harness) -> list[Any]:
    return [r for r in harness.emulator.requests if r.operation_id == "deletePortMapping"]


def open_at_soracom(harness: Harness) -> list[dict[str, Any]]:
    now = harness.emulator.now_ms()
    return [m for m in harness.emulator.demo.port_mappings.values() if m["expiredTime"] > now]


async def open_access(harness: Harness, line: str, user: str = OPERATOR, totp: Any = None) -> dict[str, Any]:
    """Command, Confirm, code; returns the mapping SORACOM now holds for it."""
    totp = totp or await harness.enroll(user)
    before = set(harness.emulator.demo.port_mappings)
    await harness.command(line, user=user, channel=CHANNEL)
    await harness.press("pending_confirm", user=user)
    await harness.submit_code(harness.code(totp), user=user)
    made = [m for key, m in harness.emulator.demo.port_mappings.items() if key not in before]
    assert len(made) == 1, harness.all_text()
    return made[0]


def secrets_of(mapping: dict[str, Any]) -> list[str]:
    return [mapping["endpoint"], mapping["hostname"], f"{mapping['ipAddress']}"]


def channel_texts(harness: Harness) -> list[str]:
    """Everything the bot put where others can read it: channel posts and their edits (not DMs to one user)."""
    from tests.harness import _all_text

    return [_all_text(c.args) for c in harness.fake.calls
            if c.method in ("chat.postMessage", "chat.update") and str(c.args.get("channel", "")).startswith("C")]


def private_texts(harness: Harness, user: str) -> list[str]:
    from tests.harness import _all_text

    return [_all_text(c.args) for c in harness.fake.calls
            if (c.method == "chat.postEphemeral" and c.args.get("user") == user)
            or (c.method == "chat.postMessage" and c.args.get("channel") == user)]


async def audit_rows(harness: Harness) -> list[AuditEvent]:
    with harness.rt.db.session() as session:
        return list(session.exec(select(AuditEvent)).all())


async def assert_nowhere_but_the_opener(harness: Harness, mapping: dict[str, Any], opener: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    hidden = secrets_of(mapping)
    assert any(mapping["endpoint"] in text for text in private_texts(harness, opener))
    for text in channel_texts(harness):
        assert not any(h in text for h in hidden), text
    for call in harness.fake.calls:  # nobody else was shown it, in any way
        if call.method == "chat.postEphemeral" and call.args.get("user") != opener:
            assert not any(h in str(call.args) for h in hidden)
    for row in await audit_rows(harness):
        assert not any(h in f"{row.command} {row.target} {row.error}" for h in hidden)
    with harness.rt.db.session() as session:
        for job in session.exec(select(PendingAction)).all():
            assert not any(h in f"{job.summary} {job.result_json} {job.args_json}" for h in hidden)
        for row in session.exec(select(RemoteAccess)).all():
            assert not any(h in str(row.model_dump()) for h in hidden)
    for record in caplog.records:
        assert not any(h in record.getMessage() for h in hidden), record.getMessage()


async def test_open_goes_through_the_gate_and_gives_the_endpoint_to_the_opener_alone(
        bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    totp = await bot.enroll(OPERATOR)
    await bot.command(f"/sim remote sensor-02 22 45m from 203.0.113.0/24 {DEFAULT_SOURCES}", user=OPERATOR,
                      channel=CHANNEL)
    preview = bot.all_text()
    assert "sensor-02" in preview and "45m" in preview and "203.0.113.0/24" in preview and "22" in preview
    assert not creates(bot)  # a preview opens nothing
    await bot.press("pending_confirm", user=OPERATOR)
    assert not creates(bot)  # Confirm opens the code modal, nothing else
    await bot.submit_code(bot.code(totp), user=OPERATOR)
    [mapping] = open_at_soracom(bot)
    assert mapping["imsi"] == SIM and mapping["destination"]["port"] == 22
    assert mapping["source"]["ipRanges"] == ["203.0.113.0/24", DEFAULT_SOURCES]
    assert mapping["duration"] == 45 * 60 and mapping["tlsRequired"] is False
    assert mapping["ipAddress"].startswith("192.0.2.") and mapping["hostname"].endswith(".example.net")

    mine = "\n".join(private_texts(bot, OPERATOR))
    assert f"ssh -p {mapping['port']} user@{mapping['hostname']}" in mine
    [notice] = [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == CHANNEL]
    text = notice.args["text"]
    assert "<@U_OP>" in text and "sensor-02" in text and "port 22" in text and "203.0.113.0/24" in text
    until = (bot.clock.now + timedelta(minutes=45)).astimezone(bot.rt.settings.timezone)  # in BOT_TIMEZONE
    assert f"until {until:%Y-%m-%d %H:%M} JST" in text
    [row] = [e for e in await audit.latest(bot.rt.db, 10) if e.action == "sim.remote"]
    assert (row.result, row.target) == ("ok", SIM)
    await assert_nowhere_but_the_opener(bot, mapping, OPERATOR, caplog)

    await bot.submit_code(bot.code(totp), user=OPERATOR)  # the modal sent again opens nothing more
    assert len(creates(bot)) == 1


async def test_no_code_no_access(bot: Harness) -> None:
    totp = await bot.enroll(OPERATOR)
    await bot.command("/sim remote sensor-02 22", user=OPERATOR)
    await bot.press("pending_confirm", user=OPERATOR)
    wrong = "000000" if bot.code(totp) != "000000" else "111111"
    response = await bot.submit_code(wrong, user=OPERATOR)
    assert response.json()["response_action"] == "errors"
    assert not creates(bot) and not open_at_soracom(bot)
    entry = (await audit.latest(bot.rt.db, 1))[0]
    assert (entry.action, entry.result) == ("sim.remote", "refused")

    await roles.set_role(bot.rt.db, VIEWER, Role.viewer, granted_by=ADMIN)
    await bot.command("/sim remote sensor-02 22", user=OTHER_OPERATOR)  # not enrolled: refused before a preview
    assert "enroll" in bot.texts(OTHER_OPERATOR)[-1].lower()
    assert not creates(bot)


async def test_the_role_is_read_again_at_the_act(bot: Harness) -> None:
    await bot.command("/sim remote sensor-02 22", user=VIEWER)
    assert "operator" in bot.texts(VIEWER)[-1] and not bot.fake.calls_to("views.open")

    totp = await bot.enroll(OPERATOR)
    await bot.command("/sim remote sensor-02 22", user=OPERATOR)
    await bot.press("pending_confirm", user=OPERATOR)
    await roles.set_role(bot.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)  # demoted with the modal open
    await bot.submit_code(bot.code(totp), user=OPERATOR)
    assert not creates(bot) and not open_at_soracom(bot)
    entry = (await audit.latest(bot.rt.db, 1))[0]
    assert (entry.action, entry.result) == ("sim.remote", "refused")


async def test_sources_default_to_the_configuration_and_without_any_the_command_says_what_to_type(
        bot: Harness) -> None:
    mapping = await open_access(bot, "/sim remote sensor-02 80 tls")
    assert mapping["source"]["ipRanges"] == [DEFAULT_SOURCES] and mapping["tlsRequired"] is True
    assert f"https://{mapping['hostname']}:{mapping['port']}/" in "\n".join(private_texts(bot, OPERATOR))
    assert mapping["duration"] == 30 * 60  # the default

    bot.rt.settings = bot.rt.settings.model_copy(update={"BOT_REMOTE_SOURCES": ""})
    asked = len(bot.fake.calls)
    await bot.command("/sim remote sensor-03 22", user=OPERATOR)
    refusal = bot.texts(OPERATOR)[-1]
    assert "/sim remote sensor-03 22 from" in refusal and "BOT_REMOTE_SOURCES" in refusal
    assert not any(c.method == "chat.postEphemeral" and "pending_confirm" in str(c.args)
                   for c in bot.fake.calls[asked:])
    entry = (await audit.latest(bot.rt.db, 1))[0]
    assert (entry.action, entry.result) == ("sim.remote", "refused")
    assert len(creates(bot)) == 1


@pytest.mark.parametrize("line, says", [
    ("/sim remote sensor-02", "/sim remote TARGET PORT"),
    ("/sim remote sensor-02 ssh", "not a port"),
    ("/sim remote sensor-02 22 2h", "longer than"),
    ("/sim remote sensor-02 22 soon", "not a duration"),
    ("/sim remote sensor-02 22 from 203.0.113.9/24", "host bits"),
    ("/sim remote sensor-02 22 from nowhere", "not an IPv4"),
    ("/sim remote sensor-02 22 from", "at least one"),
    ("/sim remote status:active 22", "one SIM"),
    ("/sim remote tag:site=nowhere 22", "No SIM matches"),
])
async def test_bad_input_changes_nothing(bot: Harness, line: str, says: str) -> None:
    await bot.enroll(OPERATOR)
    await bot.command(line, user=OPERATOR)
    assert says in bot.texts(OPERATOR)[-1]
    assert not creates(bot)
    with bot.rt.db.session() as session:
        assert not session.exec(select(PendingAction)).all()


async def test_a_range_wider_than_a_16_needs_an_admin(bot: Harness) -> None:
    totp = await bot.enroll(OPERATOR)
    await bot.command("/sim remote sensor-02 22 from 10.0.0.0/8", user=OPERATOR)
    assert "wider than /16" in bot.texts(OPERATOR)[-1]
    with pytest.raises(AssertionError):
        bot.find_element("pending_confirm")
    mapping = await open_access(bot, "/sim remote sensor-02 22 from 10.0.0.0/8", user=ADMIN)
    assert mapping["source"]["ipRanges"] == ["10.0.0.0/8"]
    await open_access(bot, "/sim remote sensor-03 22 from 172.16.0.0/16", totp=totp)  # a /16 is an operator's
    refused = [e for e in await audit.latest(bot.rt.db, 20) if e.result == "refused"]
    assert [e.action for e in refused] == ["sim.remote"]


async def test_an_admin_demoted_after_a_wide_preview_is_refused_at_the_act(bot: Harness) -> None:
    await roles.set_role(bot.rt.db, "U_ADMIN2", Role.admin, granted_by=ADMIN)
    totp = await bot.enroll("U_ADMIN2")
    await bot.command("/sim remote sensor-02 22 from 10.0.0.0/8", user="U_ADMIN2")
    await bot.press("pending_confirm", user="U_ADMIN2")
    await roles.set_role(bot.rt.db, "U_ADMIN2", Role.operator, granted_by=ADMIN)
    await bot.submit_code(bot.code(totp), user="U_ADMIN2")
    assert not creates(bot)


async def test_close_by_command(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mapping = await open_access(bot, "/sim remote sensor-02 22")
    await bot.command("/sim remote close sensor-02", user=VIEWER)
    assert "<@U_OP>" in bot.texts(VIEWER)[-1] and open_at_soracom(bot)
    assert not deletes(bot)

    bot.clock.advance(60)
    await bot.command("/sim remote close sensor-02", user=OTHER_OPERATOR, channel=CHANNEL)
    assert not open_at_soracom(bot) and len(deletes(bot)) == 1
    [notice] = [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == CHANNEL]
    [edit] = bot.fake.calls_to("chat.update")
    assert edit.args["ts"] == notice.response["ts"]
    assert "closed at" in edit.args["text"] and "<@U_OP2>" in edit.args["text"]
    told = [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == OPERATOR]
    assert len(told) == 1 and "closed" in told[0].args["text"]
    assert "Closed remote access" in bot.texts(OTHER_OPERATOR)[-1]
    closes = [e for e in await audit.latest(bot.rt.db, 10) if e.action == "sim.remote.close"]
    assert [(e.result, e.user_id) for e in closes] == [("ok", OTHER_OPERATOR), ("refused", VIEWER)]
    refused = [e for e in await audit.latest(bot.rt.db, 10) if e.result == "refused"]
    assert [(e.action, e.user_id) for e in refused] == [("sim.remote.close", VIEWER)]

    await bot.command("/sim remote close sensor-02", user=OTHER_OPERATOR)
    assert "No remote access" in bot.texts(OTHER_OPERATOR)[-1] and len(deletes(bot)) == 1
    sweeper = job_sweeper(bot.rt, bot.local.app.client)
    bot.clock.advance(3600)
    await sweeper.sweep()
    await bot.local.settle()
    assert len(bot.fake.calls_to("chat.update")) == 1  # closed once: the expiry finds nothing to do
    await assert_nowhere_but_the_opener(bot, mapping, OPERATOR, caplog)


async def test_the_opener_closes_even_after_losing_the_operator_role(bot: Harness) -> None:
    await open_access(bot, "/sim remote sensor-02 22")
    await roles.set_role(bot.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)
    await bot.command("/sim remote close 440100000000002", user=OPERATOR)
    assert not open_at_soracom(bot)
    assert [e.user_id for e in await audit.latest(bot.rt.db, 5) if e.action == "sim.remote.close"] == [OPERATOR]


async def test_expiry_closes_once_by_the_bots_clock(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mapping = await open_access(bot, "/sim remote sensor-02 443 10m")
    bot.emulator.advance(-300)  # SORACOM's clock behind the bot's: it still holds the access at the bot's expiry
    sweeper = job_sweeper(bot.rt, bot.local.app.client)
    bot.clock.advance(9 * 60)
    await sweeper.sweep()
    await bot.local.settle()
    assert not bot.fake.calls_to("chat.update") and not deletes(bot)

    bot.clock.advance(2 * 60)
    await sweeper.sweep()
    await sweeper.sweep()
    await job_sweeper(bot.rt, bot.local.app.client).sweep()
    await bot.local.settle()
    assert len(deletes(bot)) == 1 and not open_at_soracom(bot)
    [edit] = bot.fake.calls_to("chat.update")
    assert "expired at" in edit.args["text"]
    told = [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == OPERATOR]
    assert len(told) == 1 and "expired" in told[0].args["text"]
    expiries = [e for e in await audit.latest(bot.rt.db, 10) if e.action == "sim.remote.expire"]
    assert [(e.result, e.target) for e in expiries] == [("ok", SIM)]
    with bot.rt.db.session() as session:
        [row] = session.exec(select(RemoteAccess)).all()
        assert row.state == "expired" and row.told_at is not None
    await assert_nowhere_but_the_opener(bot, mapping, OPERATOR, caplog)


async def test_an_access_soracom_expired_already_is_still_recorded_and_told_once(bot: Harness) -> None:
    await open_access(bot, "/sim remote sensor-02 8080 90s")
    bot.emulator.advance(24 * 3600)  # SORACOM deleted it at its own expiry
    bot.clock.advance(91)
    await job_sweeper(bot.rt, bot.local.app.client).sweep()
    await bot.local.settle()
    assert not deletes(bot)  # nothing left to delete
    assert len(bot.fake.calls_to("chat.update")) == 1
    assert [e.result for e in await audit.latest(bot.rt.db, 10) if e.action == "sim.remote.expire"] == ["ok"]


async def test_list_shows_open_accesses_and_the_endpoint_only_to_its_opener(bot: Harness) -> None:
    mapping = await open_access(bot, "/sim remote sensor-02 22")
    await bot.command("/sim remote list", user=VIEWER)
    seen = bot.texts(VIEWER)[-1]
    assert "sensor-02" in seen and "<@U_OP>" in seen and DEFAULT_SOURCES in seen
    assert mapping["endpoint"] not in seen and mapping["hostname"] not in seen
    await bot.command("/sim remote list", user=OPERATOR)
    assert f"{mapping['ipAddress']}:{mapping['port']}" in bot.texts(OPERATOR)[-1]
    await bot.command("/sim remote sensor-02 22", user=OPERATOR)
    assert "open already" in bot.texts(OPERATOR)[-1]


def test_configuration_checks_the_remote_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_REMOTE_SOURCES", "203.0.113.0/24, 198.51.100.7")
    monkeypatch.setenv("BOT_REMOTE_MAX", "1h30m")
    settings = load_settings(_env_file=None)
    assert [str(s) for s in settings.remote_sources] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert settings.remote_max.total_seconds() == 5400
    monkeypatch.delenv("BOT_REMOTE_MAX")
    assert load_settings(_env_file=None).remote_max.total_seconds() == 3600  # the default
    for name, value in (("BOT_REMOTE_MAX", "9h"), ("BOT_REMOTE_MAX", "soon"), ("BOT_REMOTE_SOURCES", "10.0.0.1/8"),
                        ("BOT_REMOTE_SOURCES", "example.com")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            load_settings(_env_file=None)
        monkeypatch.delenv(name)


async def test_japanese_for_a_japanese_opener_and_the_workspace_language_in_the_channel(bot: Harness) -> None:
    bot.fake.set_locale(OPERATOR, "ja-JP")
    mapping = await open_access(bot, "/sim remote sensor-02 22")
    mine = "\n".join(private_texts(bot, OPERATOR))
    assert "あなた専用です" in mine and mapping["endpoint"] in mine
    [notice] = [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == CHANNEL]
    assert "opened remote access" in notice.args["text"]  # BOT_LANG (en): the channel's language
    await bot.command("/sim remote close sensor-02", user=OTHER_OPERATOR, channel=CHANNEL)
    [told] = [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == OPERATOR]
    assert "閉じました" in told.args["text"]
    assert "Closed remote access" in bot.texts(OTHER_OPERATOR)[-1]  # the closer in their own language


async def test_a_job_taken_over_after_its_worker_died_adopts_the_access_soracom_made(bot: Harness) -> None:
    from bot.services.remote import Accesses, Opening

    await bot.enroll(OPERATOR)
    await bot.command("/sim remote sensor-02 22", user=OPERATOR, channel=CHANNEL)
    with bot.rt.db.session() as session:
        [row] = session.exec(select(PendingAction)).all()
    job = await bot.rt.pending.get(row.id)
    assert job is not None
    # What a worker killed right after SORACOM answered leaves: the job running under its lease, the access row
    # still `opening`, the access open at SORACOM.
    assert await bot.rt.pending.claim(job.id, "dead-worker")
    opening = Opening.from_args(job.args["opening"])
    await Accesses(bot.rt.db, bot.rt.clock).begin(job.id, opening, user_id=OPERATOR, team_id=job.team_id,
                                                  channel_id=CHANNEL)
    bot.clock.advance(1)
    await bot.rt.soracom.create_port_mapping(SIM, 22, duration_seconds=1800, ip_ranges=[DEFAULT_SOURCES],
                                             tls_required=False)
    bot.clock.advance(bot.rt.pending.lease.total_seconds() + 1)
    await job_sweeper(bot.rt, bot.local.app.client).sweep()
    await bot.local.settle()
    assert len(creates(bot)) == 1 and len(open_at_soracom(bot)) == 1  # adopted, not opened again
    with bot.rt.db.session() as session:
        [access] = session.exec(select(RemoteAccess)).all()
        assert access.state == "open" and access.mapping_key and access.message_ts
    assert (await bot.rt.pending.get(job.id)).state == "done"  # type: ignore[union-attr]
    [mapping] = open_at_soracom(bot)
    assert any(mapping["endpoint"] in text for text in private_texts(bot, OPERATOR))


async def test_a_close_whose_process_died_is_finished_by_the_next_sweep(bot: Harness) -> None:
    from bot.services.remote import LEASE, Accesses

    await open_access(bot, "/sim remote sensor-02 22")
    store = Accesses(bot.rt.db, bot.rt.clock)
    [access] = await store.live()
    assert await store.claim(access, "dead-worker", closer=OTHER_OPERATOR) is not None  # then it died
    sweeper = job_sweeper(bot.rt, bot.local.app.client)
    await sweeper.sweep()
    assert open_at_soracom(bot)  # its lease still holds: nobody else touches it
    bot.clock.advance(LEASE.total_seconds() + 1)
    await sweeper.sweep()
    await bot.local.settle()
    assert not open_at_soracom(bot) and len(deletes(bot)) == 1
    [edit] = bot.fake.calls_to("chat.update")
    assert "closed at" in edit.args["text"] and "<@U_OP2>" in edit.args["text"]
    closes = [e for e in await audit.latest(bot.rt.db, 10) if e.action == "sim.remote.close"]
    assert [(e.result, e.user_id) for e in closes] == [("ok", OTHER_OPERATOR)]  # the closer's, finished by another


async def test_soracom_refusing_the_open_is_said_plainly_and_recorded_failed(bot: Harness) -> None:
    await bot.rt.soracom.suspend_subscriber(SIM)  # SORACOM opens remote access to active SIMs only
    await open_access_expecting_none(bot, "/sim remote sensor-02 22")
    assert "SORACOM did not open remote access" in "\n".join(bot.texts(OPERATOR))
    entry = [e for e in await audit.latest(bot.rt.db, 5) if e.action == "sim.remote"][0]
    assert entry.result == "failed"
    with bot.rt.db.session() as session:
        assert [r.state for r in session.exec(select(RemoteAccess)).all()] == ["failed"]
    assert not [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == CHANNEL]


async def open_access_expecting_none(harness: Harness, line: str) -> None:
    totp = await harness.enroll(OPERATOR)
    await harness.command(line, user=OPERATOR, channel=CHANNEL)
    await harness.press("pending_confirm", user=OPERATOR)
    await harness.submit_code(harness.code(totp), user=OPERATOR)
    assert not open_at_soracom(harness)


async def test_the_row_keeps_a_keyed_hash_and_a_row_of_the_plain_hash_before_is_still_closed(bot: Harness) -> None:
    """The endpoint's address and port are few enough to guess from a plain hash: a database reader without
    BOT_SECRET_KEY must learn nothing. Rows written with the plain hash (an upgrade with an access open) still close."""
    import hashlib

    from bot.security.crypto import SecretBox

    mapping = await open_access(bot, "/sim remote sensor-02 22")
    with bot.rt.db.session() as session:
        [row] = session.exec(select(RemoteAccess)).all()
    plain = hashlib.sha256(f"{row.id}|{mapping['ipAddress']}|{mapping['port']}".encode()).hexdigest()
    assert row.mapping_key not in (plain, None)
    other_key = SecretBox("another-bot's-key").digest("remote endpoint", f"{row.id}|{mapping['ipAddress']}|{mapping['port']}")
    assert row.mapping_key != other_key  # keyed: the same endpoint under another key is another digest

    with bot.rt.db.session() as session:  # as the version before kept it
        stored = session.get(RemoteAccess, row.id)
        assert stored is not None
        stored.mapping_key = plain
        session.add(stored)
        session.commit()
    await bot.command("/sim remote close sensor-02", user=OPERATOR, channel=CHANNEL)
    assert not open_at_soracom(bot) and len(deletes(bot)) == 1
