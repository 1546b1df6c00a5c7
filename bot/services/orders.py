"""Ordering SIM cards in SORACOM words: SIM products, shipping addresses, quotations and orders."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.services.errors import InputError, WriteUnconfirmed, service
from bot.soracom import NotFound, SoracomClient, SoracomError
from bot.soracom.models import Order, Product, Quotation, ShippingAddress

MAX_QUANTITY = 1000  # a sane ceiling against typos; a product's own maxQuantity may lower it
RECENT_ORDERS = 20
SIM_PRODUCT_TYPE = "sim"
COUNTRY_CODE = "JP"  # SORACOM ships SIM cards of the Japan coverage to Japanese addresses only

WHOLE_NUMBER = re.compile(r"^[0-9]+$")
ORDER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

# The spec's orderStatus values after dispatch, or final: cancelOrder refuses them.
NOT_CANCELLABLE = frozenset({"shipped", "receiving", "received", "cancelling", "cancelled", "failed"})

# ShippingAddressModel fields, in the order of the seed transcript's form.
ADDRESS_FIELDS = ("companyName", "department", "fullName", "zipCode", "state", "city", "addressLine1",
                  "addressLine2", "building", "phoneNumber")
# The spec requires the first four; a parcel also needs someone to hand it to and a number to call.
REQUIRED_ADDRESS_FIELDS = ("zipCode", "state", "city", "addressLine1", "fullName", "phoneNumber")


@dataclass(frozen=True)
class ProductInfo:
    code: str | None
    name: str | None
    price: float | None = None
    currency: str | None = None
    plan: str | None = None  # the subscription a SIM of it comes with, e.g. plan-KM1
    sim_size: str | None = None
    max_quantity: int | None = None


@dataclass(frozen=True)
class Address:
    id: str | None
    full_name: str | None = None
    company_name: str | None = None
    department: str | None = None
    zip_code: str | None = None
    state: str | None = None
    city: str | None = None
    line1: str | None = None
    line2: str | None = None
    building: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class OrderLine:
    quantity: int
    product: ProductInfo | None
    amount: float | None = None


@dataclass(frozen=True)
class OrderInfo:
    """A quotation, or a placed order (it has a status)."""

    order_id: str | None
    lines: tuple[OrderLine, ...]
    currency: str | None
    total: float | None
    shipping_cost: float | None
    tax: float | None
    address: Address | None
    status: str | None = None
    ordered_at: str | None = None  # yyyyMMddHHmmss
    payment_status: str | None = None
    shipped_at: str | None = None
    tracking: str | None = None


def product_info(product: Product) -> ProductInfo:
    props = product.properties or {}
    return ProductInfo(product.productCode, product.productName, product.price, product.currency,
                       props.get("simSubscription"), props.get("simSize"), product.maxQuantity)


def address_info(address: ShippingAddress) -> Address:
    return Address(address.shippingAddressId, address.fullName, address.companyName, address.department,
                   address.zipCode, address.state, address.city, address.addressLine1, address.addressLine2,
                   address.building, address.phoneNumber)


def order_info(order: Quotation) -> OrderInfo:
    lines = tuple(OrderLine(item.quantity or 0, product_info(item.product) if item.product else None,
                            item.productAmount) for item in order.orderItemList or [])
    placed = order if isinstance(order, Order) else Order()
    return OrderInfo(order.orderId, lines, order.currency, order.totalAmount, order.shippingCost, order.taxAmount,
                     address_info(order.shippingAddress) if order.shippingAddress else None, placed.orderStatus,
                     placed.orderDateTime, placed.paymentStatus, placed.shippingDateTime, placed.shippingLabelNumber)


class QuotationExpired(Exception):
    """SORACOM no longer confirms this quotation; nothing was ordered."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id


class ConfirmUnknown(Exception):
    """SORACOM could not be reached while confirming: the order may or may not have been placed."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id


class CancelRefused(Exception):
    """SORACOM refused to cancel the order (it has shipped, for one); nothing changed."""

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.reason = reason


@dataclass(frozen=True)
class OrderOptions:
    """The SIM products on offer and the operator's shipping addresses."""

    products: list[ProductInfo]
    addresses: list[Address]


@dataclass(frozen=True)
class OrderPlan:
    """What is settled before the quotation: a single choice is settled, several are left to the user."""

    quantity: int
    products: list[ProductInfo]
    addresses: list[Address]
    hidden_products: int = 0  # SIM products left out because their order limit is below the quantity

    @property
    def product(self) -> ProductInfo | None:
        return self.products[0] if len(self.products) == 1 else None

    @property
    def address(self) -> Address | None:
        return self.addresses[0] if len(self.addresses) == 1 else None

    @property
    def settled(self) -> bool:
        return self.product is not None and self.address is not None


def parse_quantity(value: str) -> int:
    """A whole number from 1 to MAX_QUANTITY written in digits; InputError otherwise (e.g. 0, -1, 2.5, 1e3)."""
    if not WHOLE_NUMBER.match(value) or not 1 <= int(value) <= MAX_QUANTITY:
        raise InputError("order.qty_bad", value=value, limit=MAX_QUANTITY)
    return int(value)


def quantity_limit(product: ProductInfo) -> int:
    return min(MAX_QUANTITY, product.max_quantity) if product.max_quantity else MAX_QUANTITY


def check_quantity(product: ProductInfo, quantity: int) -> None:
    limit = quantity_limit(product)
    if quantity > limit:
        raise InputError("order.qty_over_limit", qty=quantity, limit=limit, product=product.name or product.code)


@service
async def order_options(client: SoracomClient) -> OrderOptions:
    products, addresses = await asyncio.gather(client.list_products(), client.list_shipping_addresses())
    sims = [product_info(p) for p in products.productList or [] if p.productType == SIM_PRODUCT_TYPE and p.productCode]
    return OrderOptions(sims, [address_info(a) for a in addresses if a.shippingAddressId])


def plan_order(options: OrderOptions, quantity: int, product_code: str | None = None) -> OrderPlan:
    """Narrows the choices: the product asked for, or the SIM products that can be ordered in this quantity."""
    if not options.products:
        raise InputError("order.no_products")
    if product_code:
        chosen = [p for p in options.products if p.code == product_code]
        if not chosen:
            codes = ", ".join(f"`{p.code}`" for p in options.products)
            raise InputError("order.unknown_product", code=product_code, codes=codes)
        check_quantity(chosen[0], quantity)
        return OrderPlan(quantity, chosen, options.addresses)
    if len(options.products) == 1:
        check_quantity(options.products[0], quantity)
    offered = [p for p in options.products if quantity <= quantity_limit(p)]
    if not offered:
        raise InputError("order.none_within_limit", qty=quantity)
    return OrderPlan(quantity, offered, options.addresses, len(options.products) - len(offered))


def missing_address_fields(fields: Mapping[str, str | None]) -> list[str]:
    return [name for name in REQUIRED_ADDRESS_FIELDS if not (fields.get(name) or "").strip()]


@service
async def create_address(client: SoracomClient, fields: Mapping[str, str | None]) -> Address:
    return address_info(await new_shipping_address(client, fields))


async def new_shipping_address(client: SoracomClient, fields: Mapping[str, str | None]) -> ShippingAddress:
    body = {name: value.strip() for name in ADDRESS_FIELDS if (value := fields.get(name)) and value.strip()}
    return await client.create_shipping_address({**body, "countryCode": COUNTRY_CODE})


@service
async def quote(client: SoracomClient, product_code: str, quantity: int, address_id: str) -> OrderInfo:
    """A quotation from SORACOM (POST /orders); never repeated blindly, since each call creates one."""
    return order_info(await client.create_quotation({product_code: quantity}, address_id))


@service
async def confirm(client: SoracomClient, order_id: str) -> OrderInfo:
    """Places the order of a quotation (PUT /orders/{id}/confirm); the client never repeats it blindly.

    When SORACOM does not answer, the order is read back: placed (it has a status) is a success; still a bare
    quotation is WriteUnconfirmed(changed=False); a failed read is ConfirmUnknown.
    """
    try:
        return order_info(await client.confirm_order(order_id))
    except SoracomError as exc:
        if _is_expiry(exc):
            raise QuotationExpired(order_id) from None
        if not exc.ambiguous:
            raise
        order = await placed(client, order_id)
        if order is None:
            raise WriteUnconfirmed(order_id, False, exc.message) from None
        return order


@service
async def placed(client: SoracomClient, order_id: str) -> OrderInfo | None:
    """The order if its quotation was confirmed (it has a status), else None; ConfirmUnknown when it cannot be read."""
    try:
        order = await client.get_order(order_id)
    except SoracomError:
        raise ConfirmUnknown(order_id) from None
    return order_info(order) if order.orderStatus is not None else None


def _is_expiry(exc: SoracomError) -> bool:
    return exc.status == 400 and (exc.code == "ORM0003" or "expire" in exc.message.lower())


@service
async def recent_orders(client: SoracomClient, limit: int = RECENT_ORDERS) -> tuple[list[OrderInfo], int]:
    """The newest `limit` confirmed orders, newest first, and how many there are in all."""
    orders = await client.list_orders()
    newest = sorted(orders, key=lambda o: o.orderDateTime or "", reverse=True)
    return [order_info(o) for o in newest[:limit]], len(orders)


@service
async def find_order(client: SoracomClient, order_id: str) -> OrderInfo:
    if not ORDER_ID.match(order_id):
        raise InputError("order.not_found", order_id=order_id)
    try:
        return order_info(await client.get_order(order_id))
    except NotFound:
        raise InputError("order.not_found", order_id=order_id) from None


def cancellable(order: OrderInfo) -> bool:
    """A placed order that has not shipped; a bare quotation (no status) is not an order to cancel."""
    return order.status is not None and order.status not in NOT_CANCELLABLE


@service
async def cancel(client: SoracomClient, order_id: str) -> OrderInfo:
    """Cancels the order and returns it as it now stands."""
    try:
        await client.cancel_order(order_id)
    except NotFound:
        raise InputError("order.not_found", order_id=order_id) from None
    except SoracomError as exc:
        if 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
            raise CancelRefused(order_id, exc.message) from None
        raise
    return order_info(await client.get_order(order_id))
