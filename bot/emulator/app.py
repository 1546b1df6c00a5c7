"""The emulator's ASGI app: the /v1 API (faults → routing → auth → policy → handler, every request recorded)
and the /_emulator control API."""

from __future__ import annotations

import asyncio
import time
import json
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot.emulator import api  # noqa: F401  (registers every operation's handler)
from bot.emulator.auth import authorize, claimed_identity, session_of
from bot.emulator.control import control_routes
from bot.emulator.error_texts import localized
from bot.emulator.errors import ApiError, not_found
from bot.emulator.faults import ScriptedFailure
from bot.emulator.operations import Match, match
from bot.emulator.registry import HANDLERS, Call, error_response
from bot.emulator.state import EmulatorState, RecordedRequest, Session
from bot.emulator.validation import validate_request

API_PREFIX = "/v1"
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def create_app(state: EmulatorState | None = None) -> Starlette:
    """A Starlette app serving the SORACOM API under /v1 from `state` (a fresh seeded one when omitted)."""
    app = Starlette(routes=[
        Route(API_PREFIX + "/{rest:path}", api_endpoint, methods=ALL_METHODS),
        Mount("/_emulator", routes=control_routes()),
    ], exception_handlers={HTTPException: _routing_error, Exception: _unexpected_error})
    app.state.emulator = state if state is not None else EmulatorState()
    return app


async def _routing_error(request: Request, exc: Exception) -> Response:
    """What Starlette's router refuses (a path it cannot match, such as one holding a newline) in SORACOM's shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return error_response(ApiError(status, "COM0004" if status == 404 else "COM0005",
                                   f"No such API: {request.method} {request.url.path!r}."))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug of the emulator: still SORACOM's error shape, so a client shows a readable message."""
    return error_response(ApiError(500, "COM0001", f"Internal error of the emulator: {type(exc).__name__}."))


async def api_endpoint(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    raw = await request.body()
    body = _parse_json(raw)
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?", 1)[0]
    found = match(request.method, raw_path[len(API_PREFIX):])
    # The log outlives the request: interned, its method does not keep each caller's own copy of the string alive.
    record = RecordedRequest(method=sys.intern(request.method), path=request.url.path, query=dict(request.query_params),
                             json=body, status=500, identity=claimed_identity(state, request), at=state.now(),
                             operation_id=found.operation.operation_id if found.operation else None)
    try:
        response = await _serve(state, request, found, body, raw)
        record.status = response.status_code
        if response.status_code >= 400 and request.headers.get("X-Soracom-Lang") == "ja":
            response = _in_japanese(response)
        return response
    finally:
        state.record(record)


async def _serve(state: EmulatorState, request: Request, found: Match, body: Any, raw: bytes) -> Response:
    faults = state.faults
    if faults.max_concurrency is not None and state.in_flight >= faults.max_concurrency:
        return error_response(ApiError(faults.concurrency_status, "COM0009",
                                       "Too many concurrent requests. Retry later."))
    state.in_flight += 1
    state.peak_concurrency = max(state.peak_concurrency, state.in_flight)
    try:
        delay = faults.take_delay(request.method, request.url.path)
        if request.method == "GET" and delay == 0 and faults.latency > 0:
            # A read takes `latency` in all, the emulator's own work included (SORACOM's is part of the latency a
            # client sees): answered first, then the rest waited out. Nothing changes, so when is no matter.
            started = time.perf_counter()
            response = _handle(state, request, found, body, raw)
            await asyncio.sleep(max(0.0, faults.latency - (time.perf_counter() - started)))
            return response
        wait = faults.latency + delay
        if wait > 0:
            await asyncio.sleep(wait)
        return _handle(state, request, found, body, raw)
    finally:
        state.in_flight -= 1


def _handle(state: EmulatorState, request: Request, found: Match, body: Any, raw: bytes) -> Response:
    method, path = request.method, request.url.path
    scripted = state.faults.take_scripted(method, path)
    if scripted is not None:
        return _scripted_response(scripted)
    decision = state.faults.check_rate_limits(method, path, state.now().timestamp())
    limit_headers = decision.headers() if decision else None
    if decision is not None and not decision.allowed:
        return error_response(ApiError(429, "COM0008", "Rate limit exceeded. Retry later."), limit_headers)
    if state.faults.random_error():
        return error_response(ApiError(500, "COM0001", "Internal server error (injected)."), limit_headers)
    try:
        response = _dispatch(state, request, found, body, raw)
    except ApiError as error:
        return error_response(error, limit_headers)
    if limit_headers:
        response.headers.update(limit_headers)
    return response


def _dispatch(state: EmulatorState, request: Request, found: Match, body: Any, raw: bytes) -> Response:
    if found.operation is None:
        if found.allowed_methods:
            raise ApiError(405, "COM0005", f"Method {request.method} is not allowed here.")
        raise not_found(f"No such API: {request.method} {request.url.path}.")
    operation = found.operation
    if raw and body is None:
        raise ApiError(400, "COM0002", "The request body is not valid JSON.")
    session: Session | None = None
    if operation.auth:
        session = session_of(state, request)
        authorize(state, session, operation, found.params)
    validate_request(operation.operation_id, found.params, dict(request.query_params), raw, body)
    call = Call(state=state, request=request, params=found.params, query=dict(request.query_params),
                body=body, session=session)
    return HANDLERS[operation.operation_id](call)


def _in_japanese(response: Response) -> Response:
    """An error's message as SORACOM writes it for `X-Soracom-Lang: ja`, where the emulator knows it."""
    try:
        error = json.loads(bytes(getattr(response, "body", b"")))
    except ValueError:
        return response
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return response
    error["message"] = localized(str(error.get("code")), error["message"], "ja")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return JSONResponse(error, status_code=response.status_code, headers=headers)


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _scripted_response(failure: ScriptedFailure) -> Response:
    if failure.body is None:
        return JSONResponse({"code": "COM0001", "message": "Injected failure."}, status_code=failure.status,
                            headers=failure.headers)
    if isinstance(failure.body, (dict, list)):
        return JSONResponse(failure.body, status_code=failure.status, headers=failure.headers)
    return Response(failure.body, status_code=failure.status, headers=failure.headers, media_type="text/plain")


def serve_emulator(host: str = "127.0.0.1", port: int = 8090) -> None:
    """Serves a freshly seeded emulator under uvicorn until interrupted."""
    import uvicorn

    from bot.web.access_log import redact_remote_endpoints

    config = uvicorn.Config(create_app(), host=host, port=port, log_level="info")
    redact_remote_endpoints("uvicorn.access")  # after uvicorn.Config, which configures its loggers
    uvicorn.Server(config).run()
