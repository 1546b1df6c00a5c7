"""Helpers for checking bodies against the official spec (the spec itself: the `openapi` fixture of conftest)."""

from __future__ import annotations

from typing import Any


def without_nulls(value: Any) -> Any:
    """The real API answers null where the spec's schemas are not nullable (see the seed transcript): such fields
    count as absent; names and types of present values are still checked."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
