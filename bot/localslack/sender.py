"""Requests as Slack sends them to an app: slash commands and interactivity payloads, signed with v0 HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from bot.localslack.render import element_options, plain

if TYPE_CHECKING:
    from bot.localslack.fake_api import FakeSlack

VERIFICATION_TOKEN = "local-verification-token"
TEXT_INPUTS = ("plain_text_input", "number_input", "email_text_input", "url_text_input")
SINGLE_OPTION = ("static_select", "external_select", "radio_buttons", "overflow")
MULTI_OPTION = ("multi_static_select", "multi_external_select", "checkboxes")
SELECTED_KEY = {
    "users_select": "selected_user", "conversations_select": "selected_conversation",
    "channels_select": "selected_channel", "datepicker": "selected_date", "timepicker": "selected_time",
    "multi_users_select": "selected_users", "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}


def sign_request(secret: str, body: bytes, timestamp: int | float) -> dict[str, str]:
    """The headers Slack adds: v0 HMAC-SHA256 over "v0:{timestamp}:{body}"."""
    stamp = str(int(timestamp))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


# ---- modal inputs ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputField:
    block_id: str
    action_id: str
    label: str
    element: dict[str, Any]
    hint: str = ""
    optional: bool = False

    @property
    def kind(self) -> str:
        return self.element.get("type", "")

    @property
    def options(self) -> list[dict[str, Any]]:
        return list(element_options(self.element))


def input_fields(view: Mapping[str, Any]) -> list[InputField]:
    """The input blocks of a view, in order, as a person would fill them."""
    return [
        InputField(block["block_id"], block["element"].get("action_id", ""), plain(block.get("label")),
                   block["element"], plain(block.get("hint")), bool(block.get("optional")))
        for block in view.get("blocks", []) if block.get("type") == "input" and "element" in block
    ]


def input_values(view: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """view.state.values for a submission; answers are keyed by block_id (or action_id), unanswered inputs keep
    their initial value. A select answer may be an option's value, its text, or its 1-based number."""
    values: dict[str, dict[str, Any]] = {}
    for field in input_fields(view):
        answer = answers.get(field.block_id, answers.get(field.action_id))
        values[field.block_id] = {field.action_id: element_value(field.element, answer)}
    return values


def element_value(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    """The state/action value Slack reports for an element given a person's answer (None: left as it was)."""
    kind = element.get("type", "")
    if kind in TEXT_INPUTS:
        return {"type": kind, "value": element.get("initial_value") if answer is None else str(answer)}
    if kind in SINGLE_OPTION:
        chosen = element.get("initial_option") if answer is None else find_option(element, answer)
        return {"type": kind, "selected_option": chosen}
    if kind in MULTI_OPTION:
        if answer is None:
            return {"type": kind, "selected_options": element.get("initial_options", [])}
        answers = answer if isinstance(answer, list | tuple) else [a for a in str(answer).split(",") if a.strip()]
        return {"type": kind, "selected_options": [find_option(element, a) for a in answers]}
    if kind in SELECTED_KEY:
        initial = {k: v for k, v in element.items() if k.startswith("initial_")}
        return {"type": kind, SELECTED_KEY[kind]: next(iter(initial.values()), None) if answer is None else answer}
    if kind == "button":
        return {"type": kind, "text": element.get("text"), "value": element.get("value") if answer is None else answer}
    return {"type": kind, "value": answer}


def find_option(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    options = list(element_options(element))
    wanted = str(answer).strip()
    for option in options:
        if wanted in (option.get("value"), plain(option.get("text"))):
            return option
    if wanted.isdigit() and 1 <= int(wanted) <= len(options):
        return options[int(wanted) - 1]
    raise ValueError(f"no option {wanted!r}; choose one of: {', '.join(plain(o.get('text')) for o in options)}")


def find_element(blocks: list[dict[str, Any]], action_id: str,
                 block_id: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """(block_id, element) of the interactive element with this action_id in a message's or view's blocks."""
    for block in blocks:
        if block_id and block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in candidates:
            if element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    return None


# ---- the sender ------------------------------------------------------------------------------------------------
class SlackSender:
    """Posts signed Slack requests to the app through `http` (httpx.ASGITransport onto the app, or a real URL);
    with no `http` it only builds payloads (Socket Mode carries them in envelopes)."""

    def __init__(self, signing_secret: str, http: httpx.AsyncClient | None, path: str = "/slack/events",
                 fake: FakeSlack | None = None, team_id: str = "T0LOCAL", *, team_domain: str = "local",
                 api_app_id: str = "A0LOCAL", clock: Callable[[], float] = time.time) -> None:
        self.signing_secret = signing_secret
        self.http = http
        self.path = path
        self.fake = fake
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.clock = clock
        self._last: tuple[bytes, str] | None = None

    def with_signature(self, *, secret: str | None = None, clock: Callable[[], float] | None = None) -> "SlackSender":
        """A sender that signs differently, for tests of forged or stale requests
        (e.g. secret="wrong", or clock=lambda: time.time() - 600)."""
        return SlackSender(secret or self.signing_secret, self.http, self.path, self.fake, self.team_id,
                           team_domain=self.team_domain, api_app_id=self.api_app_id, clock=clock or self.clock)

    def sign(self, body: bytes, timestamp: float | None = None) -> dict[str, str]:
        return sign_request(self.signing_secret, body, self.clock() if timestamp is None else timestamp)

    async def post(self, body: bytes, content_type: str = "application/x-www-form-urlencoded", *,
                   retry_num: int | None = None, retry_reason: str = "http_timeout") -> httpx.Response:
        headers = {"Content-Type": content_type, **self.sign(body)}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        if self.http is None:
            raise RuntimeError("this sender only builds payloads: give it an httpx client to send them")
        self._last = (body, content_type)
        return await self.http.post(self.path, content=body, headers=headers)

    async def retry_last(self, retry_num: int = 1, reason: str = "http_timeout") -> httpx.Response:
        """Sends the previous request again, freshly signed and marked as Slack marks its retries."""
        if self._last is None:
            raise RuntimeError("nothing was sent yet")
        body, content_type = self._last
        return await self.post(body, content_type, retry_num=retry_num, retry_reason=reason)

    def command_form(self, command: str, text: str = "", *, user_id: str = "U_LOCAL", channel_id: str = "C_LOCAL",
                     user_name: str | None = None, channel_name: str | None = None) -> dict[str, str]:
        """A slash command's fields as Slack sends them (a form over HTTP, a JSON object over Socket Mode)."""
        return {
            "token": VERIFICATION_TOKEN, "team_id": self.team_id, "team_domain": self.team_domain,
            "channel_id": channel_id, "channel_name": channel_name or _channel_name(channel_id),
            "user_id": user_id, "user_name": user_name or user_id.lower(), "command": command, "text": text,
            "api_app_id": self.api_app_id, "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id, user_id), "trigger_id": self._trigger_id(),
        }

    async def command(self, command: str, text: str = "", *, user_id: str = "U_LOCAL", channel_id: str = "C_LOCAL",
                      user_name: str | None = None, channel_name: str | None = None) -> httpx.Response:
        """The ack's text or blocks then show in the fake as in Slack: to the user only, or in the channel when
        response_type is in_channel (recorded as a "command_response" call)."""
        form = self.command_form(command, text, user_id=user_id, channel_id=channel_id, user_name=user_name,
                                 channel_name=channel_name)
        response = await self.post(urlencode(form).encode())
        if self.fake is not None and response.status_code == 200 and response.content:
            self.fake.apply_command_response(channel_id, user_id, _reply_body(response))
        return response

    def block_action_payload(self, action_id: str, value: Any = None, *, user_id: str = "U_LOCAL",
                           channel_id: str | None = "C_LOCAL", message: dict[str, Any] | None = None,
                           view: dict[str, Any] | None = None, block_id: str | None = None,
                           action_type: str = "button", response_url: str | None = None,
                           trigger_id: str | None = None,
                           state_values: dict[str, Any] | None = None) -> dict[str, Any]:
        """A press (or selection) on an element of `message` or of the modal `view`; the element is looked up in
        their blocks to report its block_id, type and label as Slack would. `value` is the button's value
        (default: the element's) or the option chosen."""
        container_blocks = (view or message or {}).get("blocks", [])
        found = find_element(container_blocks, action_id, block_id)
        block_id, element = found if found else (block_id or uuid.uuid4().hex[:5], {"type": action_type})
        action = {"action_id": action_id, "block_id": block_id, **element_value(element, value),
                  "action_ts": f"{self.clock():.6f}"}
        payload = {
            **self._envelope("block_actions", user_id),
            "trigger_id": trigger_id or self._trigger_id(),
            "actions": [action],
            "state": {"values": state_values or {}},
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = {**view, "state": {"values": state_values or {}}}
        else:
            channel_id = (message or {}).get("channel") or channel_id or "C_LOCAL"
            payload["channel"] = {"id": channel_id, "name": _channel_name(channel_id)}
            payload |= self._message_container(message, channel_id, user_id, response_url)
        return payload

    async def block_action(self, action_id: str, value: Any = None, **options: Any) -> httpx.Response:
        """Sends the press that `block_action_payload` describes (same arguments)."""
        return await self._send_payload(self.block_action_payload(action_id, value, **options))

    async def view_submission(self, view: dict[str, Any], values: dict[str, Any] | None = None, *,
                              user_id: str = "U_LOCAL", answers: Mapping[str, Any] | None = None) -> httpx.Response:
        """Submits a modal; `values` as view.state.values, or `answers` by block_id (see input_values).
        The fake then does with the modal what Slack would do with the ack body (close, update, push, keep)."""
        if values is None:
            values = input_values(view, answers or {})
        payload = {
            **self._envelope("view_submission", user_id),
            "trigger_id": self._trigger_id(),
            "view": {**view, "state": {"values": values}},
            "response_urls": [],
        }
        response = await self._send_payload(payload)
        if self.fake is not None and response.status_code == 200 and view.get("id"):
            self.fake.apply_response_action(view["id"], _json_or_none(response), submitted_hash=view.get("hash"))
        return response

    async def view_closed(self, view: dict[str, Any], *, user_id: str = "U_LOCAL") -> httpx.Response:
        payload = {**self._envelope("view_closed", user_id), "view": view, "is_cleared": False}
        if self.fake is not None and view.get("id"):
            self.fake.apply_response_action(view["id"], None)
        return await self._send_payload(payload)

    async def block_suggestion(self, action_id: str, value: str, *, user_id: str = "U_LOCAL",
                               view: dict[str, Any] | None = None, block_id: str | None = None) -> httpx.Response:
        """The typed text of an external_select; the response body holds the options the app offers."""
        found = find_element((view or {}).get("blocks", []), action_id, block_id)
        payload = {
            **self._envelope("block_suggestion", user_id),
            "action_id": action_id, "block_id": found[0] if found else (block_id or ""), "value": value,
        }
        if view is not None:
            payload |= {"container": {"type": "view", "view_id": view.get("id")}, "view": view}
        return await self._send_payload(payload)

    async def event(self, event: dict[str, Any]) -> httpx.Response:
        """An Events API callback (e.g. {"type": "app_mention", "user": ..., "text": ..., "channel": ...})."""
        body = {
            "token": VERIFICATION_TOKEN, "team_id": self.team_id, "api_app_id": self.api_app_id,
            "event": {"event_ts": f"{self.clock():.6f}", **event}, "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(self.clock()),
            "authorizations": [{"team_id": self.team_id, "user_id": "U0BOT", "is_bot": True,
                                "is_enterprise_install": False}],
        }
        return await self.post(json.dumps(body).encode(), "application/json")

    # ---- internals -------------------------------------------------------------------------------------------
    def _envelope(self, kind: str, user_id: str) -> dict[str, Any]:
        return {
            "type": kind, "token": VERIFICATION_TOKEN, "api_app_id": self.api_app_id,
            "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": self.team_id},
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None, "is_enterprise_install": False,
        }

    def _message_container(self, message: dict[str, Any] | None, channel_id: str, user_id: str,
                           response_url: str | None) -> dict[str, Any]:
        ts = (message or {}).get("ts")
        ephemeral = bool((message or {}).get("is_ephemeral"))
        url = response_url or self._response_url(channel_id, user_id, message_ts=ts, ephemeral=ephemeral)
        fields: dict[str, Any] = {
            "container": {"type": "message", "message_ts": ts, "channel_id": channel_id, "is_ephemeral": ephemeral},
            "response_url": url,
        }
        if message is not None and not ephemeral:  # Slack leaves ephemeral messages out of the payload
            fields["message"] = {k: v for k, v in message.items() if k != "channel"}
        return fields

    async def _send_payload(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post(urlencode({"payload": json.dumps(payload)}).encode())

    def _response_url(self, channel_id: str, user_id: str, **target: Any) -> str:
        if self.fake is None:
            return f"https://hooks.slack.com/actions/{self.team_id}/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex}"
        return self.fake.new_response_url(channel_id, user_id, **target)

    def _trigger_id(self) -> str:
        return self.fake.new_trigger_id() if self.fake is not None else f"{int(self.clock())}.{uuid.uuid4().hex}"


def _channel_name(channel_id: str) -> str:
    return "directmessage" if channel_id.startswith("D") else channel_id.lower()


def _reply_body(response: httpx.Response) -> dict[str, Any]:
    """bolt acks a slash command with plain text (ack("...")) or JSON (ack(blocks=...))."""
    return _json_or_none(response) or {"text": response.text}


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json() if response.content else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

