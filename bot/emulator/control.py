"""The /_emulator control API, to drive a standalone emulator over HTTP (no auth: it listens on loopback)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator.bills import export_csv
from bot.emulator.state import EmulatorState


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = await request.json()
    return body if isinstance(body, dict) else {}


async def get_faults(request: Request) -> Response:
    return JSONResponse(_state(request).faults.summary())


async def set_faults(request: Request) -> Response:
    """Sets the given knobs: latency, error_rate, token_lifetime, max_concurrency, concurrency_status, seed,
    rate_limits [{path_prefix, limit, per_seconds, method}], fail_next [{method, path_regex, status, times, body}],
    delay_next [{method, path_regex, seconds, times}];
    "clear": true first resets every knob."""
    faults = _state(request).faults
    body = await _json(request)
    if body.get("clear"):
        faults.clear()
    for knob in ("latency", "error_rate", "token_lifetime", "max_concurrency", "concurrency_status"):
        if knob in body:
            setattr(faults, knob, body[knob])
    if "seed" in body:
        faults.reseed(int(body["seed"]))
    for rule in body.get("rate_limits", []):
        faults.rate_limit(rule["path_prefix"], int(rule["limit"]), float(rule.get("per_seconds", 1.0)),
                          rule.get("method"))
    for delay in body.get("delay_next", []):
        faults.delay_next(delay.get("method"), delay["path_regex"], float(delay["seconds"]), int(delay.get("times", 1)))
    for failure in body.get("fail_next", []):
        faults.fail_next(failure.get("method"), failure["path_regex"], int(failure.get("status", 500)),
                         int(failure.get("times", 1)), failure.get("body"), failure.get("headers"))
    return JSONResponse(faults.summary())


async def add_subscribers(request: Request) -> Response:
    """Adds `count` SIMs to the demo operator (`status`, `tags` as given): fleets for load and crash tests."""
    body = await _json(request)
    added = _state(request).add_subscribers(int(body.get("count", 1)), status=body.get("status", "ready"))
    for sim in added:
        sim["tags"].update(body.get("tags") or {})
    return JSONResponse([sim["imsi"] for sim in added])


async def subscriber(request: Request) -> Response:
    """A SIM as the emulator holds it, whoever owns it (tests read state without a token)."""
    imsi = request.path_params["imsi"]
    sim = next((sim for sim in _state(request).all_subscribers() if sim["imsi"] == imsi), None)
    return JSONResponse(sim, status_code=200 if sim else 404)


async def reset(request: Request) -> Response:
    _state(request).reset()
    return Response(status_code=204)


async def get_requests(request: Request) -> Response:
    return JSONResponse([recorded.to_json() for recorded in _state(request).requests])


async def clear_requests(request: Request) -> Response:
    _state(request).requests.clear()
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    state = _state(request)
    return JSONResponse({"requests": len(state.requests), "in_flight": state.in_flight,
                         "peak_concurrency": state.peak_concurrency, "now": state.now().isoformat()})


async def advance_clock(request: Request) -> Response:
    state = _state(request)
    state.advance(float((await _json(request)).get("seconds", 0)))
    return JSONResponse({"now": state.now().isoformat()})


async def signup_token(request: Request) -> Response:
    """The token a real sign-up would e-mail (also available as the sandbox's getSignupToken)."""
    token = _state(request).signup_tokens.get(request.path_params["email"])
    return JSONResponse({"token": token}, status_code=200 if token else 404)


async def password_reset_token(request: Request) -> Response:
    """The token a real password reset would e-mail."""
    token = _state(request).password_reset_tokens.get(request.path_params["email"])
    return JSONResponse({"token": token}, status_code=200 if token else 404)


async def export_file(request: Request) -> Response:
    state = _state(request)
    name = request.path_params["name"]
    owner = next((data for data in state.data.values() if name in data.exports), None)
    year_month = owner.exports[name] if owner else None
    if owner is None or year_month not in owner.bills:
        return JSONResponse({"code": "BIM0002", "message": "No such export."}, status_code=404)
    return Response(export_csv(state, year_month, owner), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def control_routes() -> list[Route]:
    return [
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", set_faults, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/subscribers", add_subscribers, methods=["POST"]),
        Route("/subscribers/{imsi}", subscriber, methods=["GET"]),
        Route("/requests", get_requests, methods=["GET"]),
        Route("/requests", clear_requests, methods=["DELETE"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/clock", advance_clock, methods=["POST"]),
        Route("/signup_tokens/{email}", signup_token, methods=["GET"]),
        Route("/password_reset_tokens/{email}", password_reset_token, methods=["GET"]),
        Route("/exports/{name}.csv", export_file, methods=["GET"]),
    ]
