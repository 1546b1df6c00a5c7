"""The client's network path (bot.soracom.wire: aiohttp) against a real server on loopback: what it sends, what it
hands back, and which failures count as "never sent" (repeated) or ambiguous (the server may have acted)."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.soracom import AuthKeyCredentials, SoracomClient
from bot.soracom.errors import SoracomError

IMSI = "440100000000001"
SIM = {"imsi": IMSI, "status": "active", "tags": {"name": "ü-meter"}, "speedClass": "s1.standard"}


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def record(request: web.Request) -> None:
        seen.append({"method": request.method, "path": request.path, "query": dict(request.query),
                     "headers": dict(request.headers), "body": await request.read()})

    async def auth(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"apiKey": "api-key", "token": "token", "operatorId": "OP0000000001"})

    async def subscribers(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=gzip.compress(json.dumps([SIM]).encode()), content_type="application/json",
                            headers={"Content-Encoding": "gzip"})

    async def activate(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response(SIM)

    async def tags(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"code": "SEM0004", "message": "No such subscriber."}, status=404)

    async def hang_up(request: web.Request) -> web.StreamResponse:
        await record(request)  # read, maybe acted on, then the connection drops without an answer
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/v1/auth", auth)
    app.router.add_get("/v1/subscribers", subscribers)
    app.router.add_post(f"/v1/subscribers/{IMSI}/activate", activate)
    app.router.add_put(f"/v1/subscribers/{IMSI}/tags", tags)
    app.router.add_post("/v1/groups", hang_up)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server, seen
    finally:
        await test_server.close()


def client(url: str, sleeps: Sleeps) -> SoracomClient:
    return SoracomClient(url, AuthKeyCredentials("keyId-x", "secret-x"), lang="ja", sleep=sleeps, max_retries=2)


async def test_requests_and_answers_go_over_the_wire_as_httpx_sent_them(server):
    test_server, seen = server
    async with client(str(test_server.make_url("")).rstrip("/"), Sleeps()) as soracom:
        sims = await soracom.list_subscribers(tag_name="name", tag_value="ü-meter", limit=5)
        activated = await soracom.activate_subscriber(IMSI)
    assert [sim.imsi for sim in sims.items] == [IMSI] and sims.items[0].tags == {"name": "ü-meter"}  # gunzipped
    assert activated.status == "active"
    auth, listing, activate = seen
    assert json.loads(auth["body"]) == {"authKeyId": "keyId-x", "authKey": "secret-x", "tokenTimeoutSeconds": 86400}
    assert auth["headers"]["Content-Type"] == "application/json"
    assert listing["query"] == {"tag_name": "name", "tag_value": "ü-meter", "limit": "5"}
    for request in (listing, activate):
        assert request["headers"]["X-Soracom-API-Key"] == "api-key"
        assert request["headers"]["X-Soracom-Token"] == "token"
        assert request["headers"]["X-Soracom-Lang"] == "ja"
    assert activate["body"] == b""


async def test_an_error_answer_is_soracoms_error(server):
    test_server, _ = server
    async with client(str(test_server.make_url("")).rstrip("/"), Sleeps()) as soracom:
        with pytest.raises(SoracomError) as raised:
            await soracom.put_subscriber_tags(IMSI, {"a": "b"})
    assert raised.value.status == 404 and raised.value.code == "SEM0004"


async def test_a_connection_dropped_after_the_request_is_ambiguous_and_a_create_is_not_repeated(server):
    test_server, seen = server
    sleeps = Sleeps()
    async with client(str(test_server.make_url("")).rstrip("/"), sleeps) as soracom:
        with pytest.raises(SoracomError, match="unreachable"):
            await soracom.create_group(tags={"name": "g"})
    assert [r["path"] for r in seen].count("/v1/groups") == 1  # the server may have created it: never sent twice
    assert sleeps.waits == []


async def test_a_refused_connection_was_never_sent_and_is_tried_again():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections to it are refused
        sleeps = Sleeps()
        async with client(f"http://127.0.0.1:{port}", sleeps) as soracom:
            with pytest.raises(SoracomError, match="unreachable"):
                await soracom.create_group(tags={"name": "g"})
    assert len(sleeps.waits) == 2  # a create too: nothing reached the server, so it was tried max_retries times more
