"""Errors of the use cases: input the user can fix (a message id of the catalogue and its values), writes SORACOM
did not confirm, and SORACOM's refusals as the handlers see them (ServiceError, never the client's own types)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from bot.soracom.errors import SoracomError, SoracomUnavailable
from bot.store.outage import database_unavailable

__all__ = ["InputError", "NotRecorded", "ServiceError", "WriteUnconfirmed", "database_unavailable", "service"]


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


class NotRecorded(Exception):
    """The database refused a write's intent row: the write was not made, since nothing would say it was."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


class ServiceError(Exception):
    """SORACOM refused a call or could not be reached: what the handlers tell the user, in the services' words.

    str() is the client's one plain line (never a token or key); `unavailable`: no answer at all after every retry.
    """

    def __init__(self, status: int, code: str | None, message: str, *, line: str, unavailable: bool = False) -> None:
        super().__init__(line)
        self.status, self.code, self.message, self.unavailable = status, code, message, unavailable

    @property
    def ambiguous(self) -> bool:
        """After a write: it may have taken effect (no answer, or a server error), so read back before saying."""
        return self.status == 0 or self.status >= 500

    @classmethod
    def of(cls, exc: SoracomError) -> "ServiceError":
        return cls(exc.status, exc.code, exc.message, line=str(exc), unavailable=isinstance(exc, SoracomUnavailable))


_INSIDE_SERVICE: ContextVar[bool] = ContextVar("inside_service", default=False)

P = ParamSpec("P")
R = TypeVar("R")


def service(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Marks a use case the handlers call: a SORACOM error leaving it becomes a ServiceError.

    Only the outermost use case translates, so services calling one another (and work they hand to tasks) still
    see the client's own errors (NotFound, RateLimited…).
    """

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        if _INSIDE_SERVICE.get():
            return await fn(*args, **kwargs)
        token = _INSIDE_SERVICE.set(True)
        try:
            return await fn(*args, **kwargs)
        except SoracomError as exc:
            raise ServiceError.of(exc) from exc
        finally:
            _INSIDE_SERVICE.reset(token)

    return call
