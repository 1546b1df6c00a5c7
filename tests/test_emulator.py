"""The embedded SORACOM emulator, driven with raw HTTP requests as any client would, and checked on its state."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest

from bot.emulator import (
    DEMO_AUTH_KEY,
    DEMO_AUTH_KEY_ID,
    DEMO_EMAIL,
    DEMO_OPERATOR_ID,
    DEMO_PASSWORD,
    FIELD_GROUP_ID,
    MODEM_PRODUCT_CODE,
    PLAN_KM1_PRODUCT_CODE,
    SEED_GROUP_ID,
    SEED_SHIPPING_ADDRESS_ID,
    EmulatorState,
    create_app,
)

NOW = datetime(2026, 5, 15, 3, 0, tzinfo=timezone.utc)
KM1_SIM = "440100000000001"
INACTIVE_SIM = "440100000000005"
READY_SIM = "440100000000006"
SUSPENDED_SIM = "440100000000008"
TERMINATED_SIM = "440100000000009"
ONLINE_SIM = "440100000000002"
PROTECTED_SIM = "440100000000002"  # terminationEnabled false


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState(now=lambda: NOW)


@pytest.fixture
async def api(state: EmulatorState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        yield client


async def login(api: httpx.AsyncClient, **credentials: object) -> dict[str, str]:
    body = credentials or {"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY}
    response = await api.post("/v1/auth", json=body)
    assert response.status_code == 200, response.text
    return {"X-Soracom-API-Key": response.json()["apiKey"], "X-Soracom-Token": response.json()["token"]}


@pytest.fixture
async def root(api: httpx.AsyncClient) -> dict[str, str]:
    return await login(api)


# Auth


async def test_each_credential_kind_authenticates_as_its_identity(api, state):
    state.add_user("reader", password="reader-pass-1", permission='{"statements":[{"effect":"allow","api":"*"}]}')
    key_id, key = state.add_user_auth_key("reader")

    by_key = (await api.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY})).json()
    by_email = (await api.post("/v1/auth", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD,
                                                 "tokenTimeoutSeconds": 600})).json()
    by_user = (await api.post("/v1/auth", json={"operatorId": DEMO_OPERATOR_ID, "userName": "reader",
                                                "password": "reader-pass-1"})).json()
    by_user_key = (await api.post("/v1/auth", json={"authKeyId": key_id, "authKey": key})).json()

    assert set(by_key) == set(by_email) == {"apiKey", "operatorId", "token"}
    assert by_user["userName"] == by_user_key["userName"] == "reader"
    identities = {token: str(session.identity) for token, session in state.sessions.items()}
    assert identities[by_key["token"]] == identities[by_email["token"]] == DEMO_OPERATOR_ID
    assert identities[by_user["token"]] == identities[by_user_key["token"]] == f"{DEMO_OPERATOR_ID}/reader"
    assert state.sessions[by_email["token"]].timeout_seconds == 600
    assert state.users["reader"]["authKeys"][key_id]["lastUsedDateTime"] == int(NOW.timestamp())


@pytest.mark.parametrize("body", [
    {"authKeyId": DEMO_AUTH_KEY_ID, "authKey": "secret-wrong"},
    {"email": DEMO_EMAIL, "password": "wrong"},
    {"operatorId": DEMO_OPERATOR_ID, "userName": "nobody", "password": "x"},
])
async def test_wrong_credentials_get_401_and_no_session(api, state, body):
    response = await api.post("/v1/auth", json=body)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert state.sessions == {}


async def test_token_timeout_above_the_maximum_is_refused(api):
    response = await api.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY,
                                                "tokenTimeoutSeconds": 172801})
    assert response.status_code == 400


async def test_calls_without_or_with_a_bad_token_get_401(api, root):
    missing = await api.get("/v1/subscribers")
    forged = await api.get("/v1/subscribers", headers={**root, "X-Soracom-Token": "forged"})
    assert (missing.status_code, missing.json()["code"]) == (401, "AUM0001")
    assert (forged.status_code, forged.json()["code"]) == (401, "AUM0002")


async def test_token_expires_after_its_timeout(api, state):
    headers = await login(api, authKeyId=DEMO_AUTH_KEY_ID, authKey=DEMO_AUTH_KEY, tokenTimeoutSeconds=60)
    assert (await api.get(f"/v1/subscribers/{KM1_SIM}", headers=headers)).status_code == 200
    state.advance(61)
    expired = await api.get(f"/v1/subscribers/{KM1_SIM}", headers=headers)
    assert (expired.status_code, expired.json()["code"]) == (401, "AUM0003")


async def test_token_lifetime_knob_shortens_existing_tokens(api, state, root):
    state.faults.token_lifetime = 5
    state.advance(6)
    assert (await api.get("/v1/groups", headers=root)).status_code == 401


async def test_generate_auth_token_then_logout(api, state, root):
    renewed = await api.post(f"/v1/operators/{DEMO_OPERATOR_ID}/token", headers=root,
                             json={"tokenTimeoutSeconds": 300})
    new_headers = {**root, "X-Soracom-Token": renewed.json()["token"]}
    assert (await api.get("/v1/groups", headers=new_headers)).status_code == 200
    assert state.sessions[renewed.json()["token"]].timeout_seconds == 300

    assert (await api.post("/v1/auth/logout", headers=new_headers)).status_code == 204
    assert renewed.json()["token"] not in state.sessions
    assert (await api.get("/v1/groups", headers=new_headers)).status_code == 401


async def test_sign_up_verify_and_log_in(api, state):
    created = await api.post("/v1/operators", json={"email": "new@example.jp", "password": "pw-123456"})
    assert created.status_code == 201 and created.content == b""
    assert (await api.post("/v1/auth", json={"email": "new@example.jp", "password": "pw-123456"})).status_code == 401

    bad = await api.post("/v1/operators/verify", json={"token": "not-the-token"})
    assert bad.status_code == 400 and bad.json() == {"code": "COM0006", "message": "Token is invalid."}

    token = (await api.post("/v1/sandbox/operators/token/new@example.jp",
                            json={"authKeyId": "keyId-x", "authKey": "secret-x"})).json()["token"]
    assert token == state.signup_tokens["new@example.jp"]
    assert (await api.post("/v1/operators/verify", json={"token": token})).status_code == 200
    logged_in = await api.post("/v1/auth", json={"email": "new@example.jp", "password": "pw-123456"})
    assert logged_in.status_code == 200 and logged_in.json()["operatorId"] == "OP0000000002"
    assert state.operator_by_email("new@example.jp")["verified"] is True


async def test_password_reset_changes_the_password(api, state):
    assert (await api.post("/v1/auth/password_reset_token/issue", json={"email": DEMO_EMAIL})).status_code == 200
    token = state.password_reset_tokens[DEMO_EMAIL]
    bad = await api.post("/v1/auth/password_reset_token/verify", json={"token": "nope", "password": "n3w-pass"})
    assert bad.status_code == 400
    done = await api.post("/v1/auth/password_reset_token/verify", json={"token": token, "password": "n3w-pass"})
    assert done.status_code == 200
    assert (await api.post("/v1/auth", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})).status_code == 401
    assert (await api.post("/v1/auth", json={"email": DEMO_EMAIL, "password": "n3w-pass"})).status_code == 200


async def test_password_reset_token_expires(api, state):
    await api.post("/v1/auth/password_reset_token/issue", json={"email": DEMO_EMAIL})
    state.advance(3601)
    late = await api.post("/v1/auth/password_reset_token/verify",
                          json={"token": state.password_reset_tokens[DEMO_EMAIL], "password": "n3w-pass"})
    assert late.status_code == 404
    assert state.operators[DEMO_OPERATOR_ID]["password"] == DEMO_PASSWORD


# Subscribers


async def test_seed_sim_has_the_transcript_fields(api, root):
    sim = (await api.get(f"/v1/subscribers/{KM1_SIM}", headers=root)).json()
    assert list(sim) == ["imsi", "msisdn", "ipAddress", "operatorId", "apn", "type", "groupId", "createdAt",
                         "lastModifiedAt", "expiredAt", "registeredTime", "expiryAction", "terminationEnabled",
                         "status", "tags", "sessionStatus", "imeiLock", "speedClass", "moduleType", "plan",
                         "iccid", "serialNumber", "subscription", "createdTime", "expiryTime", "lastModifiedTime"]
    assert (sim["msisdn"], sim["iccid"], sim["subscription"], sim["speedClass"]) == \
        ("810000000001", "8981100000000000011", "plan-KM1", "t1.standard")


async def test_seed_has_a_shared_name_and_every_status(state):
    names = [sub["tags"]["name"] for sub in state.subscribers.values()]
    assert names.count("gateway") == 2
    assert {sub["status"] for sub in state.subscribers.values()} == \
        {"active", "inactive", "ready", "standby", "suspended", "terminated"}
    online = [sub for sub in state.subscribers.values() if (sub["sessionStatus"] or {}).get("online")]
    assert online and all(sub["sessionStatus"]["imei"] for sub in online)


async def test_pagination_over_250_sims(api, state, root):
    state.subscribers.clear()
    added = [sub["imsi"] for sub in state.add_subscribers(250)]
    pages, next_keys, key = [], [], None
    while True:
        params = {"limit": 100, **({"last_evaluated_key": key} if key else {})}
        response = await api.get("/v1/subscribers", headers=root, params=params)
        pages.append([sub["imsi"] for sub in response.json()])
        key = response.headers.get("x-soracom-next-key")
        next_keys.append(key)
        if key is None:
            break
    assert [len(page) for page in pages] == [100, 100, 50]
    assert next_keys == [added[99], added[199], None]
    assert sum(pages, []) == added


async def test_limit_is_capped_at_100(api, state, root):
    state.add_subscribers(150)
    response = await api.get("/v1/subscribers", headers=root, params={"limit": 500})
    assert len(response.json()) == 100 and "x-soracom-next-key" in response.headers


@pytest.mark.parametrize("params, expected", [
    ({"status_filter": "suspended|terminated"}, lambda s: s["status"] in ("suspended", "terminated")),
    ({"speed_class_filter": "u1.standard|u1.slow"}, lambda s: s["speedClass"].startswith("u1.")),
    ({"tag_name": "name", "tag_value": "gateway"}, lambda s: s["tags"].get("name") == "gateway"),
    ({"tag_name": "name", "tag_value": "sensor-0", "tag_value_match_mode": "prefix"},
     lambda s: s["tags"].get("name", "").startswith("sensor-0")),
])
async def test_list_filters(api, state, root, params, expected):
    response = await api.get("/v1/subscribers", headers=root, params=params)
    wanted = sorted(imsi for imsi, sub in state.subscribers.items() if expected(sub))
    assert wanted and [sub["imsi"] for sub in response.json()] == wanted


async def test_bad_filters_are_400(api, root):
    assert (await api.get("/v1/subscribers", headers=root, params={"status_filter": "sleepy"})).status_code == 400
    assert (await api.get("/v1/subscribers", headers=root, params={"tag_name": "name"})).status_code == 400


async def test_lifecycle_transitions(api, state, root):
    activated = await api.post(f"/v1/subscribers/{INACTIVE_SIM}/activate", headers=root)
    assert activated.status_code == 200 and state.subscribers[INACTIVE_SIM]["status"] == "active"
    assert state.subscribers[INACTIVE_SIM]["lastModifiedAt"] == int(NOW.timestamp() * 1000)

    await api.post(f"/v1/subscribers/{ONLINE_SIM}/suspend", headers=root)
    assert state.subscribers[ONLINE_SIM]["status"] == "suspended"
    assert state.subscribers[ONLINE_SIM]["sessionStatus"]["online"] is False

    await api.post(f"/v1/subscribers/{READY_SIM}/set_to_standby", headers=root)
    assert state.subscribers[READY_SIM]["status"] == "standby"

    refused = await api.post(f"/v1/subscribers/{TERMINATED_SIM}/activate", headers=root)
    assert refused.status_code == 400 and state.subscribers[TERMINATED_SIM]["status"] == "terminated"
    active_to_standby = await api.post(f"/v1/subscribers/{KM1_SIM}/set_to_standby", headers=root)
    assert active_to_standby.status_code == 400 and state.subscribers[KM1_SIM]["status"] == "active"


async def test_terminate_needs_termination_enabled(api, state, root):
    refused = await api.post(f"/v1/subscribers/{PROTECTED_SIM}/terminate", headers=root)
    assert refused.status_code == 400 and "enable_termination" in refused.json()["message"]
    assert state.subscribers[PROTECTED_SIM]["status"] == "active"

    enabled = await api.post(f"/v1/subscribers/{PROTECTED_SIM}/enable_termination", headers=root)
    assert enabled.json()["terminationEnabled"] is True
    done = await api.post(f"/v1/subscribers/{PROTECTED_SIM}/terminate", headers=root)
    assert done.status_code == 200 and state.subscribers[PROTECTED_SIM]["status"] == "terminated"
    again = await api.post(f"/v1/subscribers/{PROTECTED_SIM}/terminate", headers=root)
    assert again.status_code == 400


async def test_unknown_imsi_is_404(api, root):
    response = await api.post("/v1/subscribers/440109999999999/activate", headers=root)
    assert response.status_code == 404 and response.json()["code"] == "SEM0001"


async def test_set_group_and_unset_group(api, state, root):
    response = await api.post(f"/v1/subscribers/{INACTIVE_SIM}/set_group", headers=root,
                              json={"groupId": FIELD_GROUP_ID})
    assert response.json()["groupId"] == FIELD_GROUP_ID == state.subscribers[INACTIVE_SIM]["groupId"]
    unknown = await api.post(f"/v1/subscribers/{INACTIVE_SIM}/set_group", headers=root,
                             json={"groupId": "00000000-0000-4000-8000-000000000000"})
    assert unknown.status_code == 404 and state.subscribers[INACTIVE_SIM]["groupId"] == FIELD_GROUP_ID
    await api.post(f"/v1/subscribers/{INACTIVE_SIM}/unset_group", headers=root)
    assert state.subscribers[INACTIVE_SIM]["groupId"] is None
    assert (await api.post(f"/v1/subscribers/{INACTIVE_SIM}/unset_group", headers=root)).status_code == 404


async def test_tags_imei_lock_speed_class_and_expiry(api, state, root):
    await api.put(f"/v1/subscribers/{ONLINE_SIM}/tags", headers=root,
                  json=[{"tagName": "site", "tagValue": "Osaka/2F"}])
    assert state.subscribers[ONLINE_SIM]["tags"]["site"] == "Osaka/2F"
    assert (await api.delete(f"/v1/subscribers/{ONLINE_SIM}/tags/site", headers=root)).status_code == 204
    assert "site" not in state.subscribers[ONLINE_SIM]["tags"]

    locked = await api.post(f"/v1/subscribers/{ONLINE_SIM}/set_imei_lock", headers=root, json={})
    assert locked.json()["imeiLock"] == {"imei": state.subscribers[ONLINE_SIM]["sessionStatus"]["imei"]}
    bad_imei = await api.post(f"/v1/subscribers/{ONLINE_SIM}/set_imei_lock", headers=root, json={"imei": "12"})
    assert bad_imei.status_code == 400
    await api.post(f"/v1/subscribers/{ONLINE_SIM}/unset_imei_lock", headers=root)
    assert state.subscribers[ONLINE_SIM]["imeiLock"] is None

    fast = await api.post(f"/v1/subscribers/{ONLINE_SIM}/update_speed_class", headers=root,
                          json={"speedClass": "s1.fast"})
    assert fast.json()["speedClass"] == state.subscribers[ONLINE_SIM]["type"] == "s1.fast"
    unknown = await api.post(f"/v1/subscribers/{ONLINE_SIM}/update_speed_class", headers=root,
                             json={"speedClass": "s9.warp"})
    km1 = await api.post(f"/v1/subscribers/{KM1_SIM}/update_speed_class", headers=root,
                         json={"speedClass": "s1.fast"})
    assert unknown.status_code == km1.status_code == 400
    assert state.subscribers[KM1_SIM]["speedClass"] == "t1.standard"

    expiry = int(NOW.timestamp() * 1000) + 86_400_000
    set_expiry = await api.post(f"/v1/subscribers/{ONLINE_SIM}/set_expiry_time", headers=root,
                                json={"expiryTime": expiry, "expiryAction": "deactivate"})
    assert set_expiry.status_code == 200
    assert (state.subscribers[ONLINE_SIM]["expiryTime"], state.subscribers[ONLINE_SIM]["expiryAction"]) == \
        (expiry, "deactivate")


async def test_invalid_json_body_is_400(api, root):
    response = await api.put(f"/v1/subscribers/{KM1_SIM}/tags", headers={**root, "Content-Type": "application/json"},
                             content=b"{not json")
    assert response.status_code == 400 and set(response.json()) == {"code", "message"}


# Groups


async def test_group_configuration_keeps_json_types(api, state, root):
    base = f"/v1/groups/{SEED_GROUP_ID}/configuration"
    await api.put(f"{base}/UnifiedEndpoint", headers=root,
                  json=[{"key": "response", "value": {"format": "SoracomHarvest"}}, {"key": "enabled", "value": True}])
    await api.put(f"{base}/SoracomAir", headers=root, json=[{"key": "binaryParserEnabled", "value": False}])
    response = await api.put(f"{base}/SoracomHarvest", headers=root, json=[{"key": "enabled", "value": True}])
    expected = {"SoracomHarvest": {"enabled": True},
                "UnifiedEndpoint": {"response": {"format": "SoracomHarvest"}, "enabled": True},
                "SoracomAir": {"binaryParserEnabled": False}}
    assert response.json()["configuration"] == state.groups[SEED_GROUP_ID]["configuration"] == expected
    assert state.groups[SEED_GROUP_ID]["configuration"]["SoracomAir"]["binaryParserEnabled"] is False

    deleted = await api.delete(f"{base}/SoracomAir/binaryParserEnabled", headers=root)
    assert deleted.status_code == 204 and state.groups[SEED_GROUP_ID]["configuration"]["SoracomAir"] == {}
    assert (await api.put(f"{base}/NoSuchService", headers=root, json=[])).status_code == 400


async def test_group_create_list_tags_members_delete(api, state, root):
    created = await api.post("/v1/groups", headers=root, json={"tags": {"name": "Night shift"}})
    assert created.status_code == 201
    group_id = created.json()["groupId"]
    assert state.groups[group_id]["tags"] == {"name": "Night shift"}

    by_name = await api.get("/v1/groups", headers=root, params={"tag_name": "name", "tag_value": "Night shift"})
    assert [g["groupId"] for g in by_name.json()] == [group_id]
    await api.put(f"/v1/groups/{group_id}/tags", headers=root, json=[{"tagName": "owner", "tagValue": "ops"}])
    assert state.groups[group_id]["tags"] == {"name": "Night shift", "owner": "ops"}

    await api.post(f"/v1/subscribers/{INACTIVE_SIM}/set_group", headers=root, json={"groupId": group_id})
    members = await api.get(f"/v1/groups/{group_id}/subscribers", headers=root)
    [sim] = members.json()
    held = state.subscribers[INACTIVE_SIM]
    assert (sim["simId"], sim["type"], sim["status"], sim["groupId"]) == (held["iccid"], "uicc", "inactive", group_id)
    assert sim["profiles"][held["iccid"]]["primaryImsi"] == INACTIVE_SIM
    assert sim["profiles"][held["iccid"]]["subscribers"][INACTIVE_SIM]["msisdn"] == held["msisdn"]

    assert (await api.delete(f"/v1/groups/{group_id}", headers=root)).status_code == 204
    assert group_id not in state.groups and state.subscribers[INACTIVE_SIM]["groupId"] is None
    assert (await api.get(f"/v1/groups/{group_id}", headers=root)).status_code == 404


# Orders


async def test_products_include_the_km1_sim_and_a_non_sim_item(api, root):
    products = (await api.get("/v1/products", headers=root)).json()["productList"]
    by_code = {p["productCode"]: p for p in products}
    assert by_code[PLAN_KM1_PRODUCT_CODE]["price"] == 1500 and by_code[PLAN_KM1_PRODUCT_CODE]["productType"] == "sim"
    assert by_code[MODEM_PRODUCT_CODE]["productType"] != "sim"


async def quote(api: httpx.AsyncClient, headers: dict[str, str], quantity: int = 2) -> dict:
    response = await api.post("/v1/orders", headers=headers, json={
        "orderItemList": [{"productCode": PLAN_KM1_PRODUCT_CODE, "quantity": quantity}],
        "shippingAddressId": SEED_SHIPPING_ADDRESS_ID})
    assert response.status_code == 201, response.text
    return response.json()


async def test_quotation_has_the_transcript_figures_and_confirms_once(api, state, root):
    quotation = await quote(api, root)
    assert quotation["orderItemList"][0]["productAmount"] == 3000
    assert (quotation["shippingCost"], quotation["taxAmount"], quotation["totalAmount"]) == (907, 240, 4147)
    assert quotation["email"] == DEMO_EMAIL and quotation["currency"] == "JPY"
    assert "addressLine2" not in quotation["shippingAddress"]
    assert (await api.get("/v1/orders", headers=root)).json() == {"orderList": []}

    confirmed = await api.put(f"/v1/orders/{quotation['orderId']}/confirm", headers=root)
    assert confirmed.status_code == 200 and confirmed.json()["orderStatus"] == "orderProcessing"
    assert state.orders[quotation["orderId"]]["orderDateTime"] == NOW.strftime("%Y%m%d%H%M%S")
    twice = await api.put(f"/v1/orders/{quotation['orderId']}/confirm", headers=root)
    assert twice.status_code == 400 and "already confirmed" in twice.json()["message"]
    listed = (await api.get("/v1/orders", headers=root)).json()["orderList"]
    assert [order["orderId"] for order in listed] == [quotation["orderId"]]


async def test_quotation_expires_after_30_minutes(api, state, root):
    quotation = await quote(api, root)
    state.advance(30 * 60 + 1)
    late = await api.put(f"/v1/orders/{quotation['orderId']}/confirm", headers=root)
    assert late.status_code == 400 and "expired" in late.json()["message"]
    assert "orderStatus" not in state.orders[quotation["orderId"]]


async def test_cancel_only_before_shipping(api, state, root):
    first, second = await quote(api, root), await quote(api, root, quantity=1)
    for order in (first, second):
        await api.put(f"/v1/orders/{order['orderId']}/confirm", headers=root)

    assert (await api.put(f"/v1/orders/{first['orderId']}/cancel", headers=root)).status_code == 204
    assert state.orders[first["orderId"]]["orderStatus"] == "cancelled"

    before = len(state.subscribers)
    shipped = await api.post("/v1/sandbox/orders/ship", headers=root,
                             json={"orderId": second["orderId"], "operatorId": DEMO_OPERATOR_ID})
    assert shipped.status_code == 200 and state.orders[second["orderId"]]["orderStatus"] == "shipped"
    new_sims = list(state.subscribers.values())[before:]
    assert [(s["status"], s["subscription"]) for s in new_sims] == [("ready", "plan-KM1")]
    refused = await api.put(f"/v1/orders/{second['orderId']}/cancel", headers=root)
    assert refused.status_code == 400 and "shipped" in refused.json()["message"]
    assert state.orders[second["orderId"]]["orderStatus"] == "shipped"


async def test_shipping_address_area_and_payer_information(api, state, root):
    created = await api.post(f"/v1/operators/{DEMO_OPERATOR_ID}/shipping_addresses", headers=root, json={
        "addressLine1": "梅田 1-1", "city": "大阪市北区", "state": "大阪府", "zipCode": "530-0001",
        "fullName": "佐藤花子", "phoneNumber": "06-0000-0000"})
    assert created.status_code == 201 and created.json()["shippingArea"] == "kansai"
    assert state.shipping_addresses[created.json()["shippingAddressId"]]["countryCode"] == "JP"
    seed = await api.get(f"/v1/operators/{DEMO_OPERATOR_ID}/shipping_addresses/{SEED_SHIPPING_ADDRESS_ID}",
                         headers=root)
    assert seed.json()["shippingArea"] == "kanto"
    other = await api.get("/v1/operators/OP9999999999/shipping_addresses", headers=root)
    assert other.status_code == 403

    registered = await api.post("/v1/payment_statements/payer_information", headers=root,
                                json={"companyName": "株式会社テスト", "fullName": "鈴木一郎"})
    assert registered.status_code == 201
    assert state.payer_information == {"companyName": "株式会社テスト", "fullName": "鈴木一郎"}


# Bills


async def test_bill_201908_is_the_transcript_one(api, root):
    bill = (await api.get("/v1/bills/201908", headers=root)).json()
    assert {k: bill[k] for k in ("yearMonth", "amount", "state", "paymentStatus", "paymentTransactionId")} == {
        "yearMonth": "201908", "amount": 13203, "state": "closed", "paymentStatus": "paid",
        "paymentTransactionId": "20190903033613626_84ed364c-de87-4c0f-b12a-435f0c23c59b"}
    assert (await api.get("/v1/bills/201801", headers=root)).status_code == 404


async def test_recent_bills_follow_the_clock(api, state, root):
    history = (await api.get("/v1/bills", headers=root)).json()["billList"]
    months = [bill["yearMonth"] for bill in history]
    assert months == sorted(months, reverse=True) and "202605" not in months and months[0] == "202604"
    assert state.bills["202605"]["state"] == "temporary"
    latest = (await api.get("/v1/bills/latest", headers=root)).json()
    assert latest["amount"] == state.bills["202605"]["amount"]


async def test_daily_items_and_sims_add_up_to_the_bill(api, state, root):
    daily = (await api.get("/v1/bills/201908/daily", headers=root)).json()["billList"]
    assert len(daily) == 31 and sum(day["amount"] for day in daily) == 13203
    current = (await api.get("/v1/bills/202605/daily", headers=root)).json()["billList"]
    assert len(current) == 15 and sum(day["amount"] for day in current) == state.bills["202605"]["amount"]

    items = (await api.get("/v1/bills/summaries/bill_items", headers=root)).json()
    sims = (await api.get("/v1/bills/summaries/sims", headers=root)).json()
    assert [s["yearMonth"] for s in items] == [s["yearMonth"] for s in sims] == ["202605", "202604", "202603",
                                                                               "202602"]
    for item_summary, sim_summary in zip(items, sims):
        amount = state.bills[item_summary["yearMonth"]]["amount"]
        assert sum(entry["amount"] for entry in item_summary["costBreakdownList"]) == amount
        assert sum(entry["amount"] for entry in sim_summary["costBreakdownList"]) == amount


async def test_export_csv_is_served_and_sums_to_the_bill(api, state, root):
    state.bills["201909"]["amount"] = 20000
    exported = await api.post("/v1/bills/201909/export", headers=root, params={"export_mode": "sync"})
    url = exported.json()["url"]
    assert url.startswith("http://emulator/_emulator/exports/") and url.endswith("-billing-201909.csv")
    download = await api.get(urlparse(url).path)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert sum(int(row["amount"]) for row in rows) == 20000
    assert {row["date"][:6] for row in rows} == {"201909"}

    started = (await api.post("/v1/bills/201908/export", headers=root, params={"export_mode": "async"})).json()
    file_url = (await api.get(f"/v1/files/exported/{started['exportedFileId']}", headers=root)).json()["url"]
    rows = list(csv.DictReader(io.StringIO((await api.get(urlparse(file_url).path)).text)))
    assert sum(int(row["amount"]) for row in rows) == 13203


# Air stats


async def test_air_stats_seeded_for_active_sims_and_inserted_by_sandbox(api, state, root):
    start = int(datetime(2026, 5, 1, tzinfo=timezone.utc).timestamp())
    end = int(NOW.timestamp())
    monthly = (await api.get(f"/v1/stats/air/subscribers/{ONLINE_SIM}", headers=root,
                             params={"from": start, "to": end, "period": "month"})).json()
    expected_up = sum(stats["s1.standard"]["uploadByteSizeTotal"]
                      for t, stats in state.air_stats[ONLINE_SIM].items() if start <= t <= end)
    assert [entry["date"] for entry in monthly] == ["202605"]
    assert monthly[0]["dataTrafficStatsMap"]["s1.standard"]["uploadByteSizeTotal"] == expected_up > 0

    sample_time = start + 3600 + 60
    body = {"unixtime": sample_time, "dataTrafficStatsMap": {"t1.standard": {
        "uploadByteSizeTotal": 100, "uploadPacketSizeTotal": 1, "downloadByteSizeTotal": 200,
        "downloadPacketSizeTotal": 2}}}
    assert (await api.post(f"/v1/sandbox/stats/air/subscribers/{INACTIVE_SIM}", headers=root,
                           json=body)).status_code == 200
    duplicate = await api.post(f"/v1/sandbox/stats/air/subscribers/{INACTIVE_SIM}", headers=root, json=body)
    assert duplicate.status_code == 400
    minutes = (await api.get(f"/v1/stats/air/subscribers/{INACTIVE_SIM}", headers=root,
                             params={"from": start, "to": start + 7200, "period": "minutes"})).json()
    assert minutes == [{"date": "20260501010000", "unixtime": start + 3600,
                        "dataTrafficStatsMap": body["dataTrafficStatsMap"]}]


# MFA and SAM users


async def test_operator_mfa_enable_verify_then_needed_to_log_in(api, state, root):
    uri = (await api.post(f"/v1/operators/{DEMO_OPERATOR_ID}/mfa", headers=root)).json()["totpUri"]
    assert uri.startswith(f"otpauth://totp/SORACOM:{DEMO_OPERATOR_ID}?secret=") and uri.endswith("&issuer=SORACOM")
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    wrong = await api.post(f"/v1/operators/{DEMO_OPERATOR_ID}/mfa/verify", headers=root, json={"mfaOTPCode": "000000"})
    assert wrong.status_code == 400 and state.operator_mfa[DEMO_OPERATOR_ID]["status"] == "UNCONFIRMED"

    code = pyotp.TOTP(secret).at(NOW)
    verified = await api.post(f"/v1/operators/{DEMO_OPERATOR_ID}/mfa/verify", headers=root, json={"mfaOTPCode": code})
    assert len(verified.json()["backupCodes"]) == 5
    status = await api.get(f"/v1/operators/{DEMO_OPERATOR_ID}/mfa", headers=root)
    assert status.json() == {"status": "ACTIVE"}

    without = await api.post("/v1/auth", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    with_code = await api.post("/v1/auth", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "mfaOTPCode": code})
    assert (without.status_code, with_code.status_code) == (401, 200)

    revoked = await api.request("DELETE", f"/v1/operators/{DEMO_OPERATOR_ID}/mfa", headers=root,
                                json={"password": DEMO_PASSWORD})
    assert revoked.status_code == 204 and state.operator_mfa[DEMO_OPERATOR_ID]["status"] == "INACTIVE"


async def test_sam_user_policy_allows_and_denies(api, state, root):
    base = f"/v1/operators/{DEMO_OPERATOR_ID}/users/reader"
    assert (await api.post(base, headers=root, json={"description": "read-only bot"})).status_code == 201
    policy = {"statements": [{"effect": "allow", "api": ["Subscriber:listSubscribers", "Billing:*"]},
                             {"effect": "deny", "api": ["Billing:exportBilling"]}]}
    assert (await api.put(f"{base}/permission", headers=root,
                          json={"permission": json.dumps(policy)})).status_code == 200
    assert (await api.put(f"{base}/permission", headers=root, json={"permission": "{oops"})).status_code == 400
    key = (await api.post(f"{base}/auth_keys", headers=root)).json()
    user = await login(api, authKeyId=key["authKeyId"], authKey=key["authKey"])

    assert (await api.get("/v1/subscribers", headers=user)).status_code == 200
    assert (await api.get("/v1/bills/201908", headers=user)).status_code == 200
    denied = await api.post(f"/v1/subscribers/{INACTIVE_SIM}/activate", headers=user)
    assert denied.status_code == 403 and "Subscriber:activateSubscriber" in denied.json()["message"]
    assert state.subscribers[INACTIVE_SIM]["status"] == "inactive"
    assert (await api.post("/v1/bills/201908/export", headers=user)).status_code == 403
    detail = (await api.get(base, headers=root)).json()
    assert detail["permission"] == json.dumps(policy) and [k["authKeyId"] for k in detail["authKeyList"]] == \
        [key["authKeyId"]]


async def test_sam_permission_uses_the_sam_operation_name(api, state):
    state.add_user("tagger", password="tagger-pass",
                   permission='{"statements":[{"effect":"allow","api":["Subscriber:putTags"]}]}')
    user = await login(api, operatorId=DEMO_OPERATOR_ID, userName="tagger", password="tagger-pass")
    tagged = await api.put(f"/v1/subscribers/{KM1_SIM}/tags", headers=user, json=[{"tagName": "a", "tagValue": "b"}])
    assert tagged.status_code == 200 and state.subscribers[KM1_SIM]["tags"]["a"] == "b"


# Sandbox


async def test_sandbox_init_and_create_subscriber(api, state):
    init = await api.post("/v1/sandbox/init", json={"email": "sandbox@example.jp", "password": "pw-sandbox-1",
                                                    "authKeyId": "keyId-prod", "authKey": "secret-prod"})
    assert init.status_code == 201
    headers = {"X-Soracom-API-Key": init.json()["apiKey"], "X-Soracom-Token": init.json()["token"]}
    created = await api.post("/v1/sandbox/subscribers/create", headers=headers, json={"subscription": "plan-D"})
    body = created.json()
    assert created.status_code == 200 and body["registrationSecret"]
    own = state.data_of(init.json()["operatorId"]).subscribers
    assert own[body["imsi"]]["status"] == "ready" and own[body["imsi"]]["operatorId"] == init.json()["operatorId"]
    assert body["imsi"] not in state.subscribers  # not the demo operator's
    missing = await api.post("/v1/sandbox/init", json={"email": "x@example.jp", "password": "pw"})
    assert missing.status_code == 400


# Fault knobs and the control API


async def test_rate_limit_answers_429_with_headers(api, state, root):
    state.faults.rate_limit(path_prefix="/v1/subscribers", limit=2, per_seconds=10)
    statuses = [(await api.get(f"/v1/subscribers/{KM1_SIM}", headers=root)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[2]
    assert limited.headers["X-Soracom-Ratelimit-Limit"] == "2"
    assert limited.headers["X-Soracom-Ratelimit-Remaining"] == "0"
    assert limited.headers["X-Soracom-Ratelimit-Seconds-Before-Refresh"] == "10"
    assert statuses[0].headers["X-Soracom-Ratelimit-Remaining"] == "1"
    assert (await api.get("/v1/groups", headers=root)).status_code == 200  # another prefix
    state.advance(10)
    assert (await api.get(f"/v1/subscribers/{KM1_SIM}", headers=root)).status_code == 200


async def test_scripted_failure_then_success(api, state, root):
    state.faults.fail_next("POST", r"/activate$", status=500)
    failed = await api.post(f"/v1/subscribers/{INACTIVE_SIM}/activate", headers=root)
    assert failed.status_code == 500 and state.subscribers[INACTIVE_SIM]["status"] == "inactive"
    ok = await api.post(f"/v1/subscribers/{INACTIVE_SIM}/activate", headers=root)
    assert ok.status_code == 200 and state.subscribers[INACTIVE_SIM]["status"] == "active"
    assert [(r.operation_id, r.status) for r in state.requests[-2:]] == \
        [("activateSubscriber", 500), ("activateSubscriber", 200)]


async def test_scripted_non_json_body(api, state, root):
    state.faults.fail_next(None, r"/v1/groups$", status=502, body="<html>Bad Gateway</html>")
    response = await api.get("/v1/groups", headers=root)
    assert response.status_code == 502 and response.text == "<html>Bad Gateway</html>"
    assert (await api.get("/v1/groups", headers=root)).status_code == 200


async def test_error_rate_is_repeatable(root):
    async def run() -> list[int]:
        state = EmulatorState(now=lambda: NOW)
        state.faults.reseed(7)
        state.faults.error_rate = 0.5
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return [(await client.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID,
                                                         "authKey": DEMO_AUTH_KEY})).status_code
                    for _ in range(20)]

    first, second = await run(), await run()
    assert first == second and 500 in first and 200 in first


async def test_concurrency_cap_and_peak(api, state, root):
    state.faults.latency = 0.05
    state.faults.max_concurrency = 3
    responses = await asyncio.gather(*(api.get("/v1/groups", headers=root) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert state.peak_concurrency == 3 and state.in_flight == 0


async def test_requests_are_recorded(api, state, root):
    await api.get("/v1/subscribers", headers=root, params={"status_filter": "active"})
    await api.put(f"/v1/subscribers/{KM1_SIM}/tags", headers=root, json=[{"tagName": "x", "tagValue": "y"}])
    await api.get("/v1/no/such/path", headers=root)
    recorded = state.requests[-3:]
    assert [(r.method, r.path, r.operation_id, r.status) for r in recorded] == [
        ("GET", "/v1/subscribers", "listSubscribers", 200),
        ("PUT", f"/v1/subscribers/{KM1_SIM}/tags", "putSubscriberTags", 200),
        ("GET", "/v1/no/such/path", None, 404)]
    assert recorded[0].query == {"status_filter": "active"}
    assert recorded[1].json == [{"tagName": "x", "tagValue": "y"}]
    assert str(recorded[0].identity) == DEMO_OPERATOR_ID


async def test_control_api_drives_faults_requests_and_reset(api, state, root):
    set_faults = await api.post("/_emulator/faults", json={
        "rate_limits": [{"path_prefix": "/v1/groups", "limit": 1, "per_seconds": 60}],
        "fail_next": [{"method": "GET", "path_regex": "/subscribers$", "status": 503}]})
    assert set_faults.json()["rate_limits"][0]["limit"] == 1
    assert (await api.get("/v1/subscribers", headers=root)).status_code == 503
    assert [(await api.get("/v1/groups", headers=root)).status_code for _ in range(2)] == [200, 429]

    recorded = (await api.get("/_emulator/requests")).json()
    assert recorded[0]["operationId"] == "auth" and recorded[0]["json"]["authKey"] == "***"
    assert recorded[0]["json"]["authKeyId"] == DEMO_AUTH_KEY_ID
    assert [r["status"] for r in recorded][-3:] == [503, 200, 429]
    assert recorded[-1]["operationId"] == "listGroups" and recorded[-1]["identity"] == DEMO_OPERATOR_ID

    state.subscribers[KM1_SIM]["status"] = "inactive"
    assert (await api.post("/_emulator/reset")).status_code == 204
    assert state.subscribers[KM1_SIM]["status"] == "active"
    assert state.faults.rate_limits == [] and state.requests == [] and state.sessions == {}
    assert (await api.post("/_emulator/clock", json={"seconds": 60})).json()["now"] == "2026-05-15T03:01:00+00:00"


def test_create_app_without_state_seeds_one():
    app = create_app()
    assert isinstance(app.state.emulator, EmulatorState)
    assert len(app.state.emulator.subscribers) == 25 and SEED_GROUP_ID in app.state.emulator.groups
