"""The confirmation preview and the code modal of gated actions."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.messages import t
from handlers.views.common import confirm_buttons, note, text

CODE_CALLBACK_ID = "gate_code"
CODE_BLOCK_ID = "gate_code"
CODE_ACTION_ID = "code"


def preview_blocks(pending_id: str, summary: list[Block], *, requires_code: bool, confirm_label: str | None,
                   danger: bool, dismiss_label: str | None = None) -> list[Block]:
    notes = [t("gate.expires")] + ([t("gate.needs_code")] if requires_code else [])
    buttons = confirm_buttons(pending_id, confirm_label=confirm_label, danger=danger, dismiss_label=dismiss_label)
    return [*summary, buttons, note("  ".join(notes))]


def code_modal(pending_id: str, summary_markdown: str) -> View:
    return View(
        type="modal",
        callback_id=CODE_CALLBACK_ID,
        private_metadata=pending_id,
        title=PlainTextObject(text=t("gate.modal_title")),
        submit=PlainTextObject(text=t("gate.modal_submit")),
        close=PlainTextObject(text=t("common.cancel")),
        blocks=[
            text(summary_markdown),
            InputBlock(
                block_id=CODE_BLOCK_ID,
                label=PlainTextObject(text=t("gate.code_label")),
                hint=PlainTextObject(text=t("gate.code_hint")),
                element=PlainTextInputElement(action_id=CODE_ACTION_ID, min_length=6, max_length=8,
                                              placeholder=PlainTextObject(text="123456")),
            ),
        ],
    )


def result_modal(markdown: str, title: str | None = None) -> View:
    return View(
        type="modal",
        title=PlainTextObject(text=title or t("gate.result_title")),
        close=PlainTextObject(text="Close"),
        blocks=[text(markdown)],
    )


def code_from(view: dict[str, Any]) -> str:
    values = view.get("state", {}).get("values", {})
    return (values.get(CODE_BLOCK_ID, {}).get(CODE_ACTION_ID, {}).get("value") or "").strip()
