"""Alert cards: one event with its fix-it buttons, and the summary card of a storm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.messages import t
from handlers.views.common import fields, note, plain, text
from handlers.views.devices import diagnose_button
from handlers.views.sim import sim_label

SLOW_ACTION = "alerts_slow_down"
SUSPEND_ACTION = "alerts_suspend"
SHOW_ACTION = "alerts_show_sim"
MUTE_ACTION = "alerts_mute_sim"
STORM_SLOW_ACTION = "alerts_storm_slow_down"
MAX_HISTORY = 10
MIB = 1024 * 1024


@dataclass
class Card:
    """What a card shows; kept with the event so that a pressed button can redraw it."""

    rule: str
    imsi: str
    name: str | None
    group: str | None
    limit_mib: int | None
    value_bytes: int | None
    when: str
    old_status: str | None = None
    new_status: str | None = None
    history: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Card":
        return cls(**data)


def happened(card: Card) -> str:
    return t(f"alerts.what.{card.rule}", limit=card.limit_mib or 0, old=card.old_status or "?",
             new=card.new_status or "?")


def card_text(card: Card) -> str:
    return t("alerts.card_title", sim=sim_label(card.imsi, card.name), what=happened(card))


def card_blocks(card: Card, event_id: int) -> list[Block]:
    value = str(event_id)
    pairs = [(t("alerts.field_sim"), sim_label(card.imsi, card.name).replace("`", "")),
             (t("alerts.field_group"), card.group or t("alerts.no_group")),
             (t("alerts.field_rule"), card.rule),
             (t("alerts.field_when"), card.when)]
    if card.limit_mib is not None:
        pairs.append((t("alerts.field_limit"), f"{card.limit_mib} MiB"))
    if card.value_bytes is not None:
        pairs.append((t("alerts.field_value"), f"{card.value_bytes / MIB:,.1f} MiB"))  # the threshold's unit
    blocks: list[Block] = [text(card_text(card)), *fields(pairs), ActionsBlock(block_id="alert_buttons", elements=[
        ButtonElement(text=plain(t("alerts.button_slow")), action_id=SLOW_ACTION, value=value),
        ButtonElement(text=plain(t("alerts.button_suspend")), action_id=SUSPEND_ACTION, value=value, style="danger"),
        ButtonElement(text=plain(t("alerts.button_show")), action_id=SHOW_ACTION, value=value),
        ButtonElement(text=plain(t("alerts.button_mute")), action_id=MUTE_ACTION, value=value),
        diagnose_button(card.imsi),
    ])]
    blocks += [note(line) for line in card.history[-MAX_HISTORY:]]
    return blocks


def storm_text(rule: str, count: int, limit_mib: int | None) -> str:
    return t(f"alerts.storm.{rule}", count=count, limit=limit_mib or 0)


def storm_blocks(rule: str, count: int, limit_mib: int | None, storm_id: int, history: list[str]) -> list[Block]:
    blocks: list[Block] = [text(storm_text(rule, count, limit_mib)), note(t("alerts.storm_note")),
                           ActionsBlock(block_id="storm_buttons", elements=[
                               ButtonElement(text=plain(t("alerts.button_slow_all")), action_id=STORM_SLOW_ACTION,
                                             value=str(storm_id), style="primary")])]
    return blocks + [note(line) for line in history[-MAX_HISTORY:]]
