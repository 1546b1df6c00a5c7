"""The Slack surface end to end: signed requests in, the stand-in as Slack, the emulator as SORACOM."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.security.roles import Role
from bot.services import audit, roles
from handlers.common import SlashCommands
from tests.conftest import ADMIN, OPERATOR, VIEWER

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_COMMANDS = {"/sim", "/group", "/order", "/bill", "/mfa", "/alerts", "/soracom"}


def private_texts(harness, user: str) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(harness.texts(user))


async def test_help_lists_every_command_with_sandbox_marker(harness) -> None:  # type: ignore[no-untyped-def]
    response = await harness.command("/soracom help", user=VIEWER)
    assert response.status_code == 200
    replies = harness.fake.calls_to("response_url")
    assert len(replies) == 1
    reply = replies[0].args
    assert reply["response_type"] == "ephemeral"
    text = json.dumps(reply["blocks"])
    for command in CONTRACT_COMMANDS:
        assert f"*{command}*" in text
    assert reply["blocks"][-1]["block_id"] == "sandbox_marker"
    assert "Sandbox" in reply["blocks"][-1]["elements"][0]["text"]


@pytest.mark.parametrize("line", ["/mfa help", "/mfa", "/mfa frobnicate"])
async def test_help_and_unknown_subcommands_show_usage(harness, line: str) -> None:  # type: ignore[no-untyped-def]
    await harness.command(line, user=VIEWER)
    text = harness.all_text()
    assert "/mfa enroll" in text and "/mfa reset USER" in text
    if "frobnicate" in line:
        assert "`/mfa frobnicate` is not a command" in text


async def test_viewer_is_refused_a_mutation_privately_and_audited(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/soracom role <@{VIEWER}> admin", user=VIEWER)
    assert "needs the *admin* role" in harness.all_text()
    assert await roles.role_of(harness.rt.db, VIEWER, frozenset()) is Role.viewer
    assert not harness.fake.calls_to("chat.postMessage")
    entry = (await audit.latest(harness.rt.db, 1))[0]
    assert (entry.user_id, entry.action, entry.result) == (VIEWER, "soracom.role", "refused")
    assert entry.channel_id == "C_OPS"


async def test_audit_lists_latest_actions_for_operators_only(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/soracom role <@{VIEWER}> admin", user=VIEWER)
    await harness.command("/soracom audit", user=VIEWER)
    assert "needs the *operator* role" in private_texts(harness, VIEWER)
    harness.fake.clear()
    await harness.command("/soracom audit 5", user=OPERATOR)
    text = harness.all_text()
    assert "soracom.role" in text and "refused" in text and f"<@{VIEWER}>" in text
    harness.fake.clear()
    await harness.command("/soracom audit 1000", user=OPERATOR)
    assert "is not a count" in harness.all_text()


async def test_forged_signature_and_stale_timestamp_are_rejected(harness) -> None:  # type: ignore[no-untyped-def]
    sender = harness.local.sender
    body = b"command=%2Fsoracom&text=help&user_id=U_OP&channel_id=C_OPS&team_id=T1&response_url=http%3A%2F%2Fx"
    forged = sender.with_signature(secret="not-the-secret").sign(body)
    stale = sender.with_signature(clock=lambda: time.time() - 600).sign(body)
    for headers in (forged, stale, {}):
        response = await harness.local.http.post(
            "/slack/events", content=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 401
    await harness.local.settle()
    assert harness.fake.calls == []


async def test_unexpected_error_gives_a_reference_not_a_traceback(harness, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database exploded")

    monkeypatch.setattr(audit, "latest", broken)
    with caplog.at_level(logging.ERROR):
        await harness.command("/soracom audit", user=OPERATOR)
    text = harness.all_text()
    assert "Something went wrong on our side (reference `" in text
    assert "database exploded" not in text and "Traceback" not in text
    ref = text.split("reference `", 1)[1].split("`", 1)[0]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)


async def test_healthz(harness) -> None:  # type: ignore[no-untyped-def]
    response = await harness.local.http.get("/healthz")
    assert response.status_code == 200 and response.json()["ok"] is True


def test_manifest_is_valid_and_lists_exactly_the_registered_commands(shared_dir: Path, harness_app_commands) -> None:  # type: ignore[no-untyped-def]
    import jsonschema

    schema = json.loads((shared_dir / "slack-manifest-schema" / "manifest.schema.1.0.0.json").read_text())
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    jsonschema.validate(manifest, schema)
    listed = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert listed == harness_app_commands == CONTRACT_COMMANDS
    for command in manifest["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events") and command["description"] and command["usage_hint"]
        takes_users_or_channels = command["command"] in {"/soracom", "/mfa", "/bill", "/alerts"}
        assert command["should_escape"] is takes_users_or_channels
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "files:write"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    # No listener answers options (external selects): a URL for them would send Slack's requests nowhere.
    assert "message_menu_options_url" not in manifest["settings"]["interactivity"]


@pytest.fixture
async def harness_app_commands(harness) -> set[str]:  # type: ignore[no-untyped-def]
    return set(harness.rt.state(SlashCommands))


def test_console_runs_one_command_and_prints_a_real_reply(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "console", "-c", "/soracom help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "/sim list" in result.stdout and "/order sims" in result.stdout
    assert "Sandbox" in result.stdout
    assert "Traceback" not in result.stderr


async def test_admins_from_configuration(harness) -> None:  # type: ignore[no-untyped-def]
    assert await roles.role_of(harness.rt.db, ADMIN, harness.rt.settings.admins) is Role.admin


async def test_console_serves_its_links_on_loopback(settings) -> None:  # type: ignore[no-untyped-def]
    """In the console the enrollment page and the bill export open in a real browser."""
    import re

    import httpx

    from bot.local import LocalBot

    async with LocalBot(settings, serve_http=True) as local:
        await local.sender.command("/bill", "export 201908", user_id=ADMIN, channel_id="C1")
        await local.sender.command("/mfa", "enroll", user_id=ADMIN, channel_id="C1")
        await local.settle()
        shown = json.dumps([c.args for c in local.fake.calls])
        export = re.search(r"http://127\.0\.0\.1:\d+/_emulator/exports/[\w.-]+\.csv", shown).group(0)
        enroll = re.search(r"http://127\.0\.0\.1:\d+/mfa/enroll/[\w-]+", shown).group(0)
        async with httpx.AsyncClient() as http:
            csv = await http.get(export)
            assert csv.status_code == 200 and "201908" in csv.text
            page = await http.get(enroll)
            assert page.status_code == 200 and "<svg" in page.text
            assert (await http.get(enroll)).status_code == 410


async def test_a_slack_failure_is_reported_plainly(harness) -> None:  # type: ignore[no-untyped-def]
    harness.fake.fail_next("chat.postMessage", error="not_in_channel")
    await harness.command("/sim activate 440100000000005", user=OPERATOR)
    text = harness.all_text()
    assert "I cannot post in this channel (`not_in_channel`)" in text and "/invite @soracom" in text
    assert "reference" not in text and "Traceback" not in text
    assert harness.emulator.subscribers["440100000000005"]["status"] == "active"
    assert (await audit.latest(harness.rt.db, 1))[0].result == "ok"


async def test_bad_input_to_a_mutating_command_is_audited_as_refused(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/sim imei-lock 440100000000001 12345", user=OPERATOR)
    entry = (await audit.latest(harness.rt.db, 1))[0]
    assert (entry.action, entry.result, entry.user_id) == ("sim.imei-lock", "refused", OPERATOR)
    assert entry.target == "440100000000001 12345" and entry.error
    assert not [r for r in harness.emulator.requests if r.method != "GET" and "/auth" not in r.path]


async def test_a_failure_outside_the_command_router_still_reaches_the_user(harness, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/mfa enroll", user=OPERATOR)
    view = harness.latest_view()

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(harness.rt.mfa, "confirm", broken)
    with caplog.at_level(logging.ERROR):
        await harness.submit({"mfa_code": {"code": {"type": "plain_text_input", "value": "123456"}}},
                             user=OPERATOR, view=view)
    told = [c for c in harness.fake.calls_to("chat.postEphemeral") if c.args.get("user") == OPERATOR]
    assert told and "reference `" in told[-1].args["text"] and "disk full" not in told[-1].args["text"]
    assert any(r.exc_info for r in caplog.records)


async def test_replies_in_japanese_with_bot_lang_ja(settings, clock) -> None:  # type: ignore[no-untyped-def]
    from bot.local import LocalBot

    async with LocalBot(settings.model_copy(update={"BOT_LANG": "ja"}), clock=clock) as local:
        local.fake.set_locale(ADMIN, "fr-FR")  # no French catalogue: BOT_LANG holds
        await local.sender.command("/sim", "show 123", user_id=ADMIN, channel_id="C1")
        await local.sender.command("/sim", "list status:active", user_id=ADMIN, channel_id="C1")
        await local.settle()
        replies = [c.args["text"] for c in local.fake.calls_to("response_url")]
    assert replies[0].startswith("`123` は IMSI ではありません。IMSI は 15 桁です")
    assert replies[1].startswith("*SIM 13 枚* (`status:active` に一致)")
