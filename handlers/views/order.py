"""Replies and modals of /order: the product/address picker, the quotation, orders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.messages import catalogue, t
from bot.services.orders import (
    ADDRESS_FIELDS,
    REQUIRED_ADDRESS_FIELDS,
    Address,
    OrderInfo,
    OrderLine,
    OrderPlan,
    ProductInfo,
)
from handlers.views.times import local_time
from handlers.views.common import DEFAULT_CURRENCY, MAX_MESSAGE_BLOCKS, Mrkdwn, clip, fields, money, note, text

PICKER_CALLBACK_ID = "order_pick"
PRODUCT_BLOCK_ID = "order_product"
PRODUCT_ACTION_ID = "product"
ADDRESS_BLOCK_ID = "order_address"
ADDRESS_ACTION_ID = "address"
ADDRESS_FIELD_ACTION_ID = "value"
REQUOTE_ACTION_ID = "order_requote"

MAX_OPTION_TEXT = 75  # Slack's limit for an option's text
MAX_OPTIONS = 100
ADDRESS_LABELS = {
    "companyName": "order.address_company",
    "department": "order.address_department",
    "fullName": "order.address_full_name",
    "zipCode": "order.address_zip",
    "state": "order.address_state",
    "city": "order.address_city",
    "addressLine1": "order.address_line1",
    "addressLine2": "order.address_line2",
    "building": "order.address_building",
    "phoneNumber": "order.address_phone",
}
ADDRESS_MAX_LENGTH = 100


@dataclass(frozen=True)
class OrderRequest:
    """What a quotation is made of: kept in a modal's private_metadata and a New quotation button's value."""

    quantity: int
    channel_id: str | None = None
    product_code: str | None = None
    address_id: str | None = None

    def encode(self) -> str:
        return json.dumps({"q": self.quantity, "c": self.channel_id, "p": self.product_code, "a": self.address_id},
                          separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> "OrderRequest":
        data = json.loads(value)
        return cls(int(data["q"]), data.get("c"), data.get("p"), data.get("a"))


@dataclass(frozen=True)
class PickerChoice:
    product_code: str | None
    address_id: str | None
    new_address: dict[str, str] | None  # the typed-in address, when the operator had none


# Formatting


def total_text(amount: float | None, currency: str | None) -> str:
    return f"{money(amount, currency)} {(currency or DEFAULT_CURRENCY).upper()}"


def product_name(product: ProductInfo | None) -> str:
    if product is None:
        return "?"
    return " ".join((product.name or product.code or "?").split())


def product_traits(product: ProductInfo) -> str:
    """Price, plan and SIM size, e.g. '¥1,500 · plan-KM1 · nano'."""
    parts = [money(product.price, product.currency), product.plan, product.sim_size]
    return " · ".join(p for p in parts if p)


def product_option(product: ProductInfo) -> Option:
    assert product.code, "the order service offers only products that have a code"
    label = clip(f"{product_traits(product)} — {product_name(product)}", MAX_OPTION_TEXT)
    return Option(value=product.code, text=PlainTextObject(text=label))


def address_text(address: Address | None) -> str:
    if address is None:
        return "?"
    who = " ".join(p for p in (address.full_name, address.company_name, address.department) if p)
    where = " ".join(p for p in (f"〒{address.zip_code}" if address.zip_code else None, address.state, address.city,
                                 address.line1, address.line2, address.building) if p)
    return ", ".join(p for p in (who, where, address.phone) if p)


def address_option(address: Address) -> Option:
    assert address.id, "the order service offers only addresses that have an id"
    return Option(value=address.id, text=PlainTextObject(text=clip(address_text(address), MAX_OPTION_TEXT)))


def status_text(status: str | None) -> str:
    """The spec's orderStatus in words; no status at all means a quotation that was never confirmed."""
    message_id = f"order.status_{status or 'quotation'}"
    return t(message_id) if message_id in catalogue() else str(status)


def items_text(order: OrderInfo) -> str:
    """'2 × SORACOM Air SIM card plan-KM1 …' for each item, joined."""
    return ", ".join(f"{line.quantity:,} × {product_name(line.product)}" for line in order.lines)


def order_time(value: str | None, tz: tzinfo = timezone.utc) -> str:
    """SORACOM's yyyyMMddHHmmss (UTC) as 'yyyy-MM-dd HH:mm ZONE' in the bot's zone."""
    try:
        moment = datetime.strptime(value or "", "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return value or "—"
    return local_time(moment, tz)


# The picker modal


def loading_modal() -> View:
    return View(type="modal", title=PlainTextObject(text=t("order.picker_title")),
                close=PlainTextObject(text=t("common.cancel")), blocks=[text(t("order.picker_loading"))])


def picker_modal(plan: OrderPlan, request: OrderRequest) -> View:
    blocks: list[Block] = [text(t("order.picker_intro", qty=plan.quantity))]
    blocks += _product_blocks(plan)
    blocks += _address_blocks(plan)
    metadata = OrderRequest(plan.quantity, request.channel_id,
                            plan.product.code if plan.product else None,
                            plan.address.id if plan.address else None)
    return View(
        type="modal",
        callback_id=PICKER_CALLBACK_ID,
        private_metadata=metadata.encode(),
        title=PlainTextObject(text=t("order.picker_title")),
        submit=PlainTextObject(text=t("order.picker_submit")),
        close=PlainTextObject(text=t("common.cancel")),
        blocks=blocks,
    )


def _product_blocks(plan: OrderPlan) -> list[Block]:
    if plan.product is not None:
        return [text(t("order.picker_product_fixed", product=f"{product_name(plan.product)} "
                                                           f"({product_traits(plan.product)})"))]
    blocks: list[Block] = [InputBlock(
        block_id=PRODUCT_BLOCK_ID,
        label=PlainTextObject(text=t("order.picker_product")),
        hint=PlainTextObject(text=t("order.picker_product_hint")),
        element=StaticSelectElement(action_id=PRODUCT_ACTION_ID,
                                    options=[product_option(p) for p in plan.products[:MAX_OPTIONS]]),
    )]
    if plan.hidden_products:
        blocks.append(note(t("order.picker_hidden", count=plan.hidden_products, qty=plan.quantity)))
    return blocks


def _address_blocks(plan: OrderPlan) -> list[Block]:
    if plan.address is not None:
        return [text(t("order.picker_address_fixed", address=address_text(plan.address)))]
    if plan.addresses:
        return [InputBlock(
            block_id=ADDRESS_BLOCK_ID,
            label=PlainTextObject(text=t("order.picker_address")),
            element=StaticSelectElement(action_id=ADDRESS_ACTION_ID,
                                        options=[address_option(a) for a in plan.addresses[:MAX_OPTIONS]]),
        )]
    inputs: list[Block] = [
        InputBlock(
            block_id=address_block_id(name),
            label=PlainTextObject(text=t(ADDRESS_LABELS[name])),
            optional=name not in REQUIRED_ADDRESS_FIELDS,
            element=PlainTextInputElement(action_id=ADDRESS_FIELD_ACTION_ID, max_length=ADDRESS_MAX_LENGTH),
        )
        for name in ADDRESS_FIELDS
    ]
    return [text(t("order.picker_address_new")), *inputs]


def address_block_id(field_name: str) -> str:
    return f"order_addr_{field_name}"


def picker_choice(view: dict[str, Any]) -> PickerChoice:
    """What the user picked or typed in the picker modal."""
    values = view.get("state", {}).get("values", {})

    def selected(block_id: str, action_id: str) -> str | None:
        return ((values.get(block_id, {}).get(action_id) or {}).get("selected_option") or {}).get("value")

    new_address = None
    if address_block_id("addressLine1") in values:
        new_address = {name: ((values.get(address_block_id(name), {}).get(ADDRESS_FIELD_ACTION_ID) or {})
                              .get("value") or "").strip()
                       for name in ADDRESS_FIELDS}
    return PickerChoice(selected(PRODUCT_BLOCK_ID, PRODUCT_ACTION_ID), selected(ADDRESS_BLOCK_ID, ADDRESS_ACTION_ID),
                        new_address)


def picker_errors(view: dict[str, Any], choice: PickerChoice, missing_fields: list[str]) -> dict[str, str]:
    """response_action errors keyed by block_id, for what the submission lacks."""
    present = view.get("state", {}).get("values", {})
    errors: dict[str, str] = {address_block_id(name): t("order.field_required") for name in missing_fields}
    if PRODUCT_BLOCK_ID in present and not choice.product_code:
        errors[PRODUCT_BLOCK_ID] = t("order.product_required")
    if ADDRESS_BLOCK_ID in present and not choice.address_id:
        errors[ADDRESS_BLOCK_ID] = t("order.address_required")
    return errors


# The quotation


def _first_item(quotation: OrderInfo) -> OrderLine:
    return quotation.lines[0] if quotation.lines else OrderLine(0, None)


def quotation_text(quotation: OrderInfo) -> str:
    item = _first_item(quotation)
    return t("order.quote_text", qty=item.quantity, product=product_name(item.product),
             total=total_text(quotation.total, quotation.currency),
             address=address_text(quotation.address), order_id=quotation.order_id)


def quotation_blocks(quotation: OrderInfo, requote: OrderRequest) -> list[Block]:
    item = _first_item(quotation)
    currency = quotation.currency
    unit = item.product.price if item.product else None
    return [
        text(t("order.quote_title", qty=item.quantity, product=product_name(item.product))),
        *fields([
            (t("order.unit_price"), money(unit, (item.product.currency if item.product else None) or currency)),
            (t("order.quantity"), f"{item.quantity:,}"),
            (t("order.product_amount"), money(item.amount, currency)),
            (t("order.shipping_cost"), money(quotation.shipping_cost, currency)),
            (t("order.tax"), money(quotation.tax, currency)),
            (t("order.total"), f"*{total_text(quotation.total, currency)}*"),
        ]),
        text(t("order.ship_to", address=address_text(quotation.address))),
        requote_section(requote),
        note(t("order.quote_note", order_id=quotation.order_id)),
    ]


def requote_section(requote: OrderRequest, markdown: str | None = None) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=clip(markdown or t("order.requote_hint"))),
        accessory=ButtonElement(text=t("order.requote"), action_id=REQUOTE_ACTION_ID, value=requote.encode()),
    )


def expired_blocks(message: str, requote: OrderRequest) -> list[Block]:
    return [requote_section(requote, message)]


# Orders


def placed_text(user_id: str, order: OrderInfo) -> str:
    item = _first_item(order)
    return t("order.placed", user=user_id, qty=item.quantity, product=product_name(item.product),
             order_id=order.order_id, total=total_text(order.total, order.currency),
             status=status_text(order.status))


def orders_blocks(orders: list[OrderInfo], total: int, tz: tzinfo = timezone.utc) -> list[Block]:
    if not orders:
        return [text(t("order.list_none"))]
    lines = [
        t("order.list_line", order_id=o.order_id, when=order_time(o.ordered_at, tz), items=items_text(o),
          total=total_text(o.total, o.currency), status=status_text(o.status))
        for o in orders
    ]
    chunks: list[Block] = [text("\n".join(lines[i : i + 10])) for i in range(0, len(lines), 10)]
    return [text(t("order.list_title", count=len(orders), total=total)), *chunks][:MAX_MESSAGE_BLOCKS - 1]


def order_blocks(order: OrderInfo, tz: tzinfo = timezone.utc) -> list[Block]:
    currency = order.currency
    item_lines = [
        t("order.item_line", qty=item.quantity, product=product_name(item.product),
          code=item.product.code if item.product else "?",
          price=money(item.product.price if item.product else None, currency),
          amount=money(item.amount, currency))
        for item in order.lines
    ]
    pairs = [
        (t("order.status"), status_text(order.status)),
        (t("order.ordered_at"), order_time(order.ordered_at, tz)),
        (t("order.shipping_cost"), money(order.shipping_cost, currency)),
        (t("order.tax"), money(order.tax, currency)),
        (t("order.total"), f"*{total_text(order.total, currency)}*"),
    ]
    if order.payment_status:
        pairs.append((t("order.payment"), order.payment_status))
    if order.shipped_at:
        pairs.append((t("order.shipped_at"), order_time(order.shipped_at, tz)))
    if order.tracking:
        pairs.append((t("order.tracking"), order.tracking))
    return [
        text(t("order.show_title", order_id=order.order_id)),
        text(t("order.items", lines=Mrkdwn("\n".join(item_lines)) or "—")),
        *fields(pairs),
        text(t("order.ship_to", address=address_text(order.address))),
    ]


def cancel_preview_text(order: OrderInfo) -> str:
    return t("order.cancel_preview", order_id=order.order_id, items=items_text(order),
             total=total_text(order.total, order.currency), status=status_text(order.status))


def cancelled_text(user_id: str, order: OrderInfo) -> str:
    return t("order.cancelled", user=user_id, order_id=order.order_id, items=items_text(order),
             total=total_text(order.total, order.currency), status=status_text(order.status))
