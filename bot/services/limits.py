"""Bounds on what users may send on to SORACOM: checked before any call, so bad input changes nothing."""

from __future__ import annotations

from bot.services.errors import InputError

MAX_VALUE_BYTES = 64 * 1024  # a configuration value, JSON or text
MAX_JSON_DEPTH = 32  # json.loads recurses per level: thousands of levels end in RecursionError
# The official spec sets no length for tags; these keep names usable in Slack and requests small.
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 1024
EXCERPT = 80


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a long input, for error messages that echo it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_value_size(key: str, raw: str) -> None:
    size = len(raw.encode())
    if size > MAX_VALUE_BYTES:
        raise InputError("group.value_too_large", key=excerpt(key), size=size, limit=MAX_VALUE_BYTES)


def check_json_depth(key: str, raw: str) -> None:
    """Refuses JSON nested too deeply, before it is parsed."""
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise InputError("group.json_too_deep", key=excerpt(key), depth=depth, limit=MAX_JSON_DEPTH)


def json_depth(raw: str) -> int:
    """How deeply [ and { nest in JSON text (brackets inside strings do not count); no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_tag(key: str, value: str) -> None:
    if len(key) > MAX_TAG_KEY:
        raise InputError("common.tag_key_too_long", key=excerpt(key), length=len(key), limit=MAX_TAG_KEY)
    if len(value) > MAX_TAG_VALUE:
        raise InputError("common.tag_value_too_long", key=excerpt(key), length=len(value), limit=MAX_TAG_VALUE)
