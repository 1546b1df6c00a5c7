"""What serve's process says itself when its worker process cannot take a request (down or hung past the relay's
patience, or too many waiting): nothing was done, try again in a minute (bot.postack)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t
from bot.runtime import Runtime
from handlers.common import speak_to, taken_request
from handlers.views import gate as views

log = logging.getLogger(__name__)


def _who(body: Mapping[str, Any]) -> tuple[str, str | None]:
    user = body.get("user")
    user_id = str(body.get("user_id") or (user.get("id") if isinstance(user, Mapping) else "") or "")
    channel = body.get("channel")
    container = body.get("container")
    channel_id = (body.get("channel_id") or (channel.get("id") if isinstance(channel, Mapping) else None)
                  or (container.get("channel_id") if isinstance(container, Mapping) else None))
    return user_id, channel_id


async def tell_not_run(rt: Runtime, client: AsyncWebClient, body: Mapping[str, Any]) -> None:
    user_id, channel_id = _who(body)
    if not user_id:
        return
    await speak_to(rt, client, user_id)
    taken = taken_request(dict(body), rt.worker_id)
    text = t("record.worker_busy_command", command=taken.command) if taken and taken.command \
        else t("record.worker_busy")
    await client.chat_postEphemeral(channel=channel_id or user_id, user=user_id, text=text)


def busy_answer(body: Mapping[str, Any]) -> BoltResponse:
    """A modal submission's answer within Slack's 3 s: the modal says nothing was done."""
    view = views.result_modal(t("record.worker_busy")).to_dict()
    return BoltResponse(status=200, body=json.dumps({"response_action": "update", "view": view}),
                        headers={"content-type": "application/json"})
