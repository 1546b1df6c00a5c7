"""Small things of the wiring's processes that the layers above share: a free loopback port, and the deadline a
request relayed from serve's process to its worker carries (bot.postack)."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

DEADLINE_HEADER = "x-bot-relay-deadline"  # epoch seconds after which the worker must not run the request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def too_late(headers: Mapping[str, Any], now: float) -> bool:
    """A relayed copy past its deadline: serve's process has told its user it was not run, so it must not be."""
    given = headers.get(DEADLINE_HEADER)
    value: Any = given[0] if isinstance(given, list | tuple) and given else given
    try:
        return value is not None and now > float(value)
    except (TypeError, ValueError):
        return False
