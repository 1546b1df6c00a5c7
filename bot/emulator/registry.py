"""What a handler receives, how it answers, and the table operationId → handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.emulator.errors import ApiError, bad_request
from bot.emulator.operations import OPERATIONS_BY_ID
from bot.emulator.state import EmulatorState, Identity, OperatorData, Session


@dataclass
class Call:
    state: EmulatorState
    request: Request
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    session: Session | None

    @property
    def identity(self) -> Identity:
        assert self.session is not None, "only authenticated operations ask who called"
        return self.session.identity

    @property
    def data(self) -> OperatorData:
        """The caller's operator's data: the only data a call sees."""
        return self.state.data_of(self.identity.operator_id)

    def object_body(self, required: tuple[str, ...] = ()) -> dict[str, Any]:
        """The JSON object body, with the given keys present (400 otherwise)."""
        if not isinstance(self.body, dict):
            raise bad_request("The request body must be a JSON object.")
        missing = [key for key in required if self.body.get(key) in (None, "")]
        if missing:
            raise bad_request(f"Missing required field(s): {', '.join(missing)}.")
        return self.body

    def list_body(self) -> list[Any]:
        if not isinstance(self.body, list):
            raise bad_request("The request body must be a JSON array.")
        return self.body

    @overload
    def string_field(self, key: str, *, required: Literal[True] = True) -> str: ...
    @overload
    def string_field(self, key: str, *, required: bool) -> str | None: ...

    def string_field(self, key: str, *, required: bool = True) -> str | None:
        value = self.object_body((key,) if required else ()).get(key)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"{key} must be a string.")
        return value

    def int_query(self, name: str, default: int | None = None) -> int | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"{name} must be an integer.") from None

    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")


Handler = Callable[[Call], Response]
HANDLERS: dict[str, Handler] = {}


def handles(operation_id: str) -> Callable[[Handler], Handler]:
    if operation_id not in OPERATIONS_BY_ID:
        raise KeyError(f"unknown operation {operation_id}")

    def register(func: Handler) -> Handler:
        HANDLERS[operation_id] = func
        return func

    return register


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def no_content(status: int = 204) -> Response:
    return Response(status_code=status)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers=headers)
