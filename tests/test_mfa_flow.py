"""Step-up MFA through Slack: enrollment, the code modal of gated actions, replay, lockout, expiry."""

from __future__ import annotations

import logging
import re

import pyotp

from bot.security.roles import Role
from bot.services import audit, roles
from tests.conftest import ADMIN, OPERATOR, VIEWER


async def role(harness, user: str) -> Role:  # type: ignore[no-untyped-def]
    return await roles.role_of(harness.rt.db, user, harness.rt.settings.admins)


async def test_enroll_in_a_modal_then_confirm_with_a_code(harness, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.DEBUG):
        await harness.command("/mfa enroll", user=OPERATOR)
        opened = harness.fake.calls_to("views.open")
        assert len(opened) == 1
        view = harness.latest_view()
        shown = harness.all_text()
        secret = re.search(r"secret=([A-Z2-7]+)", shown).group(1)
        assert len(secret) == 32
        assert "otpauth://totp/SORACOM%20Bot:U_OP?secret=" in shown
        assert not harness.fake.calls_to("chat.postMessage")  # nothing in a channel

        link = re.search(r"https://bot\.example\.test(/mfa/enroll/[\w-]+)", shown).group(1)
        page = await harness.local.http.get(link)
        assert page.status_code == 200 and "<svg" in page.text
        assert " ".join(secret[i:i + 4] for i in range(0, 32, 4)) in page.text
        assert (await harness.local.http.get(link)).status_code == 410  # one use

        totp = pyotp.TOTP(secret)
        response = await harness.submit({"mfa_code": {"code": {"type": "plain_text_input", "value": "000000"
                                         if totp.at(harness.clock.now) != "000000" else "111111"}}},
                                        user=OPERATOR, view=view)
        assert response.json()["response_action"] == "errors"
        assert not (await harness.rt.mfa.status(OPERATOR)).enrolled
        response = await harness.submit({"mfa_code": {"code": {"type": "plain_text_input",
                                                                "value": totp.at(harness.clock.now)}}},
                                        user=OPERATOR, view=view)
        assert response.json()["response_action"] == "update"
    assert (await harness.rt.mfa.status(OPERATOR)).enrolled
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert all(secret not in (e.command + (e.target or "") + (e.error or ""))
               for e in await audit.latest(harness.rt.db, 50))


async def test_verify_by_command_and_status(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/mfa status", user=OPERATOR)
    assert "not enrolled" in harness.all_text()
    secret = (await harness.rt.mfa.enroll(OPERATOR)).secret
    await harness.command("/mfa verify 12", user=OPERATOR)
    assert "Type the 6 digits" in harness.all_text()
    await harness.command(f"/mfa verify {pyotp.TOTP(secret).at(harness.clock.now)}", user=OPERATOR)
    assert "MFA is active for you" in harness.all_text()
    harness.fake.clear()
    await harness.command("/mfa status", user=OPERATOR)
    assert "active since" in harness.all_text() and "not locked" in harness.all_text()
    assert all("verify 1" not in e.command and "verify 0" not in e.command for e in await audit.latest(harness.rt.db, 20))


async def test_gated_action_needs_enrollment(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command(f"/soracom role <@{VIEWER}> operator", user=ADMIN)
    assert "Run `/mfa enroll`" in harness.all_text()
    assert await role(harness, VIEWER) is Role.viewer
    assert not harness.fake.calls_to("views.open")


async def test_wrong_code_changes_nothing_right_code_runs_once(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(ADMIN)
    await harness.command(f"/soracom role <@{VIEWER}> operator", user=ADMIN)
    assert "Give <@U_VIEW> the *operator* role (now *viewer*)" in harness.all_text()
    await harness.press("pending_confirm", user=ADMIN)
    view = harness.latest_view()
    assert view["callback_id"] == "gate_code" and len(view["private_metadata"]) <= 32

    wrong = "000000" if harness.code(totp) != "000000" else "111111"
    response = await harness.submit_code(wrong, user=ADMIN, view=view)
    body = response.json()
    assert body["response_action"] == "errors" and "not right" in body["errors"]["gate_code"]
    assert await role(harness, VIEWER) is Role.viewer

    response = await harness.submit_code(harness.code(totp), user=ADMIN, view=view)
    assert response.json()["response_action"] == "update"
    assert await role(harness, VIEWER) is Role.operator
    posts = harness.fake.calls_to("chat.postMessage")
    assert len(posts) == 1 and "now *operator*" in posts[0].args["text"]
    assert harness.fake.calls_to("views.update")  # the modal shows the result

    again = await harness.submit_code(harness.code(totp), user=ADMIN, view=view)  # double submit
    assert "already done, once" in str(again.json())
    assert len(harness.fake.calls_to("chat.postMessage")) == 1
    results = [e.result for e in await audit.latest(harness.rt.db, 10) if e.action == "soracom.role"]
    assert results == ["ok", "refused"]


async def test_a_code_is_accepted_once(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(ADMIN)
    code = harness.code(totp)
    await harness.command(f"/soracom role <@{VIEWER}> operator", user=ADMIN)
    await harness.press("pending_confirm", user=ADMIN)
    await harness.submit_code(code, user=ADMIN)
    assert await role(harness, VIEWER) is Role.operator

    await harness.command(f"/soracom role <@{VIEWER}> admin", user=ADMIN)
    await harness.press("pending_confirm", user=ADMIN)
    response = await harness.submit_code(code, user=ADMIN)
    assert "already used" in response.json()["errors"]["gate_code"]
    assert await role(harness, VIEWER) is Role.operator


async def test_five_wrong_codes_lock_out(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(ADMIN)
    await harness.command(f"/soracom role <@{VIEWER}> admin", user=ADMIN)
    await harness.press("pending_confirm", user=ADMIN)
    view = harness.latest_view()
    wrong = "000000" if harness.code(totp) != "000000" else "111111"
    for _ in range(5):
        response = await harness.submit_code(wrong, user=ADMIN, view=view)
    assert "locked for you until" in response.json()["errors"]["gate_code"]
    response = await harness.submit_code(harness.code(totp), user=ADMIN, view=view)
    assert "locked for you until" in response.json()["errors"]["gate_code"]
    assert await role(harness, VIEWER) is Role.viewer
    harness.fake.clear()
    await harness.command(f"/soracom role <@{VIEWER}> admin", user=ADMIN)
    assert "locked for you until" in harness.all_text()


async def test_expired_confirmation_is_refused(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(ADMIN)
    await harness.command(f"/soracom role <@{VIEWER}> admin", user=ADMIN)
    harness.clock.advance(6 * 60)
    await harness.press("pending_confirm", user=ADMIN)
    assert "expired" in harness.all_text()
    assert not harness.fake.calls_to("views.open")
    assert harness.code(totp)  # the code would be fine; the confirmation is not
    assert await role(harness, VIEWER) is Role.viewer


async def test_cancel_changes_nothing(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(ADMIN)
    await harness.command(f"/soracom role <@{VIEWER}> admin", user=ADMIN)
    def cancelled() -> int:
        return sum("Cancelled. Nothing was changed." in c.args.get("text", "") for c in harness.fake.calls)

    await harness.press("pending_cancel", user=ADMIN)
    assert cancelled() == 1
    await harness.press("pending_confirm", user=ADMIN)  # the stale button of the same preview
    assert cancelled() == 2
    assert not harness.fake.calls_to("views.open")
    assert await role(harness, VIEWER) is Role.viewer


async def test_mfa_reset_is_admin_only_and_gated(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    await harness.command(f"/mfa reset <@{OPERATOR}>", user=OPERATOR)
    assert "needs the *admin* role" in harness.all_text()
    totp = await harness.enroll(ADMIN)
    await harness.command(f"/mfa reset <@{OPERATOR}>", user=ADMIN)
    await harness.press("pending_confirm", user=ADMIN)
    await harness.submit_code(harness.code(totp), user=ADMIN)
    assert not (await harness.rt.mfa.status(OPERATOR)).enrolled
    assert await harness.rt.mfa.enroll(OPERATOR) is not None  # can enroll again


async def test_gated_terminate_end_to_end_on_each_database(database_url: str, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    """The whole path (command, preview, Confirm, code modal, SORACOM) on SQLite and on PostgreSQL."""
    from bot.config import Settings
    from bot.local import LocalBot
    from tests.harness import Harness

    settings = Settings(_env_file=None, DATABASE_URL=database_url, BOT_DATA_DIR=str(tmp_path),  # type: ignore[call-arg]
                        BOT_ADMINS=ADMIN)
    async with LocalBot(settings, clock=clock) as local:
        harness = Harness(local, clock)
        totp = await harness.enroll(ADMIN)
        await harness.command("/sim terminate 440100000000016", user=ADMIN)
        await harness.press("pending_confirm", user=ADMIN)
        await harness.submit_code(harness.code(totp), user=ADMIN)
        await harness.submit_code(harness.code(totp), user=ADMIN)  # a second submit runs nothing
        assert harness.emulator.subscribers["440100000000016"]["status"] == "terminated"
        terminations = [r for r in harness.emulator.requests if r.operation_id == "terminateSubscriber"]
        assert len(terminations) == 1
        assert [e.result for e in await audit.latest(harness.rt.db, 5) if e.action == "sim.terminate"] == ["ok"]


async def test_a_role_taken_away_after_the_preview_is_refused_at_confirm(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    await harness.command("/sim terminate 440100000000016", user=OPERATOR)
    await roles.set_role(harness.rt.db, OPERATOR, Role.viewer, granted_by=ADMIN)
    await harness.press("pending_confirm", user=OPERATOR)
    assert "needs the *operator* role" in harness.all_text()
    assert not harness.fake.calls_to("views.open")
    assert harness.emulator.subscribers["440100000000016"]["status"] != "terminated"
    entry = (await audit.latest(harness.rt.db, 1))[0]
    assert (entry.action, entry.result) == ("sim.terminate", "refused")
