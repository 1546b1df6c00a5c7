"""The sandbox API (soracom-sandbox-api.en.yaml): operator init, sign-up token, SIMs, traffic, shipping."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from bot.emulator.api.accounts import auth_response, create_operator, valid_email
from bot.emulator.api.event_handlers import traffic_added
from bot.emulator.api.stats import check_unixtime
from bot.emulator.api.subscribers import get_subscriber
from bot.emulator.auth import DEFAULT_TOKEN_TIMEOUT
from bot.emulator.errors import bad_request
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.state import Identity

SUBSCRIPTIONS = frozenset({"plan01s", "plan01s-low_data_volume", "planP1", "planXM1", "planX3", "plan-D", "plan-K",
                           "plan-KM1", "plan-DU", "plan-K2"})
_SANDBOX_SUBSCRIBER_KEYS = ("apn", "createdAt", "expiryTime", "imsi", "ipAddress", "lastModifiedAt", "msisdn",
                            "operatorId", "serialNumber", "speedClass", "status", "subscription", "tags")


@handles("sandboxInitializeOperator")
def initialize_operator(call: Call) -> Response:
    body = call.object_body(("email", "password", "authKeyId", "authKey"))
    operator = create_operator(call.state, valid_email(body["email"]), str(body["password"]), verified=True)
    session = call.state.open_session(Identity(operator["operatorId"]), DEFAULT_TOKEN_TIMEOUT)
    return reply(auth_response(session), status=201)


@handles("sandboxGetSignupToken")
def get_signup_token(call: Call) -> Response:
    call.object_body(("authKeyId", "authKey"))
    token = call.state.signup_tokens.get(call.params["email"])
    if token is None:
        raise bad_request("Email address, AuthKeyId, or AuthKey is not correct.")
    return reply({"token": token})


@handles("sandboxCreateSubscriber")
def create_subscriber(call: Call) -> Response:
    body = call.object_body() if call.body is not None else {}
    subscription = body.get("subscription", "plan01s")
    if subscription not in SUBSCRIPTIONS:
        raise bad_request(f"Unknown subscription: {subscription}.")
    extra = {"bundles": list(body["bundles"])} if isinstance(body.get("bundles"), list) else {}
    sub = call.state.add_subscribers(1, status="ready", subscription=subscription, tags={},
                                     operatorId=call.identity.operator_id, **extra)[0]
    response = {key: sub[key] for key in _SANDBOX_SUBSCRIBER_KEYS if sub[key] is not None}  # unset: absent
    response["registrationSecret"] = secrets.token_hex(8)
    return reply(response)


@handles("sandboxInsertAirStats")
def insert_air_stats(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    body = call.object_body(("unixtime", "dataTrafficStatsMap"))
    unixtime, stats = body["unixtime"], body["dataTrafficStatsMap"]
    if isinstance(unixtime, bool) or not isinstance(unixtime, int) or not isinstance(stats, dict):
        raise bad_request("unixtime must be an integer and dataTrafficStatsMap an object.")
    check_unixtime(unixtime, "unixtime")
    samples = call.data.air_stats.setdefault(sub["imsi"], {})
    if unixtime in samples:
        raise bad_request("Data with the same timestamp already exists.")
    samples[unixtime] = {speed_class: dict(values) for speed_class, values in stats.items()}
    traffic_added(call.state, call.data, sub, unixtime)
    return no_content(200)


@handles("sandboxShipOrder")
def ship_order(call: Call) -> Response:
    body = call.object_body(("orderId", "operatorId"))
    if body["operatorId"] != call.identity.operator_id:
        raise bad_request("operatorId must be the caller's operator ID.")
    order = call.data.orders.get(body["orderId"])
    if order is None or "orderStatus" not in order or order["orderStatus"] == "cancelled":
        raise bad_request(f"Order {body['orderId']} does not exist or cannot be shipped.")
    order["orderStatus"] = "shipped"
    order["shippingDateTime"] = call.state.now().strftime("%Y%m%d%H%M%S")
    for item in order["orderItemList"]:
        product = item["product"]
        if product.get("productType") != "sim":
            continue
        subscription = product["properties"].get("simSubscription", "plan01s")
        call.state.add_subscribers(int(item["quantity"] * product.get("count", 1)), status="ready",
                                   subscription=subscription, tags={}, operatorId=body["operatorId"],
                                   moduleType=product["properties"].get("simSize", "nano"))
    return no_content(200)
