"""Napter On-Demand Remote Access: port mappings (create, list, list for a SIM, delete) that expire by the emulator's
clock. Endpoints come from documentation ranges (RFC 5737's 192.0.2.0/24, an example.net host name): an address the
emulator hands out can never lead anywhere real."""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.responses import Response

from bot.emulator.errors import bad_request, not_found, subscriber_not_found
from bot.emulator.paging import paginate
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.state import EmulatorState, OperatorData

MAX_DURATION = 8 * 3600  # seconds: SORACOM's limit
DEFAULT_DURATION = 3600
ENDPOINT_NETWORK = ipaddress.ip_network("192.0.2.0/24")  # TEST-NET-1 (RFC 5737)
ENDPOINT_PORTS = (30000, 39999)
HOST_DOMAIN = "napter.example.net"  # RFC 2606
ANYWHERE = "0.0.0.0/0"


def _current(state: EmulatorState, data: OperatorData) -> dict[str, dict[str, Any]]:
    """The mappings still open: SORACOM deletes a mapping when its time is up."""
    now = state.now_ms()
    for key in [key for key, mapping in data.port_mappings.items() if mapping["expiredTime"] <= now]:
        del data.port_mappings[key]
    return data.port_mappings


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"{name} must be a number.")
    return float(value)


def _port(value: Any) -> int:
    port = _number(value, "destination.port")
    if not port.is_integer() or not 1 <= port <= 65535:
        raise bad_request("destination.port must be a whole number from 1 to 65535.")
    return int(port)


def _ranges(source: Any) -> list[str]:
    if source is None:
        return [ANYWHERE]
    ranges = source.get("ipRanges") if isinstance(source, dict) else None
    if ranges is None:
        return [ANYWHERE]
    if not isinstance(ranges, list) or not ranges:
        raise bad_request("source.ipRanges must list at least one CIDR.")
    checked = []
    for value in ranges:
        try:
            checked.append(str(ipaddress.IPv4Network(value, strict=True)))
        except (ValueError, TypeError):
            raise bad_request("source.ipRanges holds an entry that is not an IPv4 CIDR.") from None
    return checked


def _free_endpoint(state: EmulatorState, data: OperatorData) -> tuple[str, int]:
    taken = {key for other in state.data.values() for key in other.port_mappings}
    hosts = ENDPOINT_NETWORK.num_addresses - 2
    for _ in range(1000):
        address = str(ENDPOINT_NETWORK[1 + state.rng.randrange(hosts)])
        port = state.rng.randint(*ENDPOINT_PORTS)
        if f"{address}:{port}" not in taken:
            return address, port
    raise bad_request("No free endpoint is left; delete some port mappings.", "PMM0003")


@handles("createPortMapping")
def create_port_mapping(call: Call) -> Response:
    body = call.object_body(("destination",))
    destination = body["destination"]
    if not isinstance(destination, dict):
        raise bad_request("destination must be an object.")
    device_port = _port(destination.get("port"))
    imsi = destination.get("imsi")
    if destination.get("simId") not in (None, ""):
        raise bad_request("The emulator opens remote access by IMSI only; give destination.imsi.")
    if not isinstance(imsi, str) or not imsi:
        raise bad_request("destination.imsi is required.")
    sub = call.data.subscribers.get(imsi)
    if sub is None:
        raise subscriber_not_found(imsi)
    if sub.get("status") != "active":
        raise bad_request(f"The subscriber {imsi} is not active.", "PMM0002")
    duration = _number(body.get("duration", DEFAULT_DURATION), "duration")
    if not 0 < duration <= MAX_DURATION:
        raise bad_request(f"duration must be more than 0 and at most {MAX_DURATION} seconds.")
    tls = body.get("tlsRequired", False)
    if not isinstance(tls, bool):
        raise bad_request("tlsRequired must be true or false.")
    ranges = _ranges(body.get("source"))
    mappings = _current(call.state, call.data)
    address, port = _free_endpoint(call.state, call.data)
    created = call.state.now_ms()
    mapping = {
        "createdTime": created,
        "destination": {"imsi": imsi, "port": device_port, "destinationChoosingStrategy": "IMSI_PRIORITIZED"},
        "duration": duration,
        "endpoint": f"{address}:{port}",
        "expired": False,
        "expiredTime": created + int(duration * 1000),
        "hostname": f"{call.state.new_hex(16)}.{HOST_DOMAIN}",
        "imsi": imsi,
        "ipAddress": address,
        "operatorId": call.identity.operator_id,
        "placement": "default",
        "port": port,
        "source": {"ipRanges": ranges},
        "tlsRequired": tls,
    }
    mappings[f"{address}:{port}"] = mapping
    return reply(mapping, status=201)


@handles("listPortMappings")
def list_port_mappings(call: Call) -> Response:
    mappings = sorted(_current(call.state, call.data).values(), key=lambda m: m["endpoint"])
    return paginate(call, mappings, "endpoint")


@handles("listPortMappingsForSubscriber")
def list_port_mappings_for_subscriber(call: Call) -> Response:
    imsi = call.params["imsi"]
    if imsi not in call.data.subscribers:
        raise subscriber_not_found(imsi)
    mappings = [m for _, m in sorted(_current(call.state, call.data).items()) if m["imsi"] == imsi]
    return reply(mappings)


@handles("deletePortMapping")
def delete_port_mapping(call: Call) -> Response:
    # The message names no endpoint: whoever logs SORACOM's errors must not log the way into a device.
    key = f"{call.params['ip_address']}:{call.params['port']}"
    mappings = _current(call.state, call.data)
    if key not in mappings:
        raise not_found("The specified port mapping does not exist.", "PMM0001")
    del mappings[key]
    return no_content()
