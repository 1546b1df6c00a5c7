"""Who is calling: credential checks for /auth and API key + token checks for every other call."""

from __future__ import annotations

from typing import Any

import pyotp
from starlette.requests import Request

from bot.emulator.errors import ApiError, bad_request, forbidden, unauthenticated
from bot.emulator.operations import PERMISSION_FREE, Operation
from bot.emulator.policy import is_allowed
from bot.emulator.state import EmulatorState, Identity, Session

DEFAULT_TOKEN_TIMEOUT = 86400
MAX_TOKEN_TIMEOUT = 172800


def auth_failed() -> ApiError:
    return unauthenticated("Authentication failed: invalid credentials.", "AUM0004")


def token_timeout(body: dict[str, Any]) -> int:
    value = body.get("tokenTimeoutSeconds", DEFAULT_TOKEN_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TOKEN_TIMEOUT:
        raise bad_request(f"tokenTimeoutSeconds must be an integer between 1 and {MAX_TOKEN_TIMEOUT}.")
    return value


def identify(state: EmulatorState, body: dict[str, Any]) -> Identity:
    """The identity the credentials of an /auth body prove; 401 when they prove nothing."""
    if body.get("authKeyId") or body.get("authKey"):
        return _by_auth_key(state, str(body.get("authKeyId")), str(body.get("authKey")))
    if body.get("email"):
        return _by_email(state, str(body["email"]), body.get("password"), body.get("mfaOTPCode"))
    if body.get("operatorId") or body.get("userName"):
        return _by_user(state, str(body.get("operatorId")), str(body.get("userName")), body.get("password"))
    raise bad_request("Specify authKeyId and authKey, email and password, or operatorId, userName and password.")


def _by_auth_key(state: EmulatorState, key_id: str, secret: str) -> Identity:
    moment = int(state.now().timestamp())
    for operator in state.operators.values():
        key = operator["authKeys"].get(key_id)
        if key and key["authKey"] == secret:
            key["lastUsedDateTime"] = moment
            return Identity(operator["operatorId"])
    for operator_id, data in state.data.items():
        for user in data.users.values():
            key = user["authKeys"].get(key_id)
            if key and key["authKey"] == secret:
                key["lastUsedDateTime"] = moment
                return Identity(operator_id, user["userName"])
    raise auth_failed()


def _by_email(state: EmulatorState, email: str, password: Any, otp: Any) -> Identity:
    operator = state.operator_by_email(email)
    if not operator or operator["password"] != password:
        raise auth_failed()
    if not operator["verified"]:
        raise unauthenticated("The email address has not been verified yet.", "AUM0005")
    mfa = state.operator_mfa.get(operator["operatorId"], {})
    if mfa.get("status") == "ACTIVE" and not _mfa_code_ok(state, mfa, otp):
        raise unauthenticated("A valid mfaOTPCode is required: MFA is enabled for this operator.", "AUM0006")
    return Identity(operator["operatorId"])


def _mfa_code_ok(state: EmulatorState, mfa: dict[str, Any], otp: Any) -> bool:
    if not isinstance(otp, str) or not otp:
        return False
    if otp in mfa.get("backupCodes", []):
        mfa["backupCodes"].remove(otp)
        return True
    return verify_totp(state, mfa["secret"], otp)


def verify_totp(state: EmulatorState, secret: str | None, code: str) -> bool:
    if not secret:
        return False
    return pyotp.TOTP(secret).verify(code, for_time=state.now(), valid_window=1)


def _by_user(state: EmulatorState, operator_id: str, user_name: str, password: Any) -> Identity:
    user = state.data_of(operator_id).users.get(user_name) if operator_id in state.operators else None
    if not user or not user["password"] or user["password"] != password:
        raise auth_failed()
    return Identity(operator_id, user_name)


def claimed_identity(state: EmulatorState, request: Request) -> Identity | None:
    """Who the request's token names, valid or not: for the request log of requests answered before auth."""
    session = state.sessions.get(request.headers.get("x-soracom-token", ""))
    return session.identity if session and session.api_key == request.headers.get("x-soracom-api-key") else None


def session_of(state: EmulatorState, request: Request) -> Session:
    api_key = request.headers.get("x-soracom-api-key")
    token = request.headers.get("x-soracom-token")
    if not api_key or not token:
        raise unauthenticated()
    session = state.sessions.get(token)
    if session is None or session.api_key != api_key:
        raise unauthenticated("Invalid API key or API token.", "AUM0002")
    if session.expired(state.now(), state.faults.token_lifetime):
        raise unauthenticated("The API token has expired. Authenticate again.", "AUM0003")
    return session


def authorize(state: EmulatorState, session: Session, operation: Operation, params: dict[str, str]) -> None:
    """403 unless the caller may call this operation on this operator."""
    identity = session.identity
    if "operator_id" in params and params["operator_id"] != identity.operator_id:
        raise forbidden("The operator ID in the path is not the caller's.", "OPM0003")
    if identity.is_root or operation.operation_id in PERMISSION_FREE:
        return
    user = state.data_of(identity.operator_id).users.get(identity.user_name or "")
    if user is None:
        raise unauthenticated("The SAM user of this token no longer exists.", "AUM0002")
    if not is_allowed(user["permission"], operation.permission_name):
        raise forbidden(f"The SAM user {identity.user_name} is not allowed to call {operation.permission_name}.")
