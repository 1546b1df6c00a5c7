"""/order end to end: signed Slack requests in, the emulator's orders and request log checked after."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from bot.emulator.seed import PLAN_KM1_PRODUCT_CODE, SEED_SHIPPING_ADDRESS_ID
from bot.services import audit
from bot.services.errors import InputError
from bot.services.orders import parse_quantity
from handlers import order as order_handlers
from handlers.views.common import money
from tests.conftest import OPERATOR, VIEWER

PLAN_D_CODE = "4573326590402"
OKINAWA_ADDRESS_ID = "0f6f1d2e-1111-4c1e-9a55-000000000047"


def calls(harness, operation_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [r for r in harness.emulator.requests if r.operation_id == operation_id]


def placed(harness) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [o for o in harness.emulator.orders.values() if "orderStatus" in o]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def audit_results(harness, action: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.result for e in reversed(await audit.latest(harness.rt.db, 100)) if e.action == action]


def add_plan_d(harness) -> None:  # type: ignore[no-untyped-def]
    product = copy.deepcopy(harness.emulator.products[PLAN_KM1_PRODUCT_CODE])
    product.update(productCode=PLAN_D_CODE, productName="SORACOM Air SIM card plan-D size:Micro 1 SIM pack1",
                   price=900, properties={"contractType": "data", "simSubscription": "plan-D", "simSize": "micro"})
    harness.emulator.products[PLAN_D_CODE] = product


def add_okinawa_address(harness) -> None:  # type: ignore[no-untyped-def]
    address = dict(harness.emulator.shipping_addresses[SEED_SHIPPING_ADDRESS_ID])
    address.update(shippingAddressId=OKINAWA_ADDRESS_ID, state="沖縄県", city="那覇市", zipCode="900-0001",
                   fullName="比嘉花子", shippingArea="okinawa")
    harness.emulator.shipping_addresses[OKINAWA_ADDRESS_ID] = address


async def answer_modal(harness, answers: dict[str, Any], user: str = OPERATOR):  # type: ignore[no-untyped-def]
    response = await harness.local.sender.view_submission(harness.latest_view(), answers=answers, user_id=user)
    await harness.local.settle()
    return response


async def place_order(harness, totp) -> str:  # type: ignore[no-untyped-def]
    await harness.command("/order sims 2")
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))
    harness.clock.advance(30)  # the next code is a fresh one
    (order,) = [o for o in placed(harness)]
    return order["orderId"]


# Pure pieces


def test_money_has_no_decimals_for_yen_and_thousands_separators() -> None:
    assert money(4147, "JPY") == "¥4,147"
    assert money(1234567.0, "JPY") == "¥1,234,567"
    assert money(12.5, "USD") == "$12.50"
    assert money(3, "CHF") == "CHF\u00a03.00"  # a code, not a symbol: CLDR's spacing keeps it off the digits


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1e3", "1000000", "2.5", "1001", "", "２", "0x10"])
def test_bad_quantities_are_refused(value: str) -> None:
    with pytest.raises(InputError):
        parse_quantity(value)


def test_good_quantities() -> None:
    assert [parse_quantity(v) for v in ("1", "2", "0100", "1000")] == [1, 2, 100, 1000]


# /order sims: quotation, confirm, exactly once


async def test_quotation_shows_the_seed_figures_privately(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    await harness.command("/order sims 2")

    (quote,) = calls(harness, "createQuotation")
    assert quote.json == {"orderItemList": [{"productCode": PLAN_KM1_PRODUCT_CODE, "quantity": 2}],
                          "shippingAddressId": SEED_SHIPPING_ADDRESS_ID}
    (shown,) = harness.fake.ephemerals(OPERATOR)
    text = harness.all_text()
    for figure in ("¥1,500", "¥3,000", "¥907", "¥240", "¥4,147 JPY", "plan-KM1", "山田太郎", "141-0022"):
        assert figure in text, figure
    buttons = [e for b in shown["blocks"] for e in b.get("elements", []) if e.get("type") == "button"]
    assert [b["action_id"] for b in buttons] == ["pending_confirm", "pending_cancel"]
    assert buttons[0]["style"] == "primary"
    assert not harness.fake.calls_to("chat.postMessage")  # nothing in the channel before Confirm
    assert not placed(harness) and not calls(harness, "confirmOrder")


async def test_confirm_with_a_code_places_exactly_one_order(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/order sims 2")
    await harness.press("pending_confirm")
    assert harness.latest_view()["callback_id"] == "gate_code"
    assert not calls(harness, "confirmOrder")

    response = await harness.submit_code(wrong(harness.code(totp)))
    assert response.json()["response_action"] == "errors"
    assert not calls(harness, "confirmOrder") and not placed(harness)

    await harness.submit_code(harness.code(totp))
    (order,) = placed(harness)
    assert order["orderStatus"] == "orderProcessing" and order["totalAmount"] == 4147
    assert len(calls(harness, "confirmOrder")) == 1
    (post,) = harness.fake.messages("C_OPS")
    assert f"<@{OPERATOR}> ordered 2 × SORACOM Air SIM card plan-KM1" in post["text"]
    assert order["orderId"] in post["text"] and "¥4,147 JPY" in post["text"]
    assert "payment pending" in post["text"]
    assert await audit_results(harness, "order.sims") == ["refused", "ok"]


async def test_double_confirm_and_retried_submit_confirm_once(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/order sims 2")
    await harness.press("pending_confirm")
    first = harness.latest_view()
    await harness.press("pending_confirm")  # a second click opens a second code modal
    second = harness.latest_view()
    assert first["id"] != second["id"]

    code = harness.code(totp)
    sender = harness.local.sender
    values = {"gate_code": {"code": {"type": "plain_text_input", "value": code}}}
    await asyncio.gather(sender.view_submission(first, values, user_id=OPERATOR),
                         sender.view_submission(second, values, user_id=OPERATOR),
                         sender.view_submission(first, values, user_id=OPERATOR))  # Slack's retry
    await harness.local.settle()
    harness.clock.advance(30)
    again = await harness.submit_code(harness.code(totp), view=second)  # a fresh code, later
    assert "already done, once" in str(again.json())

    assert len(calls(harness, "confirmOrder")) == 1
    assert len(placed(harness)) == 1
    assert len(harness.fake.messages("C_OPS")) == 1


async def test_every_bad_quantity_is_refused_without_an_order(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    for value in ("0", "-1", "abc", "1e3", "1000000", "2.5"):
        harness.fake.clear()
        await harness.command(f"/order sims {value}")
        assert f"`{value}` is not a quantity" in harness.all_text(), value
    harness.emulator.products[PLAN_KM1_PRODUCT_CODE]["maxQuantity"] = 10
    harness.fake.clear()
    await harness.command("/order sims 11")
    assert "at most 10" in harness.all_text()

    assert not calls(harness, "createQuotation") and not placed(harness)
    assert not harness.fake.calls_to("chat.postMessage") and not harness.fake.calls_to("views.open")
    assert set(await audit_results(harness, "order.sims")) == {"refused"}


async def test_without_mfa_enrollment_nothing_is_quoted(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/order sims 2")
    assert "/mfa enroll" in harness.all_text()
    assert not calls(harness, "createQuotation") and not calls(harness, "listProducts")


async def test_viewer_is_refused(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/order sims 2", user=VIEWER)
    await harness.command("/order cancel 20190919091648_92e9a82e", user=VIEWER)
    replies = [m["text"] for m in harness.fake.ephemerals(VIEWER)]
    assert len(replies) == 2 and all("needs the *operator* role" in r for r in replies)
    assert not calls(harness, "createQuotation") and not calls(harness, "cancelOrder")
    assert await audit_results(harness, "order.sims") == ["refused"]


# The picker modal


async def test_several_products_and_addresses_open_a_picker(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    add_plan_d(harness)
    add_okinawa_address(harness)
    await harness.command("/order sims 3")

    assert not calls(harness, "createQuotation")
    view = harness.latest_view()
    assert view["callback_id"] == "order_pick"
    shown = str(view["blocks"])
    assert "¥900 · plan-D · micro" in shown and "¥1,500 · plan-KM1 · nano" in shown
    assert "比嘉花子" in shown and "山田太郎" in shown

    response = await answer_modal(harness, {"order_product": PLAN_D_CODE})  # no address picked
    assert "order_address" in response.json()["errors"]
    assert not calls(harness, "createQuotation")

    await answer_modal(harness, {"order_product": PLAN_D_CODE, "order_address": OKINAWA_ADDRESS_ID})
    (quote,) = calls(harness, "createQuotation")
    assert quote.json == {"orderItemList": [{"productCode": PLAN_D_CODE, "quantity": 3}],
                          "shippingAddressId": OKINAWA_ADDRESS_ID}
    text = "\n".join(harness.texts(OPERATOR))
    assert "¥2,700" in text and "¥1,814" in text and "比嘉花子" in text  # 3 × 900, Okinawa shipping
    assert "Quotation ready" in str(harness.fake.calls_to("views.update")[-1].args["view"])
    assert harness.fake.ephemerals(OPERATOR)  # the quotation went to the channel, privately


async def test_a_product_code_picks_the_product(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    add_plan_d(harness)
    await harness.command(f"/order sims 4 {PLAN_D_CODE}")
    assert not harness.fake.calls_to("views.open")
    (quote,) = calls(harness, "createQuotation")
    assert quote.json["orderItemList"] == [{"productCode": PLAN_D_CODE, "quantity": 4}]

    await harness.command("/order sims 4 4589904880031")  # the seed's modem: not a SIM product
    assert "`4589904880031` is not a SIM product" in harness.all_text()
    assert len(calls(harness, "createQuotation")) == 1


async def test_no_address_asks_for_one_and_creates_it(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    harness.emulator.shipping_addresses.clear()
    await harness.command("/order sims 2")
    view = harness.latest_view()
    assert view["callback_id"] == "order_pick" and "No shipping address yet" in str(view["blocks"])

    address = {"order_addr_companyName": "株式会社サンプル", "order_addr_department": "IoT Platform",
               "order_addr_fullName": "山田太郎", "order_addr_zipCode": "141-0022", "order_addr_state": "東京都",
               "order_addr_city": "品川区", "order_addr_addressLine1": "東五反田 1-2-3",
               "order_addr_building": "サンプルビル 8階"}
    response = await answer_modal(harness, address)  # no phone number
    assert list(response.json()["errors"]) == ["order_addr_phoneNumber"]
    assert not harness.emulator.shipping_addresses and not calls(harness, "createQuotation")

    await answer_modal(harness, {**address, "order_addr_phoneNumber": "03-0000-0000"})
    (created,) = harness.emulator.shipping_addresses.values()
    assert created["fullName"] == "山田太郎" and created["state"] == "東京都" and created["countryCode"] == "JP"
    assert created["building"] == "サンプルビル 8階" and "addressLine2" not in created
    (quote,) = calls(harness, "createQuotation")
    assert quote.json["shippingAddressId"] == created["shippingAddressId"]
    assert "¥4,147" in "\n".join(harness.texts(OPERATOR))
    assert await audit_results(harness, "order.address") == ["ok"]


async def test_slow_soracom_gets_the_modal_opened_first(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(order_handlers, "MODAL_DEADLINE", 0)
    await harness.enroll(OPERATOR)
    add_plan_d(harness)
    await harness.command("/order sims 2")
    opened, updated = harness.fake.calls_to("views.open"), harness.fake.calls_to("views.update")
    assert len(opened) == 1 and "Looking up SIM products" in str(opened[0].args["view"])
    assert len(updated) == 1 and updated[0].args["view_id"] == opened[0].response["view"]["id"]
    assert harness.latest_view()["callback_id"] == "order_pick"

    del harness.emulator.products[PLAN_D_CODE]
    harness.fake.clear()
    await harness.command("/order sims 2")  # nothing to pick: the modal just points at the quotation
    (updated,) = harness.fake.calls_to("views.update")
    assert "Quotation ready" in str(updated.args["view"])
    assert "¥4,147" in harness.all_text() and len(calls(harness, "createQuotation")) == 1


async def test_a_failed_quotation_is_reported_plainly(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    harness.emulator.faults.fail_next("POST", r"/orders$", status=500)
    await harness.command("/order sims 2")
    (reply,) = harness.fake.ephemerals(OPERATOR)
    assert "SORACOM refused" in reply["text"] and "Traceback" not in reply["text"]
    assert len(calls(harness, "createQuotation")) == 1  # a quotation is never repeated blindly
    assert not placed(harness)
    assert await audit_results(harness, "order.quote") == ["error"]


# Too old to confirm


async def test_quotation_expired_at_soracom_offers_a_fresh_one(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/order sims 2")
    (stale_id,) = harness.emulator.orders
    harness.emulator.advance(31 * 60)  # SORACOM's side: the quotation is older than 30 minutes
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))

    assert not placed(harness) and not harness.fake.messages("C_OPS")
    assert "too old to confirm" in "\n".join(harness.texts(OPERATOR))
    assert "too old to confirm" in str(harness.fake.calls_to("views.update")[-1].args["view"])  # the modal too
    assert await audit_results(harness, "order.sims") == ["refused"]

    harness.clock.advance(30)
    await harness.press("order_requote")  # the button offered with the refusal
    quotes = calls(harness, "createQuotation")
    assert len(quotes) == 2 and quotes[1].json == quotes[0].json
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))
    (order,) = placed(harness)
    assert order["orderId"] != stale_id and order["totalAmount"] == 4147
    assert "orderStatus" not in harness.emulator.orders[stale_id]


async def test_confirmation_expired_in_the_bot_offers_a_fresh_one(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/order sims 2")
    harness.clock.advance(6 * 60)  # the bot's side: a confirmation lasts 5 minutes
    await harness.press("pending_confirm")
    assert "has expired" in harness.all_text()
    assert not harness.fake.calls_to("views.open") and not calls(harness, "confirmOrder")

    await harness.press("order_requote")  # the button of the quotation message itself
    assert len(calls(harness, "createQuotation")) == 2
    (replaced,) = [c for c in harness.fake.calls_to("response_url") if c.args.get("replace_original")]
    assert "fresh quotation" in replaced.args["text"] and "pending_confirm" not in str(replaced.args["blocks"])
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))
    assert len(placed(harness)) == 1 and len(calls(harness, "confirmOrder")) == 1


# list, show, cancel


async def test_list_and_show(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/order list", user=VIEWER)
    assert "No orders yet" in harness.all_text()
    order_id = await place_order(harness, await harness.enroll(OPERATOR))

    harness.fake.clear()
    await harness.command("/order list", user=VIEWER)
    text = harness.all_text()
    assert order_id in text and "¥4,147 JPY" in text and "payment pending" in text

    harness.fake.clear()
    await harness.command(f"/order show {order_id}", user=VIEWER)
    text = harness.all_text()
    assert "2 × SORACOM Air SIM card plan-KM1" in text and "¥907" in text and "山田太郎" in text

    harness.fake.clear()
    await harness.command("/order show 20000101000000_deadbeef", user=VIEWER)
    assert "There is no order `20000101000000_deadbeef`" in harness.all_text()


async def test_cancel_is_gated(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    order_id = await place_order(harness, totp)
    harness.fake.clear()

    await harness.command(f"/order cancel {order_id}")
    assert harness.emulator.orders[order_id]["orderStatus"] == "orderProcessing"
    await harness.press("pending_confirm")
    await harness.submit_code(wrong(harness.code(totp)))
    assert harness.emulator.orders[order_id]["orderStatus"] == "orderProcessing"
    assert not calls(harness, "cancelOrder")

    await harness.submit_code(harness.code(totp))
    assert harness.emulator.orders[order_id]["orderStatus"] == "cancelled"
    assert len(calls(harness, "cancelOrder")) == 1
    (post,) = [m for m in harness.fake.messages("C_OPS") if "cancelled order" in m["text"]]
    assert order_id in post["text"]
    assert await audit_results(harness, "order.cancel") == ["refused", "ok"]


async def test_shipped_orders_cannot_be_cancelled(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    order_id = await place_order(harness, totp)

    await harness.command(f"/order cancel {order_id}")  # preview while it is still cancellable
    harness.emulator.orders[order_id]["orderStatus"] = "shipped"  # ships before the code is given
    await harness.press("pending_confirm")
    await harness.submit_code(harness.code(totp))
    assert "SORACOM refused to cancel" in harness.all_text()
    assert harness.emulator.orders[order_id]["orderStatus"] == "shipped"

    harness.fake.clear()
    await harness.command(f"/order cancel {order_id}")  # already shipped: refused plainly, no Confirm
    assert f"Order `{order_id}` cannot be cancelled: it is shipped" in harness.all_text()
    with pytest.raises(AssertionError):
        harness.find_element("pending_confirm")
    assert len(calls(harness, "cancelOrder")) == 1  # only the attempt SORACOM refused
    assert await audit_results(harness, "order.cancel") == ["refused", "refused"]
