"""`python -m bot serve` over Socket Mode: the real server's lifespan connects to the fake Slack's WebSocket,
acks the envelopes it is sent and answers through Slack as it does over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from bot.config import Settings
from bot.localslack import FakeSlack, SlackSender
from bot.serve import build_server

APP_TOKEN = "xapp-1-test"


@pytest.fixture
def settings(fake: FakeSlack, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN=APP_TOKEN,  # type: ignore[call-arg]
                    SLACK_API_URL=fake.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                    BOT_DATA_DIR=str(tmp_path), BOT_ADMINS="U_ADMIN")


@pytest.fixture
async def connected(settings: Settings, fake: FakeSlack) -> AsyncIterator[None]:
    web = build_server(settings)
    async with web.router.lifespan_context(web):
        await fake.socket_connected()
        yield


def sender(fake: FakeSlack) -> SlackSender:
    """Builds Slack's payloads; over Socket Mode they travel in envelopes, not signed HTTP, so nothing is posted."""
    return SlackSender("unused-in-socket-mode", None, fake=fake, team_id=fake.team_id,
                       team_domain=fake.team_domain, api_app_id=fake.app_id)


async def test_slash_command_is_acked_and_answered_through_its_response_url(connected: None, fake: FakeSlack) -> None:
    form = sender(fake).command_form("/soracom", "roles", user_id="U_ADMIN", channel_id="C_SOCKET")
    ack = await fake.socket_deliver(type="slash_commands", payload=form)
    reply = await fake.wait_for("response_url")
    assert set(ack) == {"envelope_id"}  # an empty ack: the reply goes through the response_url
    assert reply.ok and reply.args["response_url_id"] == form["response_url"].rsplit("/", 1)[1]
    roles = json.dumps(reply.args["blocks"])
    assert "Roles" in reply.args["text"] and "U_ADMIN" in roles and "admin" in roles
    shown = fake.ephemerals("U_ADMIN")
    assert [m["channel"] for m in shown] == ["C_SOCKET"] and "U_ADMIN" in json.dumps(shown[0]["blocks"])


async def test_a_stale_button_is_acked_and_explained(connected: None, fake: FakeSlack) -> None:
    """A button no listener takes (an old message after an upgrade) is acked, not left spinning, and explained."""
    message = {"ts": "1700000000.000100", "blocks": [{"type": "actions", "block_id": "b1", "elements": [
        {"type": "button", "action_id": "no_such_action", "value": "x", "text": {"type": "plain_text", "text": "Old"}}]}]}
    payload = sender(fake).block_action_payload("no_such_action", user_id="U_ADMIN", channel_id="C_SOCKET",
                                                message=message)
    ack = await fake.socket_deliver(type="interactive", payload=payload)
    assert ack["envelope_id"]
    reply = await fake.wait_for("response_url")
    assert "older message" in reply.args["text"]
    assert fake.open_sockets == 1


async def test_a_refused_app_token_stops_the_start(settings: Settings, fake: FakeSlack) -> None:
    from slack_sdk.errors import SlackApiError

    web = build_server(settings.model_copy(update={"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}))
    with pytest.raises(SlackApiError) as info:
        async with web.router.lifespan_context(web):
            pass
    assert "xoxb-not-an-app-token" not in str(info.value)
    assert fake.open_sockets == 0


async def test_without_a_signing_secret_no_http_events_are_taken(settings: Settings, fake: FakeSlack) -> None:
    web = build_server(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
        response = await http.post("/slack/events", data={"command": "/soracom", "text": "roles",
                                                          "user_id": "U_ADMIN", "channel_id": "C1"})
        assert response.status_code in (404, 405)
        assert (await http.get("/healthz")).status_code == 200
    assert fake.calls == []


async def test_lifespan_connects_with_the_app_token_and_closes_cleanly(settings: Settings, fake: FakeSlack) -> None:
    web = build_server(settings)
    async with web.router.lifespan_context(web):
        await fake.socket_connected()
        assert fake.open_sockets == 1
    await fake.socket_closed()
    opened = fake.calls_to("apps.connections.open")
    assert [c.ok for c in opened] == [True] and "token" not in opened[0].args
    assert await tasks_left_running() == []


async def tasks_left_running(grace: float = 0.5) -> list[asyncio.Task[Any]]:
    """The tasks other than this one still pending once cancelled ones have had `grace` seconds to unwind."""
    deadline = asyncio.get_running_loop().time() + grace
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        if not pending or asyncio.get_running_loop().time() > deadline:
            return pending
        await asyncio.sleep(0.01)


async def test_apps_connections_open_takes_only_an_app_token_in_the_header(fake: FakeSlack) -> None:
    async with httpx.AsyncClient(base_url=fake.api_url) as http:
        bot_token = await http.post("apps.connections.open", headers={"Authorization": "Bearer xoxb-test"})
        as_param = await http.post("apps.connections.open", data={"token": APP_TOKEN})
        app_token_elsewhere = await http.post("auth.test", headers={"Authorization": f"Bearer {APP_TOKEN}"})
        opened = await http.post("apps.connections.open", headers={"Authorization": f"Bearer {APP_TOKEN}"})
    assert bot_token.json() == {"ok": False, "error": "not_allowed_token_type"}
    assert as_param.json() == {"ok": False, "error": "not_authed"}
    assert app_token_elsewhere.json() == {"ok": False, "error": "not_allowed_token_type"}
    url = opened.json()["url"]
    assert url.startswith(f"ws://127.0.0.1:{fake.socket_port}/socket-mode/")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as connection:
            hello = await connection.receive_json(timeout=2)
            assert fake.open_sockets == 1
            with pytest.raises(aiohttp.WSServerHandshakeError) as reused:
                await session.ws_connect(url)
    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": fake.app_id} and reused.value.status == 401
    await fake.socket_closed()


async def test_deliver_without_a_connection_fails_fast(fake: FakeSlack) -> None:
    with pytest.raises(RuntimeError, match="no app is connected"):
        await fake.socket_deliver(type="events_api", payload={"type": "event_callback", "event": {}})
