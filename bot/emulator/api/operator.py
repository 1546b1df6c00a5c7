"""The operator's own MFA, and SAM users: permissions, AuthKeys, passwords."""

from __future__ import annotations

from typing import Any

import pyotp
from starlette.responses import Response

from bot.emulator.auth import verify_totp
from bot.emulator.errors import bad_request, user_not_found
from bot.emulator.policy import parse_permission
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.state import EmulatorState, Identity, OperatorData

BACKUP_CODE_COUNT = 5


def mfa_of(call: Call) -> dict[str, Any]:
    return call.state.operator_mfa.setdefault(call.identity.operator_id,
                                              {"status": "INACTIVE", "secret": None, "backupCodes": []})


@handles("enableMFA")
def enable_mfa(call: Call) -> Response:
    mfa = mfa_of(call)
    if mfa["status"] == "ACTIVE":
        raise bad_request("MFA is already enabled. Revoke it first.", "OPM0010")
    mfa.update({"status": "UNCONFIRMED", "secret": pyotp.random_base32(), "backupCodes": []})
    operator_id = call.identity.operator_id
    return reply({"totpUri": f"otpauth://totp/SORACOM:{operator_id}?secret={mfa['secret']}&issuer=SORACOM"})


@handles("verifyMFA")
def verify_mfa(call: Call) -> Response:
    mfa = mfa_of(call)
    code = call.string_field("mfaOTPCode")
    if mfa["status"] != "UNCONFIRMED":
        raise bad_request("MFA is not waiting for verification: call enableMFA first.", "OPM0011")
    if not verify_totp(call.state, mfa["secret"], str(code)):
        raise bad_request("The MFA OTP code is invalid.", "OPM0012")
    mfa["status"] = "ACTIVE"
    mfa["backupCodes"] = [call.state.new_hex(10) for _ in range(BACKUP_CODE_COUNT)]
    return reply({"backupCodes": list(mfa["backupCodes"])})


@handles("getMFAStatus")
def get_mfa_status(call: Call) -> Response:
    return reply({"status": mfa_of(call)["status"]})


@handles("revokeMFA")
def revoke_mfa(call: Call) -> Response:
    password = call.string_field("password")
    if call.state.operators[call.identity.operator_id]["password"] != password:
        raise bad_request("The password is wrong.", "OPM0013")
    mfa_of(call).update({"status": "INACTIVE", "secret": None, "backupCodes": []})
    return no_content()


def get_user(data: OperatorData, user_name: str) -> dict[str, Any]:
    user = data.users.get(user_name)
    if user is None:
        raise user_not_found(user_name)
    return user


def auth_key_list(user: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"authKeyId": key_id, "createDateTime": key["createDateTime"],
             **({"lastUsedDateTime": key["lastUsedDateTime"]} if key["lastUsedDateTime"] else {})}
            for key_id, key in user["authKeys"].items()]


def user_detail(user: dict[str, Any]) -> dict[str, Any]:
    detail = {"userName": user["userName"], "description": user["description"], "hasPassword": bool(user["password"]),
              "authKeyList": auth_key_list(user), "roleList": [], "createDateTime": user["createDateTime"],
              "updateDateTime": user["updateDateTime"]}
    if user["permission"]:
        detail["permission"] = user["permission"]
    return detail


def touch(state: EmulatorState, user: dict[str, Any]) -> None:
    user["updateDateTime"] = int(state.now().timestamp())


@handles("listUsers")
def list_users(call: Call) -> Response:
    return reply([user_detail(user) for _, user in sorted(call.data.users.items())])


@handles("createUser")
def create_user(call: Call) -> Response:
    name = call.params["user_name"]
    if name in call.data.users:
        raise bad_request(f"The SAM user {name} already exists.", "SAM0002")
    description = call.string_field("description", required=False) if call.body is not None else None
    call.state.add_user(name, description=description or "", operator_id=call.identity.operator_id)
    return no_content(201)


@handles("getUser")
def get_user_endpoint(call: Call) -> Response:
    return reply(user_detail(get_user(call.data, call.params["user_name"])))


@handles("deleteUser")
def delete_user(call: Call) -> Response:
    name = call.params["user_name"]
    get_user(call.data, name)
    del call.data.users[name]
    for token, session in list(call.state.sessions.items()):
        if session.identity == Identity(call.identity.operator_id, name):
            del call.state.sessions[token]
    return no_content()


@handles("getUserPermission")
def get_user_permission(call: Call) -> Response:
    return reply({"permission": get_user(call.data, call.params["user_name"])["permission"] or ""})


@handles("updateUserPermission")
def update_user_permission(call: Call) -> Response:
    user = get_user(call.data, call.params["user_name"])
    permission = call.string_field("permission")
    try:
        parse_permission(permission)
    except ValueError as exc:
        raise bad_request(f"Invalid permission: {exc}.", "SAM0003") from None
    user["permission"] = permission
    description = call.object_body().get("description")
    if isinstance(description, str):
        user["description"] = description
    touch(call.state, user)
    return no_content(200)


@handles("listUserAuthKeys")
def list_user_auth_keys(call: Call) -> Response:
    return reply(auth_key_list(get_user(call.data, call.params["user_name"])))


@handles("generateUserAuthKey")
def generate_user_auth_key(call: Call) -> Response:
    name = call.params["user_name"]
    get_user(call.data, name)
    key_id, secret = call.state.add_user_auth_key(name, call.identity.operator_id)
    return reply({"authKeyId": key_id, "authKey": secret})


@handles("createUserPassword")
def create_user_password(call: Call) -> Response:
    user = get_user(call.data, call.params["user_name"])
    password = call.string_field("password")
    user["password"] = password
    touch(call.state, user)
    return no_content(201)
