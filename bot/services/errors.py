"""Errors of the use cases that the user can fix: a message id of the catalogue and its values."""

from __future__ import annotations


class InputError(Exception):
    """Bad input found by a service (unknown SIM name, ambiguous group…); nothing was changed."""

    def __init__(self, message_id: str, **values: object) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.values = values
