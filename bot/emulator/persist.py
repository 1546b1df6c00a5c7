"""The emulator's data kept in a file, so that a restarted console finds the SIMs, groups, orders and Event Handler
rules its database speaks of. Sessions, fault knobs and the request log are not kept: a restarted bot logs in anew."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import TypeAdapter, ValidationError

from bot.atomic_file import write_atomically
from bot.emulator.state import Clock, EmulatorState, OperatorData, RecordedRequest

FORMAT_VERSION = 1
READS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPERATOR_DATA = TypeAdapter(dict[str, OperatorData])
_EXPIRY = TypeAdapter(dict[str, datetime])


class UnreadableState(Exception):
    """The file is not one this version wrote: the caller decides whether to start afresh."""


def dump(state: EmulatorState) -> bytes:
    data = _OPERATOR_DATA.dump_python(state.data)
    for operator in data.values():  # JSON keys are strings: (handlerId, imsi) pairs become rows
        operator["event_handler_fired"] = [[h, i, p] for (h, i), p in operator["event_handler_fired"].items()]
    version, internal, gauss = state.rng.getstate()
    return pydantic_core.to_json({
        "version": FORMAT_VERSION, "data": data, "operators": state.operators, "products": state.products,
        "operator_mfa": state.operator_mfa, "password_reset_tokens": state.password_reset_tokens,
        "password_reset_expiry": state.password_reset_expiry, "signup_tokens": state.signup_tokens,
        "rng": [version, list(internal), gauss], "clock_offset": state.clock_offset.total_seconds(),
    })


def load(state: EmulatorState, raw: bytes) -> None:
    """Replaces the state's data with the file's; UnreadableState leaves the state as it was."""
    try:
        saved = pydantic_core.from_json(raw)
        if not isinstance(saved, dict) or saved.get("version") != FORMAT_VERSION:
            raise UnreadableState(f"not an emulator state of format {FORMAT_VERSION}")
        for operator in saved["data"].values():
            operator["event_handler_fired"] = {(h, i): p for h, i, p in operator["event_handler_fired"]}
        data = _OPERATOR_DATA.validate_python(saved["data"])
        expiry = _EXPIRY.validate_python(saved["password_reset_expiry"])
        version, internal, gauss = saved["rng"]
        rng_state: Any = (version, tuple(internal), gauss)
        offset = timedelta(seconds=float(saved["clock_offset"]))
        plain = {name: dict(saved[name]) for name in ("operators", "products", "operator_mfa",
                                                       "password_reset_tokens", "signup_tokens")}
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise UnreadableState(str(exc)[:200]) from None
    state.data, state.password_reset_expiry, state.clock_offset = data, expiry, offset
    for name, value in plain.items():
        setattr(state, name, value)
    state.rng = random.Random()
    state.rng.setstate(rng_state)


class SavedEmulatorState(EmulatorState):
    """An emulator whose data is written to `path` after every API call that may change it (and by `save()`), and
    read back from it at start when it exists."""

    def __init__(self, path: Path, now: Clock | None = None, seed_value: int = 0) -> None:
        self.path = path
        super().__init__(now, seed_value)
        if path.exists():
            load(self, path.read_bytes())

    def record(self, request: RecordedRequest) -> None:
        super().record(request)
        if request.method not in READS and request.status < 500:
            self.save()

    def save(self) -> None:
        write_atomically(self.path, dump(self))
