"""Codes as people type them, and the lockout only an admin lifts: through signed HTTP, as Slack sends them."""

from __future__ import annotations

import re

import pyotp

from bot.security.roles import Role
from bot.services import audit, roles
from tests.conftest import ADMIN, OPERATOR, VIEWER
from tests.test_security_store import full_width, wrong_code

SIM = "440100000000016"


async def test_code_modal_takes_full_width_digits_and_explains_anything_else(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(ADMIN)
    await harness.command(f"/soracom role <@{VIEWER}> operator", user=ADMIN)
    await harness.press("pending_confirm", user=ADMIN)
    view = harness.latest_view()
    for junk in ("１２３４５", "12345a", "abc def"):
        response = await harness.submit_code(junk, user=ADMIN, view=view)
        assert "Type the 6 digits your authenticator app shows" in response.json()["errors"]["gate_code"]
    response = await harness.submit_code(wrong_code(totp, harness.clock), user=ADMIN, view=view)
    assert "4 more tries" in response.json()["errors"]["gate_code"]  # what was not a code cost no try
    assert await roles.role_of(harness.rt.db, VIEWER, harness.rt.settings.admins) is Role.viewer

    code = harness.code(totp)
    response = await harness.submit_code(full_width(code[:3]) + "\u3000" + full_width(code[3:]), user=ADMIN, view=view)
    assert response.json()["response_action"] == "update"
    assert await roles.role_of(harness.rt.db, VIEWER, harness.rt.settings.admins) is Role.operator
    assert "Something went wrong" not in harness.all_text()


async def test_verify_command_takes_full_width_and_spaced_codes(harness) -> None:  # type: ignore[no-untyped-def]
    totp = pyotp.TOTP((await harness.rt.mfa.enroll(OPERATOR)).secret)
    await harness.command("/mfa verify １２３ー", user=OPERATOR)
    assert "Type the 6 digits" in harness.all_text()
    code = totp.at(harness.clock.now)
    await harness.command(f"/mfa verify {full_width(code[:3])} {full_width(code[3:])}", user=OPERATOR)
    assert "MFA is active for you" in harness.all_text()
    assert "Something went wrong" not in harness.all_text()
    assert (await harness.rt.mfa.status(OPERATOR)).enrolled


async def test_enrollment_modal_takes_full_width_digits(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/mfa enroll", user=OPERATOR)
    view = harness.latest_view()
    secret = re.search(r"secret=([A-Z2-7]+)", harness.all_text()).group(1)

    def typed(value: str) -> dict:  # type: ignore[type-arg]
        return {"mfa_code": {"code": {"type": "plain_text_input", "value": value}}}

    response = await harness.submit(typed("１２３４５６７"), user=OPERATOR, view=view)
    assert "Type the 6 digits" in response.json()["errors"]["mfa_code"]
    code = pyotp.TOTP(secret).at(harness.clock.now)
    response = await harness.submit(typed(full_width(code[:3]) + "－" + full_width(code[3:])), user=OPERATOR, view=view)
    assert response.json()["response_action"] == "update"
    assert (await harness.rt.mfa.status(OPERATOR)).enrolled


async def guess(harness, totp: pyotp.TOTP, times: int) -> list[str]:  # type: ignore[no-untyped-def]
    """A fresh `/sim terminate` preview, Confirm, then `times` wrong codes: the errors shown on the input."""
    await harness.command(f"/sim terminate {SIM}", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)
    view = harness.latest_view()
    errors = []
    for _ in range(times):
        response = await harness.submit_code(wrong_code(totp, harness.clock), user=OPERATOR, view=view)
        errors.append(response.json()["errors"]["gate_code"])
    return errors


async def test_ten_wrong_codes_in_a_day_lock_until_an_admin_resets(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    first = await guess(harness, totp, 5)
    assert "locked for you until" in first[-1] and "admin" not in first[-1]  # the contract's 15 minutes
    harness.clock.advance(15 * 60 + 1)
    second = await guess(harness, totp, 5)
    assert "1 more wrong code today" in second[3] and "`/mfa reset`" in second[3]
    assert "locked for you until an admin runs `/mfa reset`" in second[4]

    harness.clock.advance(25 * 3600)  # a day later, still locked: no more guesses
    harness.fake.clear()
    await harness.command(f"/sim terminate {SIM}", user=OPERATOR)
    assert "until an admin runs `/mfa reset`" in harness.all_text()
    assert not harness.fake.calls_to("views.open")
    await harness.command("/mfa status", user=OPERATOR)
    assert "locked until an admin runs `/mfa reset`" in harness.all_text()
    assert harness.emulator.subscribers[SIM]["status"] != "terminated"
    refused = [e.error for e in await audit.latest(harness.rt.db, 30) if e.action == "sim.terminate"]
    assert refused.count("MFA code wrong") == 8 and "MFA code blocked" in refused

    admin = await harness.enroll(ADMIN)
    await harness.command(f"/mfa reset <@{OPERATOR}>", user=ADMIN)
    await harness.press("pending_confirm", user=ADMIN)
    await harness.submit_code(harness.code(admin), user=ADMIN)
    totp = await harness.enroll(OPERATOR)  # enrolled again, with no failures counted
    await harness.command(f"/sim terminate {SIM}", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)
    await harness.submit_code(harness.code(totp), user=OPERATOR)
    assert harness.emulator.subscribers[SIM]["status"] == "terminated"
