"""Roles and what they allow: viewer < operator < admin."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    viewer = 1
    operator = 2
    admin = 3

    @classmethod
    def parse(cls, value: str) -> "Role":
        try:
            return cls[value.strip().lower()]
        except KeyError:
            raise ValueError(value) from None

    def allows(self, required: "Role") -> bool:
        return self >= required
