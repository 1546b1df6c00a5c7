"""A sample of emulator responses, validated against the official OpenAPI spec with openapi-core.

The spec marks no Subscriber field nullable, yet the real API answers null for unset ones (the seed transcript
shows it, and the emulator follows the transcript): subscriber bodies are checked with their nulls left out.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from bot.emulator import (
    DEMO_AUTH_KEY,
    DEMO_AUTH_KEY_ID,
    DEMO_OPERATOR_ID,
    PLAN_KM1_PRODUCT_CODE,
    SEED_GROUP_ID,
    SEED_SHIPPING_ADDRESS_ID,
    EmulatorState,
    create_app,
)
from tests.openapi_spec import without_nulls
from tests.clock import Clock

SERVER = "https://api.soracom.io"


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(EmulatorState(now=Clock())))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        auth = (await client.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY})).json()
        client.headers.update({"X-Soracom-API-Key": auth["apiKey"], "X-Soracom-Token": auth["token"]})
        yield client


def validate(spec: OpenAPI, response: httpx.Response, body: Any = None) -> None:
    request = response.request
    mock_request = MockRequest(SERVER, request.method.lower(), request.url.path, args=dict(request.url.params))
    content = json.dumps(response.json() if body is None else body).encode()
    spec.validate_response(mock_request, MockResponse(content, status_code=response.status_code,
                                                      content_type="application/json"))


SAMPLES = [
    ("GET", "/v1/groups", None),
    ("GET", f"/v1/groups/{SEED_GROUP_ID}", None),
    ("GET", "/v1/products", None),
    ("GET", f"/v1/operators/{DEMO_OPERATOR_ID}/shipping_addresses", None),
    ("GET", "/v1/payment_statements/payer_information", None),
    ("GET", "/v1/bills", None),
    ("GET", "/v1/bills/201908", None),
    ("GET", "/v1/bills/latest", None),
    ("GET", "/v1/bills/201908/daily", None),
    ("GET", "/v1/bills/summaries/bill_items", None),
    ("GET", "/v1/bills/summaries/sims", None),
    ("POST", "/v1/bills/201908/export?export_mode=sync", None),
    ("POST", "/v1/bills/201908/export?export_mode=async", None),
    ("GET", f"/v1/operators/{DEMO_OPERATOR_ID}/mfa", None),
    ("POST", f"/v1/operators/{DEMO_OPERATOR_ID}/mfa", None),
    ("GET", f"/v1/operators/{DEMO_OPERATOR_ID}/users", None),
    ("POST", "/v1/orders", {"orderItemList": [{"productCode": PLAN_KM1_PRODUCT_CODE, "quantity": 2}],
                            "shippingAddressId": SEED_SHIPPING_ADDRESS_ID}),
    ("GET", "/v1/orders", None),
    ("GET", "/v1/stats/air/subscribers/440100000000002?from=0&to=4102444800&period=day", None),
]


@pytest.mark.parametrize("method, url, body", SAMPLES, ids=[f"{m} {u}" for m, u, _ in SAMPLES])
async def test_response_matches_the_spec(openapi, api, method, url, body):
    response = await api.request(method, url, json=body)
    assert response.status_code < 300, response.text
    validate(openapi, response)


async def test_subscriber_bodies_match_the_spec_but_for_nulls(openapi, api):
    listed = await api.get("/v1/subscribers", params={"limit": 5})
    validate(openapi, listed, without_nulls(listed.json()))
    for imsi in ("440100000000001", "440100000000003"):
        one = await api.get(f"/v1/subscribers/{imsi}")
        validate(openapi, one, without_nulls(one.json()))
    tagged = await api.put("/v1/subscribers/440100000000002/tags", json=[{"tagName": "k", "tagValue": "v"}])
    validate(openapi, tagged, without_nulls(tagged.json()))


async def test_confirmed_order_matches_the_spec(openapi, api):
    quotation = await api.post("/v1/orders", json={
        "orderItemList": [{"productCode": PLAN_KM1_PRODUCT_CODE, "quantity": 1}],
        "shippingAddressId": SEED_SHIPPING_ADDRESS_ID})
    confirmed = await api.put(f"/v1/orders/{quotation.json()['orderId']}/confirm")
    validate(openapi, confirmed)
    validate(openapi, await api.get(f"/v1/orders/{quotation.json()['orderId']}"))
