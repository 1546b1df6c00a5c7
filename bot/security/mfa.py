"""Step-up MFA with TOTP: enrollment, one use per code (RFC 6238 §5.2), lockout on guessing (RFC 4226 §7.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import quote

import pyotp
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, delete, func, select

from bot.security.crypto import SecretBox
from bot.store import Database, off_loop
from bot.store.tables import MfaEnrollment, MfaEnrollToken, MfaFailure, MfaUsedCode, as_utc, utcnow

ISSUER = "SORACOM Bot"
STEP_SECONDS = 30
DIGITS = 6
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
# Equal to the window: when a lockout ends, the failures that caused it have left the window.
LOCKOUT = timedelta(minutes=15)
# The 15-minute lockout alone still allows 480 guesses a day (RFC 4226 §7.3 asks for a bound): this many wrong codes
# in a day, without a right one between, lock until an admin resets the enrollment.
MAX_DAILY_FAILURES = 10
DAILY_WINDOW = timedelta(hours=24)
ENROLL_LINK_LIFETIME = timedelta(minutes=10)
LINK_NONCE_BYTES = 24
LINK_NONCE_CHARS = 32  # token_urlsafe(24)


class Check(Enum):
    ok = "ok"
    malformed = "malformed"
    wrong = "wrong"
    replayed = "replayed"
    locked = "locked"
    blocked = "blocked"  # locked until an admin resets
    not_enrolled = "not_enrolled"
    not_confirmed = "not_confirmed"


@dataclass(frozen=True)
class CheckResult:
    outcome: Check
    locked_until: datetime | None = None
    failures_left: int | None = None
    # The next lockout is the one only an admin lifts (the day's budget is nearer than the 15-minute one).
    next_lock_needs_reset: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is Check.ok


@dataclass(frozen=True)
class NewEnrollment:
    secret: str
    uri: str


@dataclass(frozen=True)
class MfaStatus:
    enrolled: bool
    confirmed_at: datetime | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    locked_until: datetime | None = None
    blocked: bool = False


def provisioning_uri(secret: str, account: str) -> str:
    """otpauth://totp/SORACOM%20Bot:USER?secret=…&issuer=SORACOM%20Bot (Key Uri Format)."""
    label = quote(f"{ISSUER}:{account}", safe=":")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER)}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"


# Typed between the digits of a code: spaces of any width, hyphens and dashes, and the long-vowel mark that a Japanese
# input method writes for "-" ("１２３ー４５６").
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc]")


def normalise_code(typed: str) -> str:
    """A code as ASCII digits, however wide or in whatever script the digits were typed, without separators."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", typed))
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in compact)


def is_code_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


class Mfa:
    def __init__(self, db: Database, box: SecretBox, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.box = box
        self.clock = clock

    # Enrollment

    @off_loop
    def enroll(self, user_id: str) -> NewEnrollment | None:
        """A fresh secret for a user without a confirmed enrollment; None when one is already active."""
        with self.db.session() as session:
            row = session.get(MfaEnrollment, user_id)
            if row is not None and row.confirmed_at is not None:
                return None
            secret = pyotp.random_base32(32)  # 32 base32 characters = 160 bits
            row = row or MfaEnrollment(slack_user_id=user_id, secret_encrypted="")
            row.secret_encrypted = self.box.encrypt(secret)
            row.created_at = self.clock()
            session.add(row)
            session.commit()
        return NewEnrollment(secret=secret, uri=provisioning_uri(secret, user_id))

    @off_loop
    def confirm(self, user_id: str, code: str) -> CheckResult:
        """The first code of an enrollment, which makes it active."""
        return self._check(user_id, code, confirming=True)

    @off_loop
    def verify(self, user_id: str, code: str) -> CheckResult:
        """A code for a gated action: enrolled, not locked, right, and not used before."""
        return self._check(user_id, code, confirming=False)

    @off_loop
    def status(self, user_id: str) -> MfaStatus:
        with self.db.session() as session:
            row = session.get(MfaEnrollment, user_id)
        if row is None:
            return MfaStatus(enrolled=False)
        locked = as_utc(row.locked_until)
        return MfaStatus(
            enrolled=row.confirmed_at is not None,
            created_at=as_utc(row.created_at),
            confirmed_at=as_utc(row.confirmed_at),
            last_used_at=as_utc(row.last_used_at),
            locked_until=locked if locked and locked > self.clock() else None,
            blocked=row.blocked_at is not None,
        )

    @off_loop
    def reset(self, user_id: str) -> bool:
        with self.db.session() as session:
            row = session.get(MfaEnrollment, user_id)
            if row is None:
                return False
            session.delete(row)
            session.exec(delete(MfaFailure).where(col(MfaFailure.slack_user_id) == user_id))
            session.commit()
        return True

    # One-time enrollment page

    @off_loop
    def issue_enroll_link(self, user_id: str) -> str:
        """A token for the page of the user's pending enrollment, bound to its secret: after a newer /mfa enroll
        the link shows nothing rather than the newer secret."""
        secret = self._pending_secret(user_id)
        if secret is None:
            raise ValueError("no pending enrollment to link to")
        nonce = secrets.token_urlsafe(LINK_NONCE_BYTES)
        token = nonce + _link_tag(secret, nonce)
        with self.db.session() as session:
            session.add(
                MfaEnrollToken(
                    token_hash=_hash(token), slack_user_id=user_id, expires_at=self.clock() + ENROLL_LINK_LIFETIME
                )
            )
            session.commit()
        return token

    @off_loop
    def enroll_link_valid(self, token: str) -> bool:
        """Whether the link would show a page, without using it up (a HEAD request)."""
        with self.db.session() as session:
            return self._usable_link(session.get(MfaEnrollToken, _hash(token)), token) is not None

    @off_loop
    def redeem_enroll_link(self, token: str) -> str | None:
        """The otpauth URI behind a link, once; None when unknown, used, expired or issued for an older secret."""
        with self.db.session() as session:
            row = session.get(MfaEnrollToken, _hash(token))
            secret = self._usable_link(row, token)
            if row is None or secret is None:
                return None
            row.used = True
            session.add(row)
            session.commit()
            return provisioning_uri(secret, row.slack_user_id)

    def _usable_link(self, row: MfaEnrollToken | None, token: str) -> str | None:
        """The secret a link shows: unused, unexpired, and its tag made from the user's current pending secret."""
        if row is None or row.used or as_utc(row.expires_at) <= self.clock():  # type: ignore[operator]
            return None
        secret = self._pending_secret(row.slack_user_id)
        nonce, tag = token[:LINK_NONCE_CHARS], token[LINK_NONCE_CHARS:]
        if secret is None or not hmac.compare_digest(tag, _link_tag(secret, nonce)):
            return None
        return secret

    def _pending_secret(self, user_id: str) -> str | None:
        with self.db.session() as session:
            row = session.get(MfaEnrollment, user_id)
        if row is None or row.confirmed_at is not None:
            return None
        return self.box.decrypt(row.secret_encrypted)

    # Code checking

    def _check(self, user_id: str, code: str, *, confirming: bool) -> CheckResult:
        code = normalise_code(code)
        now = self.clock()
        with self._locked(user_id) as (session, row):
            result = self._judge(session, row, code, now, confirming=confirming)
            session.commit()
        return result

    @contextmanager
    def _locked(self, user_id: str) -> Iterator[tuple[Session, MfaEnrollment | None]]:
        """A transaction that holds the user's enrollment: another process's check waits until this one is counted.

        Without it, guesses racing each other all pass the lockout check before any of them is counted.
        """
        with self.db.session() as session:
            connection = session.connection()
            if connection.dialect.name == "sqlite":
                # No row locks in SQLite: take its write lock now (busy_timeout waits for it), not at the first write.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            row = session.exec(
                select(MfaEnrollment).where(col(MfaEnrollment.slack_user_id) == user_id).with_for_update()
            ).first()
            yield session, row

    def _judge(self, session: Session, row: MfaEnrollment | None, code: str, now: datetime, *,
               confirming: bool) -> CheckResult:
        if row is None:
            return CheckResult(Check.not_enrolled)
        if not confirming and row.confirmed_at is None:
            return CheckResult(Check.not_confirmed)
        if row.blocked_at is not None:
            return CheckResult(Check.blocked)
        locked_until = as_utc(row.locked_until)
        if locked_until and locked_until > now:
            return CheckResult(Check.locked, locked_until=locked_until)
        if not is_code_shaped(code):
            return CheckResult(Check.malformed)  # not a guess: costs no try
        step = _matching_step(self.box.decrypt(row.secret_encrypted), code, now)
        if step is None:
            return self._fail(session, row, now)
        if session.get(MfaUsedCode, (row.slack_user_id, step)) is not None:
            return CheckResult(Check.replayed)
        session.add(MfaUsedCode(slack_user_id=row.slack_user_id, time_step=step, used_at=now))
        row.last_used_at = now
        if confirming:
            row.confirmed_at = row.confirmed_at or now
        session.add(row)
        session.exec(delete(MfaFailure).where(col(MfaFailure.slack_user_id) == row.slack_user_id))
        return CheckResult(Check.ok)

    def _fail(self, session: Session, row: MfaEnrollment, now: datetime) -> CheckResult:
        mine = col(MfaFailure.slack_user_id) == row.slack_user_id
        session.exec(delete(MfaFailure).where(mine, col(MfaFailure.at) <= now - DAILY_WINDOW))
        session.add(MfaFailure(slack_user_id=row.slack_user_id, at=now))
        session.flush()
        recent = _count(session, mine, now - FAILURE_WINDOW)
        today = _count(session, mine, now - DAILY_WINDOW)
        if today >= MAX_DAILY_FAILURES:
            row.blocked_at = now
            session.add(row)
            return CheckResult(Check.blocked)
        if recent >= MAX_FAILURES:
            row.locked_until = now + LOCKOUT
            session.add(row)
            return CheckResult(Check.locked, locked_until=row.locked_until)
        short, daily = MAX_FAILURES - recent, MAX_DAILY_FAILURES - today
        return CheckResult(Check.wrong, failures_left=min(short, daily), next_lock_needs_reset=daily <= short)


def _count(session: Session, mine: ColumnElement[bool], since: datetime) -> int:
    return session.exec(
        select(func.count()).select_from(MfaFailure).where(mine, col(MfaFailure.at) > since)
    ).one()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code matches, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _link_tag(secret: str, nonce: str) -> str:
    """22 URL-safe characters that tie a link to one secret (HMAC: the tag tells nothing about the secret)."""
    digest = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
