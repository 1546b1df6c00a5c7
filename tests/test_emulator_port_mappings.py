"""The emulator's Napter port mappings: strict requests, endpoints from documentation ranges, expiry by the
emulator's clock, one operator's mappings invisible to another."""

# ruff: noqa: F811  (the fixtures of test_emulator are imported, then requested by name)
from __future__ import annotations

import ipaddress

import pytest

from bot.emulator import EmulatorState
from tests.test_emulator import NOW, ONLINE_SIM, TERMINATED_SIM, api, login, root, state  # noqa: F401  (fixtures)

BODY = {"destination": {"imsi": ONLINE_SIM, "port": 22}, "duration": 600, "source": {"ipRanges": ["203.0.113.0/24"]},
        "tlsRequired": False}


async def test_a_mapping_is_created_listed_and_deleted(api, state: EmulatorState, root):
    created = await api.post("/v1/port_mappings", json=BODY, headers=root)
    assert created.status_code == 201, created.text
    mapping = created.json()
    assert ipaddress.ip_address(mapping["ipAddress"]) in ipaddress.ip_network("192.0.2.0/24")
    assert mapping["hostname"].endswith(".napter.example.net")
    assert mapping["endpoint"] == f"{mapping['ipAddress']}:{mapping['port']}"
    assert mapping["expiredTime"] - mapping["createdTime"] == 600_000
    assert mapping["createdTime"] == int(NOW.timestamp() * 1000)  # the emulator's clock
    assert mapping["destination"] == {"imsi": ONLINE_SIM, "port": 22, "destinationChoosingStrategy": "IMSI_PRIORITIZED"}
    listed = (await api.get(f"/v1/port_mappings/subscribers/{ONLINE_SIM}", headers=root)).json()
    assert [m["endpoint"] for m in listed] == [mapping["endpoint"]]
    assert [m["endpoint"] for m in (await api.get("/v1/port_mappings", headers=root)).json()] == [mapping["endpoint"]]
    path = f"/v1/port_mappings/{mapping['ipAddress']}/{mapping['port']}"
    assert (await api.delete(path, headers=root)).status_code == 204
    gone = await api.delete(path, headers=root)
    assert gone.status_code == 404 and mapping["ipAddress"] not in gone.text  # the error names no endpoint


async def test_a_mapping_expires_by_the_emulators_clock(api, state: EmulatorState, root):
    mapping = (await api.post("/v1/port_mappings", json=BODY, headers=root)).json()
    state.advance(599)
    assert len((await api.get(f"/v1/port_mappings/subscribers/{ONLINE_SIM}", headers=root)).json()) == 1
    state.advance(1)
    assert (await api.get(f"/v1/port_mappings/subscribers/{ONLINE_SIM}", headers=root)).json() == []
    assert (await api.delete(f"/v1/port_mappings/{mapping['ipAddress']}/{mapping['port']}",
                             headers=root)).status_code == 404


@pytest.mark.parametrize("change, status", [
    ({"duration": 8 * 3600 + 1}, 400),
    ({"duration": 0}, 400),
    ({"duration": "600"}, 400),
    ({"destination": {"imsi": ONLINE_SIM, "port": 70000}}, 400),
    ({"destination": {"imsi": ONLINE_SIM, "port": 22.5}}, 400),
    ({"destination": {"imsi": ONLINE_SIM}}, 400),
    ({"destination": {"imsi": "440100000099999", "port": 22}}, 404),
    ({"destination": {"imsi": TERMINATED_SIM, "port": 22}}, 400),
    ({"source": {"ipRanges": ["203.0.113.9/24"]}}, 400),
    ({"source": {"ipRanges": ["not-a-range"]}}, 400),
    ({"tlsRequired": "yes"}, 400),
])
async def test_bad_requests_are_refused_and_open_nothing(api, state: EmulatorState, root, change, status):
    response = await api.post("/v1/port_mappings", json={**BODY, **change}, headers=root)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"code", "message"}
    assert state.demo.port_mappings == {}


async def test_another_operator_sees_none_of_them(api, state: EmulatorState, root):
    assert (await api.post("/v1/port_mappings", json=BODY, headers=root)).status_code == 201
    await api.post("/v1/sandbox/init", json={"email": "other@example.jp", "password": "pw-123456",
                                             "authKeyId": "any", "authKey": "any"})
    other = await login(api, email="other@example.jp", password="pw-123456")
    assert (await api.get("/v1/port_mappings", headers=other)).json() == []
    assert (await api.get(f"/v1/port_mappings/subscribers/{ONLINE_SIM}", headers=other)).status_code == 404
