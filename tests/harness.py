"""Drives the bot as Slack does (signed HTTP into the bolt app) with the emulator as SORACOM and the stand-in as Slack."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyotp
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.local import LocalBot
from bot.localslack import FakeSlack
from tests.clock import Clock

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100


class Harness:
    def __init__(self, local: LocalBot, clock: Clock) -> None:
        self.local = local
        self.clock = clock

    @property
    def fake(self) -> FakeSlack:
        return self.local.fake

    @property
    def rt(self):  # type: ignore[no-untyped-def]
        assert self.local.rt is not None
        return self.local.rt

    @property
    def emulator(self):  # type: ignore[no-untyped-def]
        return self.rt.emulator

    async def command(self, line: str, user: str = "U_OP", channel: str = "C_OPS") -> httpx.Response:
        """Types a slash command line such as "/sim list" and waits until the bot has finished."""
        command, _, text = line.partition(" ")
        assert self.local.sender is not None
        response = await self.local.sender.command(command, text, user_id=user, channel_id=channel)
        await self.local.settle()
        return response

    async def press(self, action_id: str, user: str = "U_OP", *, value: str | None = None,
                    channel: str = "C_OPS") -> httpx.Response:
        """Presses the newest button with this action_id among the messages and modals the user was shown."""
        container, element = self.find_element(action_id, value=value)
        assert self.local.sender is not None
        in_view = "callback_id" in container or container.get("type") == "modal"
        response = await self.local.sender.block_action(
            action_id,
            element.get("value"),
            user_id=user,
            channel_id=channel,
            message=None if in_view else container,
            view=container if in_view else None,
        )
        await self.local.settle()
        return response

    async def submit(self, values: dict[str, dict[str, Any]], user: str = "U_OP",
                     view: dict[str, Any] | None = None) -> httpx.Response:
        """Submits the newest open modal (or `view`) with input values {block_id: {action_id: value-dict}}."""
        assert self.local.sender is not None
        target = view or self.latest_view()
        response = await self.local.sender.view_submission(target, values, user_id=user)
        await self.local.settle()
        return response

    async def submit_code(self, code: str, user: str = "U_OP", view: dict[str, Any] | None = None) -> httpx.Response:
        return await self.submit({"gate_code": {"code": {"type": "plain_text_input", "value": code}}}, user, view)

    # What Slack was sent

    def latest_view(self) -> dict[str, Any]:
        opened = [c for c in self.fake.calls if c.method in ("views.open", "views.update", "views.push")]
        assert opened, "no modal was opened"
        view_id = None
        for call in reversed(opened):
            view_id = call.args.get("view_id") or (call.response or {}).get("view", {}).get("id")
            if view_id:
                break
        return self.fake.views[view_id] if view_id in self.fake.views else list(self.fake.views.values())[-1]

    def texts(self, user: str | None = None) -> list[str]:
        """Every text a person would read in what the bot sent (to `user` privately, or anywhere)."""
        out = []
        for call in self.fake.calls:
            if user and call.args.get("user") not in (None, user) and call.method == "chat.postEphemeral":
                continue
            out.append(_all_text(call.args))
        return out

    def all_text(self) -> str:
        return "\n".join(self.texts())

    def find_element(self, action_id: str, value: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        for call in reversed(self.fake.calls):
            containers: list[dict[str, Any]] = []
            if isinstance(call.args.get("view"), dict):
                containers.append(self.fake.views.get(call.args.get("view_id") or "", call.args["view"]))
            if call.args.get("blocks"):
                containers.append({"ts": (call.response or {}).get("ts") or (call.response or {}).get("message_ts"),
                                   "blocks": call.args["blocks"], "text": call.args.get("text", "")})
            for container in containers:
                for block in container.get("blocks", []):
                    for element in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
                        if element.get("action_id") == action_id and (value is None or element.get("value") == value):
                            return container, element
        raise AssertionError(f"no element {action_id!r} in anything sent to Slack")

    # MFA

    async def enroll(self, user: str) -> pyotp.TOTP:
        """Enrolls a user directly (as /mfa enroll + verify would) and returns their authenticator."""
        new = await self.rt.mfa.enroll(user)
        totp = pyotp.TOTP(new.secret)
        assert (await self.rt.mfa.confirm(user, totp.at(self.clock.now))).ok
        self.clock.advance(30)
        return totp

    def code(self, totp: pyotp.TOTP) -> str:
        return totp.at(self.clock.now)


def _all_text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_all_text(v) for k, v in value.items() if k not in ("action_id", "block_id", "value"))
    if isinstance(value, list):
        return " ".join(_all_text(v) for v in value)
    if isinstance(value, str):
        return value
    return ""


def assert_valid_slack_payloads(fake: FakeSlack) -> None:
    """Every Block Kit payload the bot sent parses in slack_sdk's models and stays within Slack's limits."""
    for call in fake.calls:
        blocks = call.args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks:
            assert len(blocks) <= MAX_MESSAGE_BLOCKS, f"{call.method}: {len(blocks)} blocks"
            for block in blocks:
                parsed = Block.parse(block)
                assert parsed is not None, f"{call.method}: unparseable block {block}"
                parsed.validate_json()
        if len(call.args.get("text") or "") > 40000:
            raise AssertionError(f"{call.method}: text longer than 40,000 characters")
        view = call.args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if view:
            assert len(view.get("blocks", [])) <= MAX_VIEW_BLOCKS
            View(**view).validate_json()
            assert len(view.get("private_metadata") or "") <= 3000
