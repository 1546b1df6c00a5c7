"""The enrollment modal of /mfa enroll."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.messages import t
from handlers.views.common import text

ENROLL_CALLBACK_ID = "mfa_enroll"
ENROLL_BLOCK_ID = "mfa_code"
ENROLL_ACTION_ID = "code"


def enroll_modal(secret: str, uri: str, page_url: str) -> View:
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return View(
        type="modal",
        callback_id=ENROLL_CALLBACK_ID,
        title=PlainTextObject(text=t("mfa.enroll_title")),
        submit=PlainTextObject(text=t("mfa.enroll_submit")),
        close=PlainTextObject(text=t("common.cancel")),
        blocks=[
            text(t("mfa.enroll_intro")),
            text(t("mfa.enroll_link", url=page_url)),
            text(t("mfa.enroll_secret", secret=grouped)),
            text(t("mfa.enroll_uri", uri=uri)),
            InputBlock(
                block_id=ENROLL_BLOCK_ID,
                label=PlainTextObject(text=t("mfa.enroll_code_label")),
                element=PlainTextInputElement(action_id=ENROLL_ACTION_ID, min_length=6, max_length=8,
                                              placeholder=PlainTextObject(text="123456")),
            ),
        ],
    )
