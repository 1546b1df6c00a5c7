"""Requests checked against the official spec before any handler runs: path and query parameters, bodies.

The rules come from spec_rules.py (derived from the spec by specgen). A violation is a 400 in SORACOM's error shape
naming the offending field; the handlers then only check what the spec cannot say (existence, state, …).
"""

from __future__ import annotations

from typing import Any

from bot.emulator.deviations import QUERY_LIMITS_CLAMPED
from bot.emulator.errors import bad_request
from bot.emulator.spec_rules import OPERATION_RULES, SCHEMAS

INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_JSON_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,),
                                            "boolean": (bool,), "integer": (int,), "number": (int, float)}


class Invalid(Exception):
    """Where (a JSON path such as body.orderItemList[0].quantity) and what is wrong."""


def validate_request(operation_id: str, params: dict[str, str], query: dict[str, str], raw: bytes,
                     body: Any) -> None:
    rules = OPERATION_RULES.get(operation_id)
    if rules is None:  # served, but gone from the current spec (sign-up): its handler checks it
        return
    try:
        for name, schema in rules["path"].items():
            check(parse_text(params.get(name, ""), schema, name), schema, name)
        for name, (required, schema) in rules["query"].items():
            _check_query(operation_id, name, query.get(name), required, schema)
        if rules["body"] is not None:
            required, schema = rules["body"]
            if not raw.strip():
                if required:
                    raise Invalid("the request body is required")
                return
            check(body, schema, "body")
    except Invalid as exc:
        raise bad_request(f"Invalid request: {exc}.", "COM0002") from None


def _check_query(operation_id: str, name: str, raw: str | None, required: bool, schema: dict[str, Any]) -> None:
    if raw is None:
        if required:
            raise Invalid(f"query parameter {name} is required")
        return
    value = parse_text(raw, schema, name)
    if (operation_id, name) in QUERY_LIMITS_CLAMPED and isinstance(value, int):
        return  # the handler caps it (see deviations)
    check(value, schema, name)


def parse_text(raw: str, schema: dict[str, Any], where: str) -> Any:
    """A path or query value as the type its schema names."""
    kind = resolve(schema).get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        raise Invalid(f"{where} must be {'an integer' if kind == 'integer' else 'a number'}") from None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise Invalid(f"{where} must be true or false")
        return raw == "true"
    return raw


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"]]
    return schema


def check(value: Any, schema: dict[str, Any], where: str) -> None:
    schema = resolve(schema)
    if value is None and schema.get("nullable"):
        return
    for part in schema.get("allOf", []):
        check(value, part, where)
    for key in ("anyOf", "oneOf"):
        if key in schema and not any(_fits(value, part, where) for part in schema[key]):
            raise Invalid(f"{where} matches none of the allowed shapes")
    _check_type(value, schema, where)
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, where)
    elif isinstance(value, str):
        _check_length(len(value), schema, "minLength", "maxLength", where, "characters")
    elif isinstance(value, list):
        _check_length(len(value), schema, "minItems", "maxItems", where, "items")
        for index, item in enumerate(value):
            check(item, schema.get("items", {}), f"{where}[{index}]")
    elif isinstance(value, dict):
        _check_object(value, schema, where)


def _fits(value: Any, schema: dict[str, Any], where: str) -> bool:
    try:
        check(value, schema, where)
    except Invalid:
        return False
    return True


def _check_type(value: Any, schema: dict[str, Any], where: str) -> None:
    kind = schema.get("type")
    if kind is None:
        return
    if value is None:
        raise Invalid(f"{where} must not be null")
    wrong_bool = isinstance(value, bool) and kind in ("integer", "number")
    if wrong_bool or not isinstance(value, _JSON_TYPES.get(kind, (object,))):
        raise Invalid(f"{where} must be of type {kind}")


def _check_number(value: float, schema: dict[str, Any], where: str) -> None:
    if schema.get("type") == "integer":
        low, high = INT_RANGES.get(schema.get("format", ""), INT_RANGES["int64"])
        if not low <= value <= high:
            raise Invalid(f"{where} is out of range")
    if "minimum" in schema and value < schema["minimum"]:
        raise Invalid(f"{where} must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise Invalid(f"{where} must be at most {schema['maximum']}")


def _check_length(size: int, schema: dict[str, Any], low: str, high: str, where: str, unit: str) -> None:
    if low in schema and size < schema[low]:
        raise Invalid(f"{where} must have at least {schema[low]} {unit}")
    if high in schema and size > schema[high]:
        raise Invalid(f"{where} must have at most {schema[high]} {unit}")


def _check_object(value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    missing = [name for name in schema.get("required", []) if name not in value]
    if missing:
        raise Invalid(f"{where} lacks {', '.join(missing)}")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            check(item, properties[name], f"{where}.{name}")
        elif extra is False:
            raise Invalid(f"{where}.{name} is not allowed")
        elif isinstance(extra, dict):
            check(item, extra, f"{where}.{name}")



