"""Errors of the use cases that the user can fix: a message id of the catalogue and its values."""

from __future__ import annotations


class InputError(Exception):
    """Bad input found by a service (unknown SIM name, ambiguous group…); nothing was changed."""

    def __init__(self, message_id: str, **values: object) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.values = values


class WriteUnconfirmed(Exception):
    """SORACOM did not answer a write, and reading back decided what to say.

    `changed` is False when the read showed the change not made (nothing was changed, checked), None when the read
    failed too (it may or may not have been done).
    """

    def __init__(self, what: str, changed: bool | None, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what, self.changed, self.detail = what, changed, detail
