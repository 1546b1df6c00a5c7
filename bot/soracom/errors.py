"""One exception tree for everything the SORACOM API (or the way to it) can answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.soracom.wire import Reply

_MAX_TEXT = 200


class SoracomError(Exception):
    """An error answer of the SORACOM API: HTTP status, SORACOM error code (e.g. SEM0049) and message.

    str() is one plain line; it never holds request headers, so never a token or key.
    """

    def __init__(self, status: int, code: str | None, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(self._line())

    @property
    def ambiguous(self) -> bool:
        """After a write: it may have taken effect (no answer, or a server error), so read back before saying."""
        return self.status == 0 or self.status >= 500

    def _line(self) -> str:
        label = f"{self.status} {self.code}" if self.code else str(self.status)
        return f"SORACOM API error {label}: {self.message}" if self.status else self.message


class NotFound(SoracomError):
    """404: the resource does not exist."""


class PermissionDenied(SoracomError):
    """403 that a fresh token does not cure: the credentials lack a permission."""


class RateLimited(SoracomError):
    """429 still answered after every retry."""

    def __init__(self, status: int, code: str | None, message: str, retry_after: float | None = None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class AuthFailed(SoracomError):
    """401, or the credentials were refused at authentication."""


class SoracomUnavailable(SoracomError):
    """The API could not be reached (connection failure, timeout) after every retry; status is 0."""

    def __init__(self, message: str) -> None:
        super().__init__(0, None, message)


_BY_STATUS: dict[int, type[SoracomError]] = {401: AuthFailed, 403: PermissionDenied, 404: NotFound, 429: RateLimited}


def error_code_and_message(response: Reply) -> tuple[str | None, str]:
    """The `{"code","message"}` of a SORACOM error body; for any other body a short plain text."""
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        nested = body.get("errorMessage")  # APICallError shape of generateAuthToken
        source = nested if isinstance(nested, dict) else body
        message = source.get("message")
        if isinstance(message, str) and message:
            code = source.get("code")
            return (code if isinstance(code, str) else None), message
    text = " ".join(response.text.split())[:_MAX_TEXT] if response.content else ""
    reason = response.reason_phrase or "error"
    return None, f"{reason}: {text}" if text else reason


def error_from_response(response: Reply, retry_after: float | None = None) -> SoracomError:
    code, message = error_code_and_message(response)
    status = response.status_code
    if status == 429:
        return RateLimited(status, code, message, retry_after)
    return _BY_STATUS.get(status, SoracomError)(status, code, message)
