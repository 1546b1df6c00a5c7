"""Requests the spec forbids get 400 {code, message} and change nothing; the inputs that crashed the emulator
(issue #15) get 4xx; the running month's bill grows day by day."""

# ruff: noqa: F811  (the fixtures of test_emulator are imported, then requested by name)
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.emulator import DEMO_OPERATOR_ID, SEED_GROUP_ID, EmulatorState
from bot.emulator.bills import daily_amounts
from bot.emulator.deviations import DEVIATIONS
from bot.emulator.seed import previous_month
from tests.test_emulator import NOW, ONLINE_SIM, api, login, root, state  # noqa: F401  (fixtures)

SIM_STATS = f"/v1/sandbox/stats/air/subscribers/{ONLINE_SIM}"


def assert_error_shape(response, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"code", "message"} and response.json()["message"]


@pytest.mark.parametrize("query", ["from=0&to=300000000000&period=day", "from=-5&to=3000&period=day",
                                   "from=-99999999999999&to=0&period=month"])
async def test_air_stats_outside_the_date_range_is_400(api, root, query):
    assert_error_shape(await api.get(f"/v1/stats/air/subscribers/{ONLINE_SIM}?{query}", headers=root))


@pytest.mark.parametrize("body", [
    {"unixtime": 0, "dataTrafficStatsMap": {"s1.fast": [None]}},
    {"unixtime": 99999999999999, "dataTrafficStatsMap": {"s1.fast": {"uploadByteSizeTotal": 1}}},
    {"unixtime": 1000, "dataTrafficStatsMap": {"s1.fast": {"uploadByteSizeTotal": "abc"}}},
    {"unixtime": "1000", "dataTrafficStatsMap": {}},
])
async def test_bad_air_stats_are_refused_and_not_stored(api, state: EmulatorState, root, body):
    before = dict(state.air_stats[ONLINE_SIM])
    assert_error_shape(await api.post(SIM_STATS, headers=root, json=body))
    assert state.air_stats[ONLINE_SIM] == before
    stats = await api.get(f"/v1/stats/air/subscribers/{ONLINE_SIM}?from=0&to=4102444800&period=month", headers=root)
    assert stats.status_code == 200


async def test_ship_order_with_a_non_string_order_id_is_400(api, state: EmulatorState, root):
    assert_error_shape(await api.post("/v1/sandbox/orders/ship", headers=root,
                                      json={"orderId": 12, "operatorId": DEMO_OPERATOR_ID}))


@pytest.mark.parametrize("path", ["/v1/sub%0Ascribers", "/v1/subscribers/%0A/x/y", "/v1%0A", "/nothing%0A"])
async def test_a_path_with_an_encoded_newline_gets_a_json_404(api, root, path):
    assert_error_shape(await api.get(path, headers=root), 404)


@pytest.mark.parametrize("method, path, kwargs", [
    ("GET", "/v1/subscribers?tag_name=name&tag_value=x&tag_value_match_mode=bogus", {}),
    ("POST", "/v1/groups", {}),
    ("POST", f"/v1/operators/{DEMO_OPERATOR_ID}/token", {"json": "a string"}),
    ("POST", f"/v1/operators/{DEMO_OPERATOR_ID}/users/nobody", {}),
    ("POST", f"/v1/subscribers/{ONLINE_SIM}/set_expiry_time", {"json": {"expiryTime": 2**63}}),
    ("GET", f"/v1/stats/air/subscribers/{ONLINE_SIM}?from=0&to=x&period=day", {}),
    ("GET", f"/v1/stats/air/subscribers/{ONLINE_SIM}?from=0&to=1&period=week", {}),
    ("POST", "/v1/orders", {"json": {"orderItemList": [{"productCode": "x", "quantity": "2"}],
                                     "shippingAddressId": "y"}}),
    ("PUT", f"/v1/groups/{SEED_GROUP_ID}/tags", {"json": {"tagName": "a", "tagValue": "b"}}),
])
async def test_requests_the_spec_forbids_are_400_and_change_nothing(api, state: EmulatorState, root, method, path,
                                                                     kwargs):
    before = (len(state.groups), len(state.users), len(state.orders), state.subscribers[ONLINE_SIM]["expiryTime"],
              dict(state.groups[SEED_GROUP_ID]["tags"]), len(state.sessions))
    response = await api.request(method, path, headers=root, **kwargs)
    assert_error_shape(response)
    assert "Invalid request" in response.json()["message"]
    assert before == (len(state.groups), len(state.users), len(state.orders),
                      state.subscribers[ONLINE_SIM]["expiryTime"], dict(state.groups[SEED_GROUP_ID]["tags"]),
                      len(state.sessions))


async def test_the_error_names_the_offending_field(api, root):
    response = await api.post(SIM_STATS, headers=root,
                              json={"unixtime": 5, "dataTrafficStatsMap": {"s1.fast": {"uploadByteSizeTotal": "x"}}})
    assert "body.dataTrafficStatsMap.s1.fast.uploadByteSizeTotal" in response.json()["message"]


async def test_a_sam_user_sees_the_same_validation_after_permission(api, state: EmulatorState):
    state.add_user("reader", password="reader-pass-1", permission='{"statements":[{"effect":"allow","api":"*"}]}')
    user = await login(api, operatorId=DEMO_OPERATOR_ID, userName="reader", password="reader-pass-1")
    assert_error_shape(await api.get("/v1/subscribers?limit=abc", headers=user))


# Money


async def test_the_running_month_grows_day_by_day_in_line_with_the_months_before(api, state: EmulatorState, root):
    month = NOW.strftime("%Y%m")
    before = previous_month(month)
    first = (await api.get(f"/v1/bills/{month}", headers=root)).json()["amount"]
    days = daily_amounts(state, month)
    assert len(days) == NOW.day and sum(day["amount"] for day in days) == first
    state.advance(timedelta(days=1).total_seconds())
    second = (await api.get("/v1/bills/latest", headers=await login(api))).json()["amount"]
    grown = daily_amounts(state, month)
    assert second > first and grown[1:] == days  # earlier days keep their amounts; one more day is added
    assert sum(day["amount"] for day in grown) == second
    previous = state.bills[before]["amount"]
    expected = previous * (NOW.day + 1) / 31
    assert 0.8 * expected < second < 1.2 * expected


async def test_closed_months_add_up_and_stay_close_to_each_other(api, state: EmulatorState, root):
    history = (await api.get("/v1/bills", headers=root)).json()["billList"]
    recent = [bill["amount"] for bill in history[:12]]
    assert max(recent) < 1.3 * min(recent)
    for bill in history[:3]:
        daily = (await api.get(f"/v1/bills/{bill['yearMonth']}/daily", headers=root)).json()["billList"]
        assert sum(day["amount"] for day in daily) == bill["amount"]


async def test_on_the_first_of_the_month_the_bill_is_a_days_worth():
    state = EmulatorState(now=lambda: NOW.replace(day=1))
    month = NOW.strftime("%Y%m")
    assert state.bills[month]["amount"] < state.bills[previous_month(month)]["amount"] / 15


def test_readme_lists_every_deviation():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    listed = readme.split("**Deliberate differences from the spec**", 1)[1].split("\n## ", 1)[0]
    bullets = [line[2:].split(":", 1)[0] for line in listed.splitlines() if line.startswith("- ")]
    assert bullets == [deviation.topic for deviation in DEVIATIONS]


def test_committed_spec_rules_are_what_the_spec_gives(shared_dir: Path):
    from bot.emulator import specgen

    generated = specgen.generate(specgen.load(shared_dir / "soracom-openapi"))
    assert specgen.TARGET.read_text(encoding="utf-8") == generated, \
        "bot/emulator/spec_rules.py is stale: run python -m bot.emulator.specgen ../shared/soracom-openapi"
