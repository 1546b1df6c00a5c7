"""Block Kit pieces every subject uses. Pure functions: tests render them without Slack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from babel.dates import format_skeleton
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.messages import Mrkdwn as Mrkdwn
from bot.messages import babel_locale, current_language, escape, t, unescape

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_MESSAGE_TEXT = 40000  # Slack truncates a message's text beyond this; we cut it ourselves, visibly
SANDBOX_BLOCK_ID = "sandbox_marker"
DEFAULT_CURRENCY = "JPY"


def sandbox_marker() -> ContextBlock:
    return ContextBlock(block_id=SANDBOX_BLOCK_ID, elements=[MarkdownTextObject(text=t("common.sandbox_marker"))])


def with_marker(blocks: list[dict[str, Any]], sandbox: bool) -> list[dict[str, Any]]:
    """Appends the visible sandbox marker once, when the bot runs on the embedded emulator."""
    if not sandbox or any(b.get("block_id") == SANDBOX_BLOCK_ID for b in blocks):
        return blocks
    return [*blocks, sandbox_marker().to_dict()]


def plain(value: str) -> str:
    """Text for a plain_text field (button, option, title): Slack shows entities there as typed, so the
    catalogue's escaping is undone; markup is inert in plain_text anyway."""
    return unescape(value)


def mention(user_id: str) -> Mrkdwn:
    """The bot's own mention of a Slack user, kept live when filled into a message."""
    return Mrkdwn(f"<@{escape(user_id)}>")


def mention_channel(channel_id: str) -> Mrkdwn:
    """The bot's own link to a channel, kept live when filled into a message."""
    return Mrkdwn(f"<#{escape(channel_id)}>")


def text(markdown: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(markdown)), block_id=block_id)


def fields(pairs: Sequence[tuple[str, str]]) -> list[SectionBlock]:
    """Label/value pairs as section fields, 10 to a section (Slack's limit). What is not `Mrkdwn` (the
    catalogue's text) is data and is escaped here."""
    items = [MarkdownTextObject(text=clip(f"*{escape(label)}*\n{escape(value)}", 2000)) for label, value in pairs]
    return [SectionBlock(fields=items[i : i + 10]) for i in range(0, len(items), 10)]


def note(markdown: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(markdown))])


def confirm_buttons(pending_id: str, *, confirm_label: str | None = None, danger: bool = False,
                    block_id: str = "pending_buttons", dismiss_label: str | None = None) -> ActionsBlock:
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(text=confirm_label or t("common.confirm"), action_id="pending_confirm", value=pending_id,
                          style="danger" if danger else "primary"),
            ButtonElement(text=dismiss_label or t("common.cancel"), action_id="pending_cancel", value=pending_id),
        ],
    )


def money(amount: float | None, currency: str | None) -> str:
    """An amount as the reader's language writes it, with the currency's own decimals: ¥4,147, $12.00, €3.00."""
    if amount is None:
        return "—"
    code, locale = (currency or DEFAULT_CURRENCY).upper(), babel_locale(current_language())
    shown = format_currency(amount, code, locale=locale)
    symbol = get_currency_symbol(code, locale=locale)
    if symbol[-1:].isalpha():  # a code such as CHF: CLDR's currency spacing, which Babel leaves out
        shown = shown.replace(symbol, f"{symbol}\u00a0", 1)
    return shown


def number(value: float) -> str:
    """A count or quantity with the reader's digit grouping: 1,234."""
    return format_decimal(value, locale=babel_locale(current_language()))


def month_name(day: date) -> str:
    """The month of `day` in the reader's language: "December 2026", "2026年12月"."""
    return format_skeleton("yMMMM", day, locale=babel_locale(current_language()))


def message_text(value: str) -> str:
    """A message's top-level text (the notification and fallback) within Slack's limit."""
    return clip(value, MAX_MESSAGE_TEXT)


def clip(value: str, limit: int = MAX_SECTION_TEXT) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
