"""The local Slack stand-in: the fake Web API under slack_sdk's real client, signed requests into a real bolt app,
Block Kit rendering and the console."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localslack import FakeSlack, SlackSender, input_values, sign_request
from bot.localslack.console import Console
from bot.localslack.render import collect_actions, render_message, render_view

SECRET = "test-secret"
TOKEN = "xoxb-test"

CODE_VIEW = {
    "type": "modal", "callback_id": "mfa_code", "private_metadata": "pending-42",
    "title": {"type": "plain_text", "text": "Confirm"}, "submit": {"type": "plain_text", "text": "Run"},
    "blocks": [
        {"type": "input", "block_id": "code", "label": {"type": "plain_text", "text": "Code"},
         "hint": {"type": "plain_text", "text": "6 digits from your app"},
         "element": {"type": "plain_text_input", "action_id": "value"}},
        {"type": "input", "block_id": "speed", "label": {"type": "plain_text", "text": "Speed"},
         "element": {"type": "static_select", "action_id": "pick", "options": [
             {"text": {"type": "plain_text", "text": "slow"}, "value": "s1.slow"},
             {"text": {"type": "plain_text", "text": "fast"}, "value": "s1.fast"}]}},
    ],
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


# ---- FakeSlack under slack_sdk's client ---------------------------------------------------------------------------
async def test_post_update_delete_are_reflected_in_the_channel(fake: FakeSlack, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel="C_PUD", text="hello", blocks=[
        {"type": "section", "block_id": "b1", "text": {"type": "mrkdwn", "text": "*hello*"}}])
    second = await client.chat_postMessage(channel="C_PUD", text="second")
    assert first["channel"] == "C_PUD" and first["message"]["text"] == "hello"
    assert float(second["ts"]) > float(first["ts"])

    await client.chat_update(channel="C_PUD", ts=first["ts"], text="edited")
    await client.chat_delete(channel="C_PUD", ts=second["ts"])

    messages = fake.messages("C_PUD")
    assert [m["text"] for m in messages] == ["edited"]
    assert messages[0]["blocks"][0]["text"]["text"] == "*hello*"  # chat.update without blocks keeps them
    assert "edited" in messages[0]
    post = fake.calls_to("chat.postMessage")[-2]
    assert post.args["blocks"][0]["block_id"] == "b1"  # JSON bodies and string fields are decoded


async def test_ephemeral_is_shown_to_the_user_only(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel="C_EPH", user="U_EPH", text="only you")
    shown = fake.ephemerals("U_EPH")
    assert [(m["text"], m["channel"], m["ts"]) for m in shown] == [("only you", "C_EPH", response["message_ts"])]
    assert fake.messages("C_EPH") == []


async def test_views_open_update_and_hash_conflict(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id="1.2.abc", view=CODE_VIEW))["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "mfa_code" and opened["hash"]
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"],
                                        view={**CODE_VIEW, "title": {"type": "plain_text", "text": "Again"}})
    assert fake.views[opened["id"]]["title"]["text"] == "Again"
    assert updated["view"]["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=CODE_VIEW)
    assert stale.value.response["error"] == "hash_conflict"


async def test_views_open_rejects_what_slack_rejects(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as too_long:
        await client.views_open(trigger_id="1.2.abc",
                                view={**CODE_VIEW, "title": {"type": "plain_text", "text": "x" * 25}})
    assert too_long.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as no_trigger:
        await client.views_open(trigger_id="", view=CODE_VIEW)
    assert no_trigger.value.response["error"] == "invalid_arguments"


async def test_files_upload_v2_stores_the_bytes_and_shows_the_file(fake: FakeSlack, client: AsyncWebClient) -> None:
    content = b"imsi,amount\n440100000000001,12.5\n"
    result = await client.files_upload_v2(channel="C_FILE", content=content, filename="bill.csv", title="Bill",
                                          initial_comment="the bill")
    uploaded = [f for f in fake.files if f.id == result["file"]["id"]]
    assert [(f.content, f.filename, f.title, f.channels) for f in uploaded] == [(content, "bill.csv", "Bill", ["C_FILE"])]
    shown = fake.messages("C_FILE")[-1]
    assert shown["text"] == "the bill" and shown["files"][0]["name"] == "bill.csv"
    async with httpx.AsyncClient() as http:
        assert (await http.get(shown["files"][0]["url_private"])).content == content


async def test_fail_next_raises_then_recovers(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C_FAIL", text="lost")
    assert failed.value.response["error"] == "channel_not_found"
    fake.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C_FAIL", text="lost")
    assert limited.value.response.status_code == 429
    await client.chat_postMessage(channel="C_FAIL", text="kept")
    assert [m["text"] for m in fake.messages("C_FAIL")] == ["kept"]
    assert [c.ok for c in fake.calls_to("chat.postMessage") if c.args.get("channel") == "C_FAIL"] == [False, False, True]


async def test_missing_or_wrong_token_and_unknown_method(fake: FakeSlack) -> None:
    async with httpx.AsyncClient(base_url=fake.api_url) as http:
        missing = (await http.post("chat.postMessage", data={"channel": "C_AUTH", "text": "x"})).json()
        wrong = (await http.post("auth.test", headers={"Authorization": "Bearer xoxp-user"})).json()
        unknown = (await http.post("admin.nothing", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert missing == {"ok": False, "error": "not_authed"}
    assert wrong["error"] == "invalid_auth" and unknown["error"] == "unknown_method"
    assert fake.messages("C_AUTH") == [] and fake.calls_to("admin.nothing")


async def test_users_info_conversations_open_and_dm_posts(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.users["U_KNOWN"] = {"id": "U_KNOWN", "name": "alice", "tz": "UTC", "profile": {"real_name": "Alice"}}
    assert (await client.users_info(user="U_KNOWN"))["user"]["name"] == "alice"
    assert (await client.users_info(user="U_OTHER"))["user"]["id"] == "U_OTHER"
    dm = (await client.conversations_open(users="U_DM"))["channel"]["id"]
    posted = await client.chat_postMessage(channel="U_DM", text="psst")
    assert dm.startswith("D") and posted["channel"] == dm
    assert [m["text"] for m in fake.messages(dm)] == ["psst"]


async def test_response_url_replaces_deletes_and_posts(fake: FakeSlack, client: AsyncWebClient) -> None:
    original = await client.chat_postMessage(channel="C_RU", text="Confirm?")
    url = fake.new_response_url("C_RU", "U_RU", message_ts=original["ts"])
    async with httpx.AsyncClient() as http:
        await http.post(url, json={"replace_original": True, "text": "Done"})
        await http.post(url, json={"response_type": "in_channel", "text": "for everyone"})
        await http.post(url, json={"text": "just you"})
        await http.post(url, json={"delete_original": True})
        await http.post(url, json={"text": "5th use"})
        sixth = await http.post(url, json={"text": "6th use"})
    assert [m["text"] for m in fake.messages("C_RU")] == ["for everyone"]
    assert [m["text"] for m in fake.ephemerals("U_RU")] == ["just you", "5th use"]
    assert sixth.status_code == 404
    recorded = fake.calls_to("response_url")[0]
    assert recorded.args["replace_original"] is True and recorded.args["response_url_id"] in url


async def test_response_actions_update_push_and_clear_the_modal_stack(fake: FakeSlack, client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id="1.2.abc", view=CODE_VIEW))["view"]
    fake.apply_response_action(root["id"], {"response_action": "update",
                                            "view": {**CODE_VIEW, "title": {"type": "plain_text", "text": "Step 2"}}})
    assert fake.views[root["id"]]["title"]["text"] == "Step 2"
    fake.apply_response_action(root["id"], {"response_action": "push", "view": CODE_VIEW})
    pushed = [v for v in fake.views.values() if v["root_view_id"] == root["id"] and v["id"] != root["id"]]
    assert [v["previous_view_id"] for v in pushed] == [root["id"]]
    fake.apply_response_action(pushed[0]["id"], {"response_action": "errors", "errors": {"code": "no"}})
    assert pushed[0]["id"] in fake.views
    fake.apply_response_action(pushed[0]["id"], {"response_action": "clear"})
    assert root["id"] not in fake.views and pushed[0]["id"] not in fake.views
    assert [c.effect["kind"] for c in fake.calls_to("response_action")][-3:] == ["view_update", "view_open", "view_close"]


async def test_response_url_replaces_an_ephemeral_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    shown = await client.chat_postEphemeral(channel="C_RE", user="U_RE", text="Confirm 3 SIMs?")
    url = fake.new_response_url("C_RE", "U_RE", message_ts=shown["message_ts"], ephemeral=True)
    async with httpx.AsyncClient() as http:
        await http.post(url, json={"replace_original": True, "text": "3 SIMs activated"})
    assert [m["text"] for m in fake.ephemerals("U_RE")] == ["3 SIMs activated"]


# ---- SlackSender into a tiny bolt app -----------------------------------------------------------------------------
class Seen:
    def __init__(self) -> None:
        self.bodies: list[dict] = []


@pytest.fixture
async def bolt(fake: FakeSlack) -> AsyncIterator[tuple[SlackSender, Seen]]:
    seen = Seen()
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=fake.api_url))

    @app.command("/sim")
    async def sim(ack, body, client, respond) -> None:  # noqa: ANN001
        seen.bodies.append(body)
        if body["text"] == "ask":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=CODE_VIEW)
            return
        await ack(f"working on {body['text']}")
        await client.chat_postMessage(channel=body["channel_id"], text=f"{body['text']} done", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{body['text']}* done"}},
            {"type": "actions", "block_id": "confirm", "elements": [
                {"type": "button", "action_id": "go", "value": "order-7", "style": "primary",
                 "text": {"type": "plain_text", "text": "Confirm"}}]}])

    @app.action("go")
    async def go(ack, body, respond) -> None:  # noqa: ANN001
        await ack()
        seen.bodies.append(body)
        await respond(replace_original=True, text=f"confirmed {body['actions'][0]['value']}")

    @app.view("mfa_code")
    async def code(ack, body, view) -> None:  # noqa: ANN001
        seen.bodies.append(body)
        if view["state"]["values"]["code"]["value"]["value"] != "123456":
            await ack(response_action="errors", errors={"code": "Wrong code"})
            return
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    web = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test") as http:
        yield SlackSender(SECRET, http, fake=fake), seen


async def settle_app(fake: FakeSlack, method: str, channel: str) -> None:
    await fake.wait_for(method, lambda c: c.args.get("channel") == channel)


async def test_command_acks_and_posts_to_the_channel(fake: FakeSlack, bolt: tuple[SlackSender, Seen]) -> None:
    sender, seen = bolt
    response = await sender.command("/sim", "list", user_id="U123", channel_id="C_CMD")
    assert response.status_code == 200 and response.text == "working on list"
    await settle_app(fake, "chat.postMessage", "C_CMD")
    assert [m["text"] for m in fake.messages("C_CMD")] == ["list done"]
    body = seen.bodies[0]
    assert (body["user_id"], body["channel_id"], body["team_id"]) == ("U123", "C_CMD", "T0LOCAL")
    assert body["response_url"].startswith(fake.base_url)


async def test_button_press_reaches_its_handler_and_replaces_the_message(fake: FakeSlack, bolt: tuple[SlackSender, Seen]) -> None:
    sender, seen = bolt
    await sender.command("/sim", "order", user_id="U1", channel_id="C_BTN")
    await settle_app(fake, "chat.postMessage", "C_BTN")
    message = fake.messages("C_BTN")[0]
    response = await sender.block_action("go", user_id="U2", channel_id="C_BTN", message=message)
    assert response.status_code == 200
    await fake.wait_for("response_url", lambda c: c.args.get("text") == "confirmed order-7")
    action = seen.bodies[-1]
    pressed = action["actions"][0]
    assert (pressed["action_id"], pressed["value"], pressed["block_id"], pressed["type"]) == ("go", "order-7", "confirm", "button")
    assert action["user"]["id"] == "U2" and action["container"]["message_ts"] == message["ts"]
    assert [m["text"] for m in fake.messages("C_BTN")] == ["confirmed order-7"]


async def test_view_submission_errors_come_back_and_keep_the_modal(fake: FakeSlack, bolt: tuple[SlackSender, Seen]) -> None:
    sender, seen = bolt
    await sender.command("/sim", "ask", user_id="U_MOD", channel_id="C_MOD")
    trigger_id = seen.bodies[-1]["trigger_id"]
    opened = await fake.wait_for("views.open", lambda c: c.ok and c.args["trigger_id"] == trigger_id)
    view = fake.views[opened.response["view"]["id"]]

    wrong = await sender.view_submission(view, answers={"code": "000000", "speed": "fast"}, user_id="U_MOD")
    assert wrong.json() == {"response_action": "errors", "errors": {"code": "Wrong code"}}
    assert view["id"] in fake.views
    submitted = seen.bodies[-1]["view"]
    assert submitted["state"]["values"]["speed"]["pick"]["selected_option"]["value"] == "s1.fast"
    assert submitted["private_metadata"] == "pending-42"

    right = await sender.view_submission(view, input_values(view, {"code": "123456"}), user_id="U_MOD")
    assert right.status_code == 200 and not right.content
    assert view["id"] not in fake.views


@pytest.mark.parametrize("forge", [{"secret": "wrong"}, {"clock": lambda: time.time() - 600}])
async def test_forged_or_stale_requests_are_refused(fake: FakeSlack, bolt: tuple[SlackSender, Seen], forge: dict) -> None:
    sender, seen = bolt
    response = await sender.with_signature(**forge).command("/sim", "list", channel_id="C_FORGED")
    assert response.status_code == 401
    assert seen.bodies == []


def test_sign_request_matches_slacks_documented_example() -> None:
    # The example of https://api.slack.com/authentication/verifying-requests-from-slack
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
            b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
            b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    headers = sign_request("8f742231b10e8888abcd99yyyzzz85a5", body, 1531420618)
    assert headers["X-Slack-Signature"] == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


# ---- rendering and the console ------------------------------------------------------------------------------------
SIM_MESSAGE = {
    "text": "fallback",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "SIM 440100000000001"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Owned by <@U123|alice> in <#C9|ops>"},
         "fields": [{"type": "mrkdwn", "text": "*Status*\nactive"}, {"type": "mrkdwn", "text": "*Speed*\ns1.fast"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "sandbox &amp; emulator"}]},
        {"type": "divider"},
        {"type": "actions", "block_id": "act", "elements": [
            {"type": "button", "action_id": "confirm", "value": "p1", "style": "primary",
             "text": {"type": "plain_text", "text": "Confirm"}},
            {"type": "button", "action_id": "cancel", "value": "p1", "style": "danger",
             "text": {"type": "plain_text", "text": "Cancel"}},
            {"type": "static_select", "action_id": "speed", "placeholder": {"type": "plain_text", "text": "Speed"},
             "options": CODE_VIEW["blocks"][1]["element"]["options"]}]},
    ],
}


def test_render_message_shows_texts_and_numbered_buttons() -> None:
    text = render_message(SIM_MESSAGE, start=3)
    for expected in ("== SIM 440100000000001 ==", "Owned by @alice in #ops", "Status: active", "Speed: s1.fast",
                     "sandbox & emulator", "[3] Confirm (primary)", "[4] Cancel (danger)", "[5] Speed v (slow, fast)"):
        assert expected in text
    assert "fallback" not in text
    refs = collect_actions(SIM_MESSAGE, start=3)
    assert [(r.number, r.action_id, r.value, r.block_id, r.kind) for r in refs] == [
        (3, "confirm", "p1", "act", "button"), (4, "cancel", "p1", "act", "button"),
        (5, "speed", None, "act", "static_select")]
    assert render_message({"text": "plain <https://x.test|link>"}) == "plain link (https://x.test)"


def test_render_view_shows_inputs_with_hints_and_options() -> None:
    text = render_view({**CODE_VIEW, "id": "V1"})
    assert text.splitlines()[0] == "=== Confirm ==="
    assert "Code: <plain_text_input>" in text and "(6 digits from your app)" in text
    assert "1) slow  2) fast" in text and "[Submit: Run]" in text
    assert collect_actions({**CODE_VIEW, "id": "V1"}) == []


async def wait_for_app_tasks() -> None:
    """The console's settle(): the app's listeners still running after their ack."""
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    if others:
        await asyncio.wait(others, timeout=5)


async def test_console_script_runs_a_command_and_presses_a_button(fake: FakeSlack, bolt: tuple[SlackSender, Seen]) -> None:
    sender, seen = bolt
    out = io.StringIO()
    console = Console(sender, fake, wait_for_app_tasks, user_id="U_CON", channel_id="C_CON", out=out)
    await console.run_script(["# a comment", "/sim list", "press Confirm"])
    printed = out.getvalue()
    assert "> /sim list" in printed and "a comment" not in printed
    assert "working on list" in printed and "*list* done" in printed and "[1] Confirm (primary)" in printed
    assert "confirmed order-7" in printed
    assert [m["text"] for m in fake.messages("C_CON")] == ["confirmed order-7"]
    assert [m["text"] for m in fake.ephemerals("U_CON")] == ["working on list"]
    assert seen.bodies[-1]["user"]["id"] == "U_CON"


async def test_console_fills_a_modal_and_asks_again_on_errors(fake: FakeSlack, bolt: tuple[SlackSender, Seen]) -> None:
    sender, seen = bolt
    out = io.StringIO()
    console = Console(sender, fake, wait_for_app_tasks, user_id="U_CM", channel_id="C_CM", out=out)
    await console.run_script(["/sim ask", "input 000000", "input 2", "input 123456", "/sim list"])
    printed = out.getvalue()
    assert "--- modal opened ---" in printed and "Code: 000000" in printed and "Speed [1-2]: 2" in printed
    assert "! Code: Wrong code" in printed and "Code: 123456" in printed and "modal closed: Confirm" in printed
    submissions = [b["view"]["state"]["values"] for b in seen.bodies if b.get("type") == "view_submission"]
    assert [(v["code"]["value"]["value"], v["speed"]["pick"]["selected_option"]["value"]) for v in submissions] == [
        ("000000", "s1.fast"), ("123456", "s1.fast")]
    submitted_id = next(b["view"]["id"] for b in seen.bodies if b.get("type") == "view_submission")
    assert submitted_id not in fake.views
    assert "working on list" in printed  # the script went on after the modal


async def test_console_interactive_reads_input_until_quit(fake: FakeSlack, bolt: tuple[SlackSender, Seen]) -> None:
    sender, _ = bolt
    typed = iter(["/sim status", ":user U_OTHER", "/sim again", ":quit", "/sim never"])
    out = io.StringIO()
    console = Console(sender, fake, wait_for_app_tasks, channel_id="C_INT", out=out,
                      input_func=lambda prompt: next(typed), banner="Hello console")
    await console.run_interactive()
    assert out.getvalue().startswith("Hello console")
    assert [m["text"] for m in fake.messages("C_INT")] == ["status done", "again done"]
    assert [m["text"] for m in fake.ephemerals("U_OTHER")] == ["working on again"]
