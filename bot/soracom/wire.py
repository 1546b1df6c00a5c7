"""The client's own network path to a real endpoint: aiohttp, answers handed back as an `Answer`.

httpx's connection pool checks every idle connection for readability (a getpeername and a poll each) whenever it
hands one out, and its request and URL models validate each header and character again: together about a
millisecond of CPU a call, more than a bulk job spends on anything else. aiohttp keeps its pool without those
checks. A transport given to the client (the embedded emulator, tests) still goes through httpx, whose
`httpx.Response` is a `Reply` too.

An `Answer` holds what aiohttp read, as it read it: an `httpx.Response` built from it re-validated every header and
streamed the body through its decoders again, a sixth of the client's CPU in a bulk job.

Failures are told as httpx's, in its terms of whether the request can have reached the server: only a connection
that could not be made is "never sent" (`ConnectError`, `ConnectTimeout`); every other failure is ambiguous.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Protocol

import aiohttp
import httpx
from yarl import URL

# Each call logged as httpx logs its own, so that the logs read the same whichever path a call took.
log = logging.getLogger(__name__)


class Reply(Protocol):
    """What the client reads of an answer: an `Answer`, or an `httpx.Response` (a transport given to the client)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # names in any case

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def reason_phrase(self) -> str: ...

    def json(self) -> Any: ...


class Answer:
    """An answer as aiohttp read it: the body already decoded (gzip and the like), headers case-insensitive."""

    __slots__ = ("status_code", "headers", "content", "_reason")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes, reason: str | None) -> None:
        self.status_code, self.headers, self.content, self._reason = status_code, headers, content, reason

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        """The body in the charset its Content-Type names, else UTF-8 (read only for errors: parsed then)."""
        charset = "utf-8"
        for parameter in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip().strip('"'):
                charset = value.strip().strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    @property
    def reason_phrase(self) -> str:
        if self._reason:
            return self._reason
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""


def _text(value: Any) -> str:
    """A query value as httpx writes it (booleans lower-case)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class Wire:
    """One aiohttp session, opened on the first request (in the loop that makes it), for one client."""

    def __init__(self, headers: Mapping[str, str], timeout: float) -> None:
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        """The session of the running loop: a client first used in another loop (a check at start-up run before
        the server's loop) gets a new one, as a session serves only the loop it was made in."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout,
                                                  cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False)
            self._loop = loop
        return self._session

    async def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
                      headers: Mapping[str, str] | None = None) -> Answer:
        session = self._current()
        data, send_headers = None, dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            send_headers["Content-Type"] = "application/json"
        query = {name: _text(value) for name, value in params.items()} if params else None
        try:
            async with session.request(method, URL(url, encoded=True), params=query, data=data,
                                       headers=send_headers, allow_redirects=False) as answer:
                content = await answer.read()
                status = answer.status
                reply = Answer(status, answer.headers, content, answer.reason)
        except aiohttp.ClientConnectorError as exc:  # no connection was made: nothing was sent
            raise httpx.ConnectError(str(exc)) from exc
        except aiohttp.ConnectionTimeoutError as exc:  # nor here (connecting, or waiting for a pooled connection)
            raise httpx.ConnectTimeout(str(exc)) from exc
        except TimeoutError as exc:  # the answer did not come in time: the request may have been acted on
            raise httpx.ReadTimeout(str(exc) or "timed out waiting for the answer") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "server disconnected") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        log.info('HTTP Request: %s %s "%d"', method, url, status)
        return reply

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
