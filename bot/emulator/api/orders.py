"""Payer information, shipping addresses, products, quotations and orders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.responses import Response

from bot.emulator.errors import bad_request, not_found, order_not_found
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.seed import SHIPPING_AREAS, SHIPPING_COSTS
from bot.emulator.state import OperatorData

QUOTATION_LIFETIME = timedelta(minutes=30)
TAX_PERCENT = 8
PARCEL_SIZE = 60
CANCELLABLE = frozenset({"orderProcessing", "ordering", "ordered", "kitting"})
SHIPPED = frozenset({"shipped", "receiving", "received"})
_ADDRESS_KEYS = ("countryCode", "zipCode", "state", "city", "addressLine1", "addressLine2", "building",
                 "companyName", "department", "fullName", "phoneNumber")
_PAYER_KEYS = ("companyName", "department", "fullName")


@handles("getPayerInformation")
def get_payer_information(call: Call) -> Response:
    if call.data.payer_information is None:
        raise bad_request("Payer information not found.", "PAM0001")
    return reply(call.data.payer_information)


@handles("registerPayerInformation")
def register_payer_information(call: Call) -> Response:
    body = call.object_body()
    if any(not isinstance(body.get(key, ""), str) for key in _PAYER_KEYS) or not any(body.get(k) for k in _PAYER_KEYS):
        raise bad_request("Invalid payer information: give companyName, department or fullName as strings.", "PAM0002")
    call.data.payer_information = {key: body[key] for key in _PAYER_KEYS if key in body}
    return no_content(201)


def shipping_area(state_name: str) -> str:
    for area, prefectures in SHIPPING_AREAS.items():
        if state_name in prefectures:
            return area
    raise bad_request(f"Unsupported state (prefecture): {state_name}. Write it as in 東京都.", "SHM0001")


@handles("listShippingAddresses")
def list_shipping_addresses(call: Call) -> Response:
    return reply({"shippingAddresses": list(call.data.shipping_addresses.values())})


@handles("createShippingAddress")
def create_shipping_address(call: Call) -> Response:
    body = call.object_body(("addressLine1", "city", "state", "zipCode"))
    if any(key in body and not isinstance(body[key], str) for key in _ADDRESS_KEYS):
        raise bad_request("Address fields must be strings.")
    address: dict[str, Any] = {"countryCode": body.get("countryCode") or "JP"}
    address.update({key: body[key] for key in _ADDRESS_KEYS[1:] if key in body})
    address["shippingAddressId"] = call.state.new_uuid()
    address["shippingArea"] = shipping_area(body["state"])
    call.data.shipping_addresses[address["shippingAddressId"]] = address
    return reply(address, status=201)


def get_address(data: OperatorData, address_id: str) -> dict[str, Any]:
    address = data.shipping_addresses.get(address_id)
    if address is None:
        raise not_found(f"The shipping address {address_id} does not exist.", "SHM0002")
    return address


@handles("getShippingAddress")
def get_shipping_address(call: Call) -> Response:
    return reply(get_address(call.data, call.params["shipping_address_id"]))


@handles("deleteShippingAddress")
def delete_shipping_address(call: Call) -> Response:
    address_id = call.params["shipping_address_id"]
    get_address(call.data, address_id)
    del call.data.shipping_addresses[address_id]
    return no_content(200)


@handles("listProducts")
def list_products(call: Call) -> Response:
    costs = [{"shippingArea": area, "shippingCost": cost, "currency": "JPY", "size": PARCEL_SIZE}
             for area, cost in SHIPPING_COSTS.items()]
    return reply({"productList": list(call.state.products.values()), "shippingCostList": costs})


def order_items(products: dict[str, dict[str, Any]], raw_items: Any) -> list[dict[str, Any]]:
    if not isinstance(raw_items, list) or not raw_items:
        raise bad_request("orderItemList must be a non-empty list.", "ORM0002")
    items = []
    for raw in raw_items:
        quantity = raw.get("quantity") if isinstance(raw, dict) else None
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise bad_request("Each order item needs a productCode and a quantity of 1 or more.", "ORM0002")
        product = products.get(raw.get("productCode"))
        if product is None:
            raise bad_request(f"Unknown product code: {raw.get('productCode')}.", "ORM0005")
        items.append({"product": dict(product), "quantity": quantity, "productAmount": product["price"] * quantity})
    return items


def order_address(address: dict[str, Any]) -> dict[str, Any]:
    """The address as an order embeds it: no ID, no area, no empty addressLine2 (as the seed transcript)."""
    return {key: address[key] for key in _ADDRESS_KEYS if key in address and (key != "addressLine2" or address[key])}


@handles("createQuotation")
def create_quotation(call: Call) -> Response:
    state = call.state
    body = call.object_body(("orderItemList", "shippingAddressId"))
    items = order_items(state.products, body["orderItemList"])
    address = call.data.shipping_addresses.get(body["shippingAddressId"])
    if address is None:
        raise bad_request(f"Unknown shippingAddressId: {body['shippingAddressId']}.", "ORM0006")
    product_amount = sum(item["productAmount"] for item in items)
    tax = product_amount * TAX_PERCENT // 100
    shipping = SHIPPING_COSTS[address["shippingArea"]]
    now = state.now()
    order_id = f"{now.strftime('%Y%m%d%H%M%S')}_{state.new_hex(8)}"
    order = {
        "orderId": order_id, "orderItemList": items, "shippingAddressId": address["shippingAddressId"],
        "shippingAddress": order_address(address), "shippingCost": shipping, "taxAmount": tax,
        "totalAmount": product_amount + shipping + tax,
        "email": state.operators[call.identity.operator_id]["email"], "currency": "JPY",
    }
    call.data.orders[order_id] = order
    call.data.quotation_created_at[order_id] = now
    return reply(order, status=201)


def get_order(data: OperatorData, order_id: str) -> dict[str, Any]:
    order = data.orders.get(order_id)
    if order is None:
        raise order_not_found(order_id)
    return order


def confirmed(order: dict[str, Any]) -> bool:
    return "orderStatus" in order


@handles("confirmOrder")
def confirm_order(call: Call) -> Response:
    state = call.state
    order = get_order(call.data, call.params["order_id"])
    if confirmed(order):
        raise bad_request(f"The order {order['orderId']} is already confirmed.", "ORM0004")
    if state.now() - call.data.quotation_created_at[order["orderId"]] > QUOTATION_LIFETIME:
        raise bad_request(f"The quotation {order['orderId']} has expired (older than 30 minutes). "
                          "Create a new quotation.", "ORM0003")
    order["orderDateTime"] = state.now().strftime("%Y%m%d%H%M%S")
    order["orderStatus"] = "orderProcessing"
    return reply(order)


@handles("listOrders")
def list_orders(call: Call) -> Response:
    orders = [order for order in call.data.orders.values() if confirmed(order)]
    return reply({"orderList": sorted(orders, key=lambda order: order["orderDateTime"], reverse=True)})


@handles("getOrder")
def get_order_endpoint(call: Call) -> Response:
    """A quotation too (without orderStatus), so a caller whose confirm got lost can tell whether it took effect."""
    return reply(get_order(call.data, call.params["order_id"]))


@handles("cancelOrder")
def cancel_order(call: Call) -> Response:
    order = get_order(call.data, call.params["order_id"])
    status = order.get("orderStatus")
    if status is None:
        raise bad_request(f"The order {order['orderId']} is only a quotation; there is nothing to cancel.", "ORM0007")
    if status in SHIPPED:
        raise bad_request(f"The order {order['orderId']} has already been shipped and cannot be cancelled.", "ORM0008")
    if status not in CANCELLABLE:
        raise bad_request(f"The order {order['orderId']} is {status} and cannot be cancelled.", "ORM0009")
    order["orderStatus"] = "cancelled"
    return no_content()
