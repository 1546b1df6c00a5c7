"""MFA, pending actions and roles on the real database layer: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text

from bot.security.crypto import SecretBox, load_or_create_key
from bot.security.mfa import Check, Mfa
from bot.jobs.store import PendingActions
from bot.security.roles import Role
from bot.services import audit, roles
from bot.store import Database
from tests.clock import Clock


@pytest.fixture
def box() -> SecretBox:
    return SecretBox("test-key-not-secret")


async def test_secret_is_encrypted_at_rest(db: Database, box: SecretBox) -> None:
    mfa = Mfa(db, box)
    new = await mfa.enroll("U1")
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT secret_encrypted FROM mfa_enrollment WHERE slack_user_id='U1'")).scalar_one()
    assert new.secret not in raw
    assert box.decrypt(raw) == new.secret
    assert len(new.secret) == 32  # 160 bits in base32
    assert new.uri.startswith("otpauth://totp/SORACOM%20Bot:U1?secret=")


async def test_enrollment_needs_one_current_code(db: Database, box: SecretBox) -> None:
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = pyotp.TOTP((await mfa.enroll("U1")).secret)
    assert (await mfa.verify("U1", totp.at(clock.now))).outcome is Check.not_confirmed
    assert (await mfa.confirm("U1", totp.at(clock.now))).ok
    assert (await mfa.status("U1")).enrolled
    assert await mfa.enroll("U1") is None  # an active enrollment is not replaced silently


async def test_code_is_accepted_once_across_two_processes(database_url: str, box: SecretBox) -> None:
    clock = Clock()
    first, second = Database(database_url), Database(database_url)
    first.create_schema()
    mfa_a, mfa_b = Mfa(first, box, clock=clock), Mfa(second, box, clock=clock)
    totp = pyotp.TOTP((await mfa_a.enroll("U1")).secret)
    assert (await mfa_a.confirm("U1", totp.at(clock.now))).ok
    clock.advance(30)
    code = totp.at(clock.now)
    assert (await mfa_a.verify("U1", code)).ok
    assert (await mfa_b.verify("U1", code)).outcome is Check.replayed
    clock.advance(30)
    assert (await mfa_b.verify("U1", totp.at(clock.now))).ok
    first.dispose()
    second.dispose()


async def test_five_wrong_codes_lock_out_even_the_right_one(db: Database, box: SecretBox) -> None:
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = pyotp.TOTP((await mfa.enroll("U1")).secret)
    assert (await mfa.confirm("U1", totp.at(clock.now))).ok
    clock.advance(30)
    wrong = f"{(int(totp.at(clock.now)) + 1) % 1_000_000:06d}"
    results = [await mfa.verify("U1", wrong) for _ in range(5)]
    assert [r.outcome for r in results] == [Check.wrong] * 4 + [Check.locked]
    assert results[0].failures_left == 4
    right = await mfa.verify("U1", totp.at(clock.now))
    assert right.outcome is Check.locked
    assert right.locked_until == clock.now + timedelta(minutes=15)
    clock.advance(15 * 60 + 1)
    assert (await mfa.verify("U1", totp.at(clock.now))).ok


async def test_wrong_codes_spread_over_more_than_15_minutes_do_not_lock(db: Database, box: SecretBox) -> None:
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = pyotp.TOTP((await mfa.enroll("U1")).secret)
    assert (await mfa.confirm("U1", totp.at(clock.now))).ok
    for _ in range(6):
        clock.advance(4 * 60)
        assert (await mfa.verify("U1", "000000" if totp.at(clock.now) != "000000" else "111111")).outcome is Check.wrong


async def test_enroll_link_works_once_and_expires(db: Database, box: SecretBox) -> None:
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    new = await mfa.enroll("U1")
    token = await mfa.issue_enroll_link("U1")
    assert await mfa.redeem_enroll_link(token) == new.uri
    assert await mfa.redeem_enroll_link(token) is None
    late = await mfa.issue_enroll_link("U1")
    clock.advance(11 * 60)
    assert await mfa.redeem_enroll_link(late) is None


async def test_pending_action_is_claimed_once_under_concurrency(db: Database) -> None:
    pending = PendingActions(db)
    action = await pending.create(user_id="U1", action="sim.terminate", args={"imsis": ["440100000000001"]},
                            requires_code=True)
    results = await asyncio.gather(*[pending.claim(action.id, "worker") for _ in range(8)])
    assert results.count(True) == 1
    assert (await pending.get(action.id)).state == "running"


async def test_expired_pending_action_cannot_be_claimed(db: Database) -> None:
    clock = Clock()
    pending = PendingActions(db, clock=clock)
    action = await pending.create(user_id="U1", action="x", args={}, requires_code=False)
    clock.advance(5 * 60 + 1)
    assert (await pending.get(action.id)).expired(clock.now)
    assert not await pending.claim(action.id, "worker")


async def test_roles_and_audit(db: Database) -> None:
    assert await roles.role_of(db, "U9", frozenset({"U9"})) is Role.admin
    assert await roles.role_of(db, "U8", frozenset()) is Role.viewer
    await roles.set_role(db, "U8", Role.operator, granted_by="U9")
    assert await roles.role_of(db, "U8", frozenset()) is Role.operator
    assert [(g.user_id, g.role) for g in await roles.list_roles(db, frozenset({"U9"}))] == [
        ("U9", Role.admin), ("U8", Role.operator)]
    actor = audit.Actor("U8", "T1", "C1")
    await audit.record(db, actor, command="/sim activate 440100000000001", action="sim.activate",
                 target="440100000000001", result="ok")
    await audit.record(db, actor, command="/sim terminate x", action="sim.terminate", target="x", result="error",
                 error="E" * 2000)
    entries = await audit.latest(db, 10)
    assert [e.action for e in entries] == ["sim.terminate", "sim.activate"]
    assert len(entries[0].error or "") == audit.MAX_ERROR_LENGTH


def test_generated_secret_key_file_is_private(tmp_path: Path) -> None:
    key = load_or_create_key(None, tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(None, tmp_path / "data") == key
    assert load_or_create_key("configured", tmp_path / "data") == "configured"


def wrong_code(totp: pyotp.TOTP, clock: Clock) -> str:
    """A code that matches no step the checker accepts (now, one before, one after)."""
    near = {totp.at(clock.now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


async def enrolled(mfa: Mfa, clock: Clock, user: str = "U1") -> pyotp.TOTP:
    totp = pyotp.TOTP((await mfa.enroll(user)).secret)
    assert (await mfa.confirm(user, totp.at(clock.now))).ok
    clock.advance(30)
    return totp


def full_width(code: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in code)  # '1' -> '１', as a Japanese input method types it


@pytest.mark.parametrize("shape", [full_width, lambda c: f" {c[:3]} {c[3:]}\n", lambda c: f"{c[:3]}-{c[3:]}",
                                   lambda c: full_width(c[:3]) + "\u3000" + full_width(c[3:]),
                                   lambda c: full_width(c[:3]) + "ー" + full_width(c[3:])])
async def test_codes_are_read_as_people_type_them(db: Database, box: SecretBox, shape) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = pyotp.TOTP((await mfa.enroll("U1")).secret)
    assert (await mfa.confirm("U1", shape(totp.at(clock.now)))).ok
    clock.advance(30)
    assert (await mfa.verify("U1", shape(totp.at(clock.now)))).ok


@pytest.mark.parametrize("junk", ["12345", "1234567", "12345a", "abcdef", "１２３４５", "12.345", "", "½12345", "1 2 3 4 5"])
async def test_anything_but_six_digits_is_malformed_and_costs_no_try(db: Database, box: SecretBox, junk: str) -> None:
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = await enrolled(mfa, clock)
    for _ in range(6):
        assert (await mfa.verify("U1", junk)).outcome is Check.malformed
    assert (await mfa.verify("U1", wrong_code(totp, clock))).failures_left == 4


async def test_ten_wrong_codes_in_a_day_lock_until_an_admin_resets(db: Database, box: SecretBox) -> None:
    """RFC 4226 §7.3: the 15-minute lockout alone allows 480 guesses a day; 10 wrong codes in 24 h lock for good."""
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = await enrolled(mfa, clock)
    outcomes = []
    for _ in range(2):
        outcomes += [(await mfa.verify("U1", wrong_code(totp, clock))).outcome for _ in range(5)]
        clock.advance(15 * 60 + 1)
    assert outcomes == ([Check.wrong] * 4 + [Check.locked]) + ([Check.wrong] * 4 + [Check.blocked])
    for hours in (1, 24, 24 * 30):
        clock.advance(hours * 3600)
        assert (await mfa.verify("U1", totp.at(clock.now))).outcome is Check.blocked  # even the right code
    state = await mfa.status("U1")
    assert state.blocked and state.enrolled
    assert await mfa.reset("U1")  # /mfa reset: the user enrolls again, with no failures counted
    totp = await enrolled(mfa, clock)
    assert (await mfa.verify("U1", wrong_code(totp, clock))).failures_left == 4


async def test_the_day_window_counts_failures_between_lockouts_and_a_success_clears_it(
        db: Database, box: SecretBox) -> None:
    clock = Clock()
    mfa = Mfa(db, box, clock=clock)
    totp = await enrolled(mfa, clock)
    lefts = []
    for _ in range(9):  # one wrong code every 10 minutes: never 5 in 15 minutes
        lefts.append((await mfa.verify("U1", wrong_code(totp, clock))).failures_left)
        clock.advance(10 * 60)
    assert lefts == [4, 3, 3, 3, 3, 3, 3, 2, 1]  # the day's budget shows once it is the nearer limit
    clock.advance(30)
    assert (await mfa.verify("U1", totp.at(clock.now))).ok  # the right code resets the count
    for _ in range(9):
        assert (await mfa.verify("U1", wrong_code(totp, clock))).outcome is Check.wrong
        clock.advance(10 * 60)
    clock.advance(24 * 3600)  # failures older than a day no longer count
    assert (await mfa.verify("U1", wrong_code(totp, clock))).failures_left == 4


async def test_two_processes_guessing_at_once_get_four_wrong_answers(database_url: str, box: SecretBox) -> None:
    """Failures are counted under a write lock: no guess slips between another's check and its count."""
    clock = Clock()
    first, second = Database(database_url), Database(database_url)
    first.create_schema()
    try:
        mfa_a, mfa_b = Mfa(first, box, clock=clock), Mfa(second, box, clock=clock)
        totp = await enrolled(mfa_a, clock)
        wrong = wrong_code(totp, clock)
        for lock in ("locked", "blocked"):  # a 15-minute lockout, then (10 in a day) one until an admin resets
            results = await asyncio.gather(*[m.verify("U1", wrong) for _ in range(4) for m in (mfa_a, mfa_b)])
            assert sorted(r.outcome.value for r in results) == [lock] * 4 + ["wrong"] * 4
            assert sorted(r.failures_left for r in results if r.outcome is Check.wrong) == [1, 2, 3, 4]
            clock.advance(15 * 60 + 1)
        assert (await mfa_b.status("U1")).blocked
    finally:
        first.dispose()
        second.dispose()
