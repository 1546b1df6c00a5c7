"""Account chores in SORACOM words: login check, sign-up, password reset, payer information, shipping
addresses, the operator's own MFA, and the least-privilege SAM user the bot runs as.

These are the setup CLI's use cases (`python -m bot setup …`); the bot never calls them from Slack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.services.errors import InputError
from bot.services.orders import missing_address_fields, new_shipping_address
from bot.soracom import NotFound, SoracomClient, SoracomError
from bot.soracom.credentials import AuthKeyCredentials, Credentials, RootCredentials, SamCredentials
from bot.soracom.models import PayerInformation, ShippingAddress
from bot.soracom.operations import OPERATIONS, permission_actions, permission_policy

# A setup run lasts seconds: a one-hour token is plenty, and less to lose than the bot's day-long one.
SETUP_TOKEN_TIMEOUT = 3600
DEFAULT_BOT_USER = "soracom-slack-bot"
BOT_USER_DESCRIPTION = "Slack chat-ops bot (created by soracom-bot setup)"

# Operations of the client's registry that only the setup CLI calls; the bot's SAM user may call none of them.
SETUP_ONLY_OPERATIONS: dict[str, str] = {
    # Unauthenticated: no SAM permission can grant or deny them; listed so the split is complete.
    "createOperator": "sign-up creates an operator account",
    "verifyOperator": "sign-up e-mail verification",
    "issuePasswordResetToken": "root password reset",
    "verifyPasswordResetToken": "root password reset",
    # The root account's own MFA: the bot's step-up MFA for Slack users is its own (bot/security/mfa.py).
    "enableMFA": "operator MFA belongs to the root user, not to a bot",
    "verifyMFA": "operator MFA belongs to the root user, not to a bot",
    "getMFAStatus": "operator MFA belongs to the root user, not to a bot",
    "revokeMFA": "operator MFA belongs to the root user, not to a bot",
    # SAM administration: a bot that may create users or edit permissions may grant itself anything.
    "createUser": "SAM administration would let the bot escalate its own rights",
    "updateUserPermission": "SAM administration would let the bot escalate its own rights",
    "generateUserAuthKey": "SAM administration would let the bot mint new credentials",
    # Billing identity and address book upkeep: the order flow only lists and adds addresses.
    "getPayerInformation": "payer information is account paperwork, never shown in Slack",
    "registerPayerInformation": "payer information is account paperwork, never changed from Slack",
    "deleteShippingAddress": "only the setup CLI removes shipping addresses",
}

# createOperator / verifyOperator are gone from the public API: these statuses mean "not offered here".
_UNSUPPORTED_STATUSES = (404, 405)


class Unsupported(Exception):
    """The endpoint does not offer this operation (the public API dropped sign-up)."""


def bot_operations() -> list[str]:
    """Every operation of the client's registry that the bot itself may call."""
    return sorted(op for op in OPERATIONS if op not in SETUP_ONLY_OPERATIONS)


def bot_permission_policy() -> dict[str, Any]:
    """The SAM permission document of the bot's user: exactly the bot's calls, nothing else."""
    return permission_policy(bot_operations())


def bot_permissions() -> list[str]:
    return permission_actions(bot_operations())


# Login


@dataclass(frozen=True)
class LoginCheck:
    operator_id: str
    user_name: str | None
    credentials: str  # which credentials, without their secret part
    token_expires_at: datetime


def describe_credentials(credentials: Credentials) -> str:
    if isinstance(credentials, AuthKeyCredentials):
        return f"AuthKey {credentials.auth_key_id}"
    if isinstance(credentials, RootCredentials):
        return f"root user {credentials.email}"
    assert isinstance(credentials, SamCredentials)
    return f"SAM user {credentials.operator_id}/{credentials.user_name}"


async def check_login(client: SoracomClient, credentials: Credentials) -> LoginCheck:
    started = datetime.now(timezone.utc)
    result = await client.auth()
    assert result.operatorId is not None  # the client refuses an /auth answer without one
    return LoginCheck(result.operatorId, result.userName, describe_credentials(credentials),
                      started + timedelta(seconds=SETUP_TOKEN_TIMEOUT))


# Sign-up and password reset (no token needed)


async def sign_up(client: SoracomClient, email: str, password: str) -> None:
    await _offered(client.create_operator(email, password))


async def verify_sign_up(client: SoracomClient, token: str) -> None:
    await _offered(client.verify_operator(token))


async def _offered(call: Awaitable[None]) -> None:
    try:
        await call
    except SoracomError as exc:
        if exc.status in _UNSUPPORTED_STATUSES:
            raise Unsupported() from None
        raise


async def issue_password_reset(client: SoracomClient, email: str) -> None:
    await client.issue_password_reset_token(email)


async def reset_password(client: SoracomClient, token: str, password: str) -> None:
    await client.verify_password_reset_token(token, password)


# Payer information


PAYER_FIELDS = ("companyName", "department", "fullName")


async def payer_information(client: SoracomClient) -> PayerInformation | None:
    """None when none is registered (the spec answers 400 "Payer information not found")."""
    try:
        return await client.get_payer_information()
    except SoracomError as exc:
        if exc.status == 400 or isinstance(exc, NotFound):
            return None
        raise


async def set_payer_information(client: SoracomClient, fields: Mapping[str, str | None]) -> PayerInformation:
    info = PayerInformation(**{name: (fields.get(name) or "").strip() or None for name in PAYER_FIELDS})
    if not any(getattr(info, name) for name in PAYER_FIELDS):
        raise InputError("setup.payer_empty")
    await client.register_payer_information(info)
    return info


# Shipping addresses


async def shipping_addresses(client: SoracomClient) -> list[ShippingAddress]:
    return await client.list_shipping_addresses()


async def add_shipping_address(client: SoracomClient, fields: Mapping[str, str | None]) -> ShippingAddress:
    missing = missing_address_fields(fields)
    if missing:
        raise InputError("setup.address_missing", fields=", ".join(missing))
    return await new_shipping_address(client, fields)


async def delete_shipping_address(client: SoracomClient, shipping_address_id: str) -> None:
    await client.delete_shipping_address(shipping_address_id)


# The operator's MFA


async def enable_mfa(client: SoracomClient) -> str:
    """The otpauth:// URI to scan; it holds the TOTP secret."""
    uri = (await client.enable_mfa()).totpUri
    if not uri:
        raise SoracomError(200, None, "enableMFA answered without a totpUri")
    return uri


async def verify_mfa(client: SoracomClient, code: str) -> list[str]:
    """Activates MFA; the backup codes, which SORACOM shows only this once."""
    return (await client.verify_mfa(code)).backupCodes or []


async def mfa_status(client: SoracomClient) -> str:
    return (await client.get_mfa_status()).status or "UNKNOWN"


# The bot's SAM user


@dataclass(frozen=True)
class BotUser:
    user_name: str
    permissions: list[str]
    auth_key_id: str
    auth_key: str = field(repr=False)


class BotUserIncomplete(Exception):
    """The SAM user was created but a later step failed; it holds the API error."""

    def __init__(self, user_name: str, error: SoracomError) -> None:
        super().__init__(user_name)
        self.user_name = user_name
        self.error = error


async def create_bot_user(client: SoracomClient, user_name: str = DEFAULT_BOT_USER) -> BotUser:
    """A SAM user allowed exactly the bot's calls, with one AuthKey."""
    await client.create_user(user_name, BOT_USER_DESCRIPTION)
    try:
        await client.update_user_permission(user_name, bot_permission_policy(), BOT_USER_DESCRIPTION)
        key = await client.generate_user_auth_key(user_name)
    except SoracomError as exc:
        raise BotUserIncomplete(user_name, exc) from None
    if not (key.authKeyId and key.authKey):
        raise BotUserIncomplete(user_name, SoracomError(200, None, "generateUserAuthKey answered without a key"))
    return BotUser(user_name, bot_permissions(), key.authKeyId, key.authKey)
