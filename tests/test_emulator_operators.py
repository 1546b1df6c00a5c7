"""Each operator sees only its own data: two sandbox operators and the demo operator, driven over HTTP."""

# ruff: noqa: F811  (the fixtures of test_emulator are imported, then requested by name)
from __future__ import annotations

import httpx

from bot.emulator import DEMO_OPERATOR_ID, PLAN_KM1_PRODUCT_CODE, SEED_GROUP_ID, EmulatorState
from tests.test_emulator import api, login, root, state  # noqa: F401  (fixtures)


async def sandbox_operator(api: httpx.AsyncClient, email: str) -> tuple[str, dict[str, str]]:
    init = await api.post("/v1/sandbox/init", json={"email": email, "password": "pw-sandbox-1",
                                                    "authKeyId": "keyId-prod", "authKey": "secret-prod"})
    assert init.status_code == 201, init.text
    body = init.json()
    return body["operatorId"], {"X-Soracom-API-Key": body["apiKey"], "X-Soracom-Token": body["token"]}


async def populate(api: httpx.AsyncClient, operator_id: str, headers: dict[str, str]) -> dict[str, str]:
    """One SIM, one group, one shipped order; returns their IDs."""
    imsi = (await api.post("/v1/sandbox/subscribers/create", headers=headers, json={})).json()["imsi"]
    group = await api.post("/v1/groups", headers=headers, json={"tags": {"name": operator_id}})
    address = await api.post(f"/v1/operators/{operator_id}/shipping_addresses", headers=headers, json={
        "addressLine1": "1-1", "city": "港区", "state": "東京都", "zipCode": "105-0011", "fullName": "Sandbox"})
    quote = await api.post("/v1/orders", headers=headers, json={
        "orderItemList": [{"productCode": PLAN_KM1_PRODUCT_CODE, "quantity": 1}],
        "shippingAddressId": address.json()["shippingAddressId"]})
    order_id = quote.json()["orderId"]
    assert (await api.put(f"/v1/orders/{order_id}/confirm", headers=headers)).status_code == 200
    shipped = await api.post("/v1/sandbox/orders/ship", headers=headers,
                             json={"orderId": order_id, "operatorId": operator_id})
    assert shipped.status_code == 200, shipped.text
    return {"imsi": imsi, "group": group.json()["groupId"], "order": order_id,
            "address": address.json()["shippingAddressId"]}


async def seen(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, set[str]]:
    sims = (await api.get("/v1/subscribers", headers=headers)).json()
    groups = (await api.get("/v1/groups", headers=headers)).json()
    orders = (await api.get("/v1/orders", headers=headers)).json()["orderList"]
    bills = (await api.get("/v1/bills", headers=headers)).json()["billList"]
    return {"sims": {s["imsi"] for s in sims}, "groups": {g["groupId"] for g in groups},
            "orders": {o["orderId"] for o in orders}, "bills": {b["yearMonth"] for b in bills}}


async def test_a_new_sandbox_operator_starts_empty(api, state: EmulatorState):
    operator_id, headers = await sandbox_operator(api, "first@example.jp")
    assert await seen(api, headers) == {"sims": set(), "groups": set(), "orders": set(), "bills": set()}
    addresses = await api.get(f"/v1/operators/{operator_id}/shipping_addresses", headers=headers)
    assert addresses.json() == {"shippingAddresses": []}
    payer = await api.get("/v1/payment_statements/payer_information", headers=headers)
    assert payer.status_code == 400 and payer.json()["code"]
    latest = (await api.get("/v1/bills/latest", headers=headers)).json()
    assert latest["amount"] == 0


async def test_two_sandbox_operators_and_the_demo_operator_see_only_their_own(api, state: EmulatorState, root):
    demo_before = await seen(api, root)
    first_id, first = await sandbox_operator(api, "first@example.jp")
    second_id, second = await sandbox_operator(api, "second@example.jp")
    mine, theirs = await populate(api, first_id, first), await populate(api, second_id, second)

    first_sees, second_sees = await seen(api, first), await seen(api, second)
    assert mine["imsi"] in first_sees["sims"] and theirs["imsi"] not in first_sees["sims"]
    assert theirs["imsi"] in second_sees["sims"] and mine["imsi"] not in second_sees["sims"]
    assert len(first_sees["sims"]) == 2  # created + shipped (one plan-KM1 card)
    assert first_sees["groups"] == {mine["group"]} and second_sees["groups"] == {theirs["group"]}
    assert first_sees["orders"] == {mine["order"]} and second_sees["orders"] == {theirs["order"]}
    assert first_sees["bills"] == second_sees["bills"] == set()
    assert not first_sees["sims"] & demo_before["sims"]

    assert await seen(api, root) == demo_before  # the demo operator keeps its seed, and nothing of theirs
    assert SEED_GROUP_ID in demo_before["groups"] and len(demo_before["sims"]) == 25 and demo_before["bills"]
    assert set(state.data_of(first_id).subscribers) == first_sees["sims"]


async def test_another_operators_records_are_not_found(api, state: EmulatorState, root):
    first_id, first = await sandbox_operator(api, "first@example.jp")
    second_id, second = await sandbox_operator(api, "second@example.jp")
    theirs = await populate(api, second_id, second)
    for method, path in [("GET", f"/v1/subscribers/{theirs['imsi']}"), ("GET", f"/v1/groups/{theirs['group']}"),
                         ("GET", f"/v1/orders/{theirs['order']}"),
                         ("POST", f"/v1/subscribers/{theirs['imsi']}/activate"),
                         ("GET", f"/v1/operators/{first_id}/shipping_addresses/{theirs['address']}"),
                         ("GET", "/v1/subscribers/440100000000002"), ("GET", f"/v1/groups/{SEED_GROUP_ID}")]:
        response = await api.request(method, path, headers=first)
        assert response.status_code == 404, (method, path, response.text)
    assert state.data_of(second_id).subscribers[theirs["imsi"]]["status"] == "ready"
    other = await api.get(f"/v1/operators/{second_id}/shipping_addresses", headers=first)
    assert other.status_code == 403
    ship = await api.post("/v1/sandbox/orders/ship", headers=first,
                          json={"orderId": theirs["order"], "operatorId": second_id})
    assert ship.status_code == 400


async def test_sam_users_belong_to_their_operator(api, state: EmulatorState, root):
    operator_id, headers = await sandbox_operator(api, "first@example.jp")
    assert (await api.post(f"/v1/operators/{operator_id}/users/alice", headers=headers, json={})).status_code == 201
    assert "alice" in state.data_of(operator_id).users and "alice" not in state.users
    await api.put(f"/v1/operators/{operator_id}/users/alice/permission", headers=headers,
                  json={"permission": '{"statements":[{"effect":"allow","api":"*"}]}'})
    key = (await api.post(f"/v1/operators/{operator_id}/users/alice/auth_keys", headers=headers)).json()
    alice = await login(api, authKeyId=key["authKeyId"], authKey=key["authKey"])
    assert (await api.get("/v1/subscribers", headers=alice)).json() == []
    demo_users = (await api.get(f"/v1/operators/{DEMO_OPERATOR_ID}/users", headers=root)).json()
    assert "alice" not in [user["userName"] for user in demo_users]
