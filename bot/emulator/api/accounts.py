"""Auth (root, AuthKey, SAM user), tokens, logout, operator sign-up and password reset."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from starlette.responses import Response

from bot.emulator.auth import identify, token_timeout
from bot.emulator.errors import ApiError, bad_request
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.state import EmulatorState, Session

PASSWORD_RESET_LIFETIME = timedelta(hours=1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def auth_response(session: Session) -> dict[str, Any]:
    body = {"apiKey": session.api_key, "operatorId": session.identity.operator_id, "token": session.token}
    if session.identity.user_name:
        body["userName"] = session.identity.user_name
    return body


@handles("auth")
def auth(call: Call) -> Response:
    body = call.object_body()
    timeout = token_timeout(body)
    session = call.state.open_session(identify(call.state, body), timeout)
    return reply(auth_response(session))


@handles("generateAuthToken")
def generate_auth_token(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    current = call.session
    assert current is not None
    session = call.state.open_session(current.identity, token_timeout(body))
    session.api_key = current.api_key  # the new token pairs with the caller's API key
    return reply({"token": session.token})


@handles("logout")
def logout(call: Call) -> Response:
    assert call.session is not None
    call.state.sessions.pop(call.session.token, None)
    return no_content()


def valid_email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise bad_request("Invalid email address.")
    return value


def create_operator(state: EmulatorState, email: str, password: str, *, verified: bool) -> dict[str, Any]:
    if state.operator_by_email(email):
        raise bad_request("The email address is already registered.", "OPM0002")
    number = max(int(op_id[2:]) for op_id in state.operators) + 1 if state.operators else 1
    operator_id = f"OP{number:010d}"
    operator = {"operatorId": operator_id, "email": email, "password": password, "verified": verified,
                "authKeys": {}, "createDateTime": int(state.now().timestamp())}
    state.operators[operator_id] = operator
    state.operator_mfa[operator_id] = {"status": "INACTIVE", "secret": None, "backupCodes": []}
    return operator


@handles("createOperator")
def create_operator_endpoint(call: Call) -> Response:
    body = call.object_body(("email", "password"))
    email = valid_email(body["email"])
    create_operator(call.state, email, str(body["password"]), verified=False)
    call.state.signup_tokens[email] = mailed_token()
    return no_content(201)


@handles("verifyOperator")
def verify_operator(call: Call) -> Response:
    token = call.object_body().get("token")
    email = next((mail for mail, known in call.state.signup_tokens.items() if known == token), None)
    operator = call.state.operator_by_email(email) if email else None
    if not token or operator is None:
        raise bad_request("Token is invalid.", "COM0006")
    operator["verified"] = True
    del call.state.signup_tokens[operator["email"]]
    return no_content(200)


@handles("issuePasswordResetToken")
def issue_password_reset_token(call: Call) -> Response:
    email = valid_email(call.object_body(("email",))["email"])
    if call.state.operator_by_email(email):  # unknown addresses get the same answer: nothing leaks
        token = mailed_token()
        call.state.password_reset_tokens[email] = token
        call.state.password_reset_expiry[token] = call.state.now() + PASSWORD_RESET_LIFETIME
    return no_content(200)


@handles("verifyPasswordResetToken")
def verify_password_reset_token(call: Call) -> Response:
    body = call.object_body(("token", "password"))
    state = call.state
    email = next((mail for mail, known in state.password_reset_tokens.items() if known == body["token"]), None)
    operator = state.operator_by_email(email) if email else None
    if operator is None:
        raise bad_request("Token is invalid.", "COM0006")
    if state.now() >= state.password_reset_expiry[body["token"]]:
        raise ApiError(404, "AUM0010", "The password reset token has expired.")
    operator["password"] = str(body["password"])
    del state.password_reset_tokens[operator["email"]]
    del state.password_reset_expiry[body["token"]]
    return no_content(200)


def mailed_token() -> str:
    """Hex, like a token in a mail: one beginning with '-' would read as an option when pasted on a command line."""
    return secrets.token_hex(32)
