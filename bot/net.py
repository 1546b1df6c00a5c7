"""Small things of the wiring's processes that the layers above share: a free loopback port, the deadline a
request relayed from serve's process to its worker carries (bot.postack), and the one HTTP exchange by which serve's
process hands its worker what it took (Slack's requests: bot.postack; SORACOM's deliveries: bot.web.event_relay)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any

DEADLINE_HEADER = "x-bot-relay-deadline"  # epoch seconds after which the worker must not run the request

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


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


async def post(connection: Connection, path: str, body: bytes,
               headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One POST in HTTP/1.1 on a kept-alive loopback connection to serve's worker: the answer's status, its headers
    (names in lower case) and its body."""
    reader, writer = connection
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(f"POST {path} HTTP/1.1\r\nHost: bot-worker\r\nContent-Length: {len(body)}\r\n{head}\r\n"
                 .encode("latin-1") + body)
    await writer.drain()
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    answer: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        answer[name.strip().lower()] = value.strip()
    return status, answer, await reader.readexactly(int(answer.get("content-length", "0")))
