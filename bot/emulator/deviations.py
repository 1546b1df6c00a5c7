"""Where the emulator deliberately differs from the official spec: the one list of it (README mirrors it).

The real API differs from its own spec in places; the emulator follows the real API there (the seed transcript is
the evidence), and the tests check its answers against the spec with exactly these differences applied
(`apply_to_spec`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Deviation:
    topic: str
    difference: str


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation("Nulls", "Subscriber, Sim and SessionStatus fields without a value are answered as null (the spec "
                       "marks none nullable); the real API does so (seed transcript)."),
    Deviation("Error statuses", "Any operation may answer 400 (invalid request or state), 401 (no or bad token), "
                                "403 (another operator's ID, SAM permission), 404 (unknown record), 405 or 429 "
                                "(rate limit knob), with the body {code, message}, even where the spec lists "
                                "fewer statuses."),
    Deviation("Page size", "listSubscribers' limit above the spec's maximum (100) is capped to it, not refused "
                           "(clients that ask for more still get pages)."),
    Deviation("Sign-up", "createOperator (POST /operators) and verifyOperator (POST /operators/verify) are served "
                         "though the current spec no longer has them (the seed transcript uses them)."),
    Deviation("Sandbox", "Sandbox operations are served on the same /v1 API as the rest: one emulator plays both "
                         "api.soracom.io and api-sandbox.soracom.io; sandbox/init needs no real AuthKey."),
)

NULLABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Subscriber": ("ipAddress", "groupId", "expiredAt", "registeredTime", "expiryAction", "sessionStatus",
                   "imeiLock", "expiryTime", "moduleType", "serialNumber"),
    "SessionStatus": ("imei", "location", "ueIpAddress", "dnsServers"),
    "Sim": ("sessionStatus", "groupId", "expiryTime", "expiryAction", "imeiLock", "serialNumber", "moduleType"),
}
UNDOCUMENTED_ERROR_STATUSES = ("400", "401", "403", "404", "405", "429")
QUERY_LIMITS_CLAMPED = frozenset({("listSubscribers", "limit")})
OFF_SPEC_OPERATIONS = frozenset({"createOperator", "verifyOperator"})

_ERROR_SCHEMA = {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}


def apply_to_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of an official spec with the deviations above written in (for conformance checks)."""
    patched = copy.deepcopy(spec)
    schemas = patched.get("components", {}).get("schemas", {})
    for name, fields in NULLABLE_FIELDS.items():
        properties = schemas.get(name, {}).get("properties", {})
        for field in fields:
            if field in properties:
                properties[field] = {"anyOf": [properties[field], {"type": "null"}]} \
                    if "$ref" in properties[field] else {**properties[field], "nullable": True}
    for item in patched.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if (operation.get("operationId"), parameter.get("name")) in QUERY_LIMITS_CLAMPED:
                    parameter.get("schema", {}).pop("maximum", None)
            if "responses" in operation:
                for status in UNDOCUMENTED_ERROR_STATUSES:
                    operation["responses"].setdefault(status, {
                        "description": "emulator deviation",
                        "content": {"application/json": {"schema": _ERROR_SCHEMA}}})
    return patched
