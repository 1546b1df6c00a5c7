"""The emulator's device model through its HTTP API: sessions follow the SIM's status and the device, status history
names who called, ping needs a session, SMS are kept within their limits, diagnoses derive from the state."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, EmulatorState, create_app
from bot.emulator import devices
from tests.clock import Clock

SENSOR_02, SENSOR_05, SENSOR_07, TRACKER_02, METER_02 = ("440100000000002", "440100000000005", "440100000000007",
                                                         "440100000000013", "440100000000015")


class Api:
    def __init__(self, state: EmulatorState, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.state, self.client, self.headers = state, client, headers

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return await self.client.request(method, f"/v1{path}", headers=self.headers, params=params or None,
                                         content=None if body is None else json.dumps(body).encode())


async def _login(client: httpx.AsyncClient, body: dict[str, str]) -> dict[str, str]:
    answer = (await client.post("/v1/auth", json=body)).json()
    return {"X-Soracom-API-Key": answer["apiKey"], "X-Soracom-Token": answer["token"]}


@pytest.fixture
async def api(clock: Clock) -> AsyncIterator[Api]:
    state = EmulatorState(now=clock)  # pinned: calls in one test happen in one millisecond
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)),
                                 base_url="http://emulator") as client:
        headers = await _login(client, {"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY})
        yield Api(state, client, headers)


def sub(api: Api, imsi: str) -> dict[str, Any]:
    return api.state.subscribers[imsi]


async def events(api: Api, imsi: str) -> list[dict[str, Any]]:
    response = await api.call("GET", f"/subscribers/{imsi}/events/sessions")
    assert response.status_code == 200
    return response.json()


async def test_standby_and_suspend_end_the_session_and_activate_opens_one(api: Api) -> None:
    session = sub(api, SENSOR_02)["sessionStatus"]["sessionId"]
    assert (await api.call("POST", f"/subscribers/{SENSOR_02}/suspend")).status_code == 200
    newest = (await events(api, SENSOR_02))[0]
    assert (newest["event"], newest["sessionId"]) == ("Deleted", session)
    assert not sub(api, SENSOR_02)["sessionStatus"]["online"]
    assert (await api.call("POST", f"/subscribers/{SENSOR_02}/activate")).status_code == 200
    newest = (await events(api, SENSOR_02))[0]
    assert newest["event"] == "Created" and newest["sessionId"] != session
    assert sub(api, SENSOR_02)["sessionStatus"]["online"] and sub(api, SENSOR_02)["sessionStatus"]["cell"]


async def test_a_device_going_offline_ends_its_session_and_back_online_opens_one(api: Api) -> None:
    devices.set_online(api.state, sub(api, SENSOR_02), False)
    assert (await events(api, SENSOR_02))[0]["event"] == "Deleted"
    ping = (await api.call("POST", f"/subscribers/{SENSOR_02}/downlink/ping", {"numberOfPingRequests": 3})).json()
    assert ping == {"success": False, "rtt": "", "stat": "3 packets transmitted, 0 received, 100% packet loss"}
    devices.set_online(api.state, sub(api, SENSOR_02), True)
    assert (await events(api, SENSOR_02))[0]["event"] == "Created"
    ping = (await api.call("POST", f"/subscribers/{SENSOR_02}/downlink/ping", {"numberOfPingRequests": 3})).json()
    assert ping["success"] and ping["stat"].startswith("3 packets transmitted, 3 received")
    low, average, high = (float(v) for v in ping["rtt"].split("= ")[1].split()[0].split("/")[:3])
    assert 40 <= low <= average <= high <= 300  # plausible for LTE


async def test_a_standby_sims_device_stays_without_a_session(api: Api) -> None:
    devices.set_online(api.state, sub(api, SENSOR_07), True)
    assert not devices.device_of(api.state, sub(api, SENSOR_07)).session_id
    await api.call("POST", f"/subscribers/{SENSOR_07}/activate")
    assert devices.device_of(api.state, sub(api, SENSOR_07)).session_id


async def test_delete_session_reconnects_an_online_device(api: Api) -> None:
    before = sub(api, SENSOR_02)["sessionStatus"]["sessionId"]
    response = await api.call("POST", f"/subscribers/{SENSOR_02}/delete_session")
    assert response.status_code == 200 and response.json()["sessionStatus"]["sessionId"] != before
    deleted, created = reversed((await events(api, SENSOR_02))[:2])
    assert (deleted["event"], deleted["sessionId"], created["event"]) == ("Deleted", before, "Created")
    assert deleted["time"] < created["time"]


async def test_status_history_names_the_sam_user_that_changed_it(api: Api) -> None:
    api.state.add_user("alice", permission=json.dumps({"statements": [{"effect": "allow", "api": ["*"]}]}))
    key_id, secret = api.state.add_user_auth_key("alice")
    alice = await _login(api.client, {"authKeyId": key_id, "authKey": secret})
    await api.client.post(f"/v1/subscribers/{SENSOR_05}/activate", headers=alice)
    kept = devices.device_of(api.state, sub(api, SENSOR_05)).history[-1]
    assert (kept["status"], kept["by"]) == ("active", "OP0000000001/alice")
    iccid = sub(api, SENSOR_05)["iccid"]
    answer = (await api.call("GET", f"/sims/{iccid}/statuses/history", limit=1)).json()
    assert answer[0]["status"] == "active" and "by" not in answer[0]  # the spec's fields only
    assert (await api.call("GET", "/sims/8981100000000999999/statuses/history")).status_code == 404


async def test_session_events_page_by_time(api: Api) -> None:
    first = await api.call("GET", f"/subscribers/{METER_02}/events/sessions", limit=2)
    key = first.headers["x-soracom-next-key"]
    rest = (await api.call("GET", f"/subscribers/{METER_02}/events/sessions", last_evaluated_key=key)).json()
    times = [e["time"] for e in first.json() + rest]
    assert times == sorted(times, reverse=True) and len(times) == len(set(times)) == 4


async def test_cells_are_located_when_known(api: Api) -> None:
    cell = (await events(api, SENSOR_02))[0]["cell"]
    asked = [{"mcc": str(cell["mcc"]), "mnc": str(cell["mnc"]), "tac": str(cell["tac"]), "ecid": str(cell["eci"]),
              "identifier": "mine"},
             {"mcc": "440", "mnc": "10", "tac": "9999", "ecid": "99999999", "identifier": "unknown"},
             {"mcc": "x", "identifier": "garbage"}]
    answer = (await api.call("POST", "/cell_locations", asked)).json()
    assert [a["identifier"] for a in answer] == ["mine"] and answer[0]["lat"] and answer[0]["lon"]


async def test_sms_is_kept_within_the_encodings_limits(api: Api) -> None:
    path = f"/subscribers/{SENSOR_02}/send_sms"
    assert (await api.call("POST", path, {"encodingType": 1, "payload": "a" * 160})).status_code == 202
    assert (await api.call("POST", path, {"encodingType": 1, "payload": "a" * 161})).status_code == 400
    assert (await api.call("POST", path, {"encodingType": 1, "payload": "€" * 81})).status_code == 400
    assert (await api.call("POST", path, {"encodingType": 1, "payload": "日本"})).status_code == 400
    assert (await api.call("POST", path, {"encodingType": 2, "payload": "日" * 70})).status_code == 202
    assert (await api.call("POST", path, {"encodingType": 3, "payload": "x"})).status_code == 400
    assert (await api.call("POST", "/subscribers/440100000000001/send_sms", {"payload": "x"})).status_code == 400
    kept = devices.device_of(api.state, sub(api, SENSOR_02)).sms
    assert [(m["encodingType"], len(m["payload"])) for m in kept] == [(1, 160), (2, 70)]


async def diagnose(api: Api, imsi: str) -> list[str]:
    asked = await api.call("POST", "/diagnostics", {"service": "Air", "resourceType": "sim",
                                                    "resourceId": sub(api, imsi)["iccid"]})
    assert asked.status_code == 201 and asked.json()["status"] == "diagnosing"
    diagnostic_id = asked.json()["diagnosticId"]
    assert (await api.call("GET", f"/diagnostics/{diagnostic_id}")).json()["status"] == "diagnosing"
    done = (await api.call("GET", f"/diagnostics/{diagnostic_id}")).json()
    assert done["status"] == "done"
    return [insight["insightId"] for insight in done["insights"]]


async def test_diagnoses_derive_from_the_state(api: Api) -> None:
    assert await diagnose(api, SENSOR_02) == ["no-problem"]
    assert await diagnose(api, SENSOR_05) == ["sim-not-active"]
    assert await diagnose(api, TRACKER_02) == ["imei-mismatch", "no-session"]
    assert await diagnose(api, METER_02) == ["no-session"]
    await api.call("POST", f"/subscribers/{SENSOR_02}/update_speed_class", {"speedClass": "s1.minimum"})
    assert await diagnose(api, SENSOR_02) == ["speed-minimum"]
    assert (await api.call("POST", "/diagnostics", {"service": "Air", "resourceType": "sim",
                                                    "resourceId": "nope"})).status_code == 404


async def test_the_seed_is_consistent(api: Api) -> None:
    for imsi, kept in api.state.subscribers.items():
        device = devices.device_of(api.state, kept)
        online = bool((kept.get("sessionStatus") or {}).get("online"))
        assert online == bool(device.session_id), imsi
        assert not online or kept["status"] == "active"
    quiet = sub(api, METER_02)
    assert not quiet["sessionStatus"]["online"]
    quiet_since = api.state.now_ms() - devices.QUIET_HOURS * 3_600_000
    assert max(api.state.air_stats[METER_02]) * 1000 <= quiet_since  # no traffic since it went quiet
