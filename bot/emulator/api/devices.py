"""A SIM's device: session events, status history, cell locations, SORACOM's diagnosis, ping, delete session, SMS."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from bot.emulator import devices
from bot.emulator.api.subscribers import get_subscriber
from bot.emulator.errors import bad_request, not_found
from bot.emulator.registry import Call, handles, reply

EVENTS_DEFAULT_LIMIT = 100
HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT = 30, 100
CELL_RECORD_TIME = "2022-01-01T00:00:00.000Z"
DAY_MS = 86_400_000


def _page(call: Call, items: list[dict[str, Any]], key: str, default_limit: int,
          max_limit: int | None = None) -> Response:
    """One page of items already in answer order; the next key is the last item's `key` (a time)."""
    limit = call.int_query("limit", default_limit)
    assert limit is not None
    if limit < 1:
        raise bad_request("limit must be 1 or more.")
    if max_limit is not None and limit > max_limit:
        raise bad_request(f"limit must be at most {max_limit}.")
    last = call.query.get("last_evaluated_key")
    if last:
        if not last.lstrip("-").isdigit():
            raise bad_request("last_evaluated_key is not one this API gave.")
        position = next((i for i, item in enumerate(items) if str(item[key]) == last), None)
        items = items[position + 1:] if position is not None else []
    page = items[:limit]
    headers = {}
    if len(items) > limit:
        headers["x-soracom-next-key"] = str(page[-1][key])
    return reply(page, headers=headers)


def _time_range(call: Call, default_from: int) -> tuple[int, int]:
    start = call.int_query("from", default_from)
    end = call.int_query("to", call.state.now_ms())
    assert start is not None and end is not None
    return start, end


@handles("listSessionEvents")
def list_session_events(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    now = call.state.now_ms()
    start, end = _time_range(call, now - devices.SESSION_EVENT_DAYS * DAY_MS)
    start = max(start, now - devices.SESSION_EVENT_DAYS * DAY_MS)
    # Newest first; of events in the same millisecond (a suspend, then an activate) the later one first.
    events = [e for e in reversed(devices.device_of(call.state, sub).events) if start <= e["time"] <= end]
    events.sort(key=lambda e: -e["time"])
    return _page(call, events, "time", EVENTS_DEFAULT_LIMIT)


def _sub_by_sim_id(call: Call, sim_id: str) -> dict[str, Any]:
    found = next((sub for sub in call.data.subscribers.values() if devices.sim_id(sub) == sim_id), None)
    if found is None:
        raise not_found(f"No such SIM found: {sim_id}.", "SEM0001")
    return found


@handles("listSimStatusHistory")
def list_sim_status_history(call: Call) -> Response:
    sub = _sub_by_sim_id(call, call.params["sim_id"])
    start, end = _time_range(call, 0)
    sort = call.query.get("sort", "desc")
    entries = [devices.public(e) for e in devices.device_of(call.state, sub).history
               if start <= e["applyDateTimeEpochSec"] * 1000 <= end]
    if sort == "desc":
        entries.reverse()
    return _page(call, entries, "applyDateTimeEpochSec", HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)


@handles("batchGetCellLocations")
def batch_get_cell_locations(call: Call) -> Response:
    found = []
    for cell in call.list_body():
        if not isinstance(cell, dict):
            raise bad_request("Each item must be a cell identifier object.")
        known = devices.locate(cell)
        if known is None:
            continue
        location: dict[str, Any] = {"lat": known["lat"], "lon": known["lon"], "range": known["range"],
                                    "avg_strength": 0, "exact": 0, "samples": 7,
                                    "created": CELL_RECORD_TIME, "updated": CELL_RECORD_TIME}
        if isinstance(cell.get("identifier"), str):
            location["identifier"] = cell["identifier"]
        found.append(location)
    return reply(found)


@handles("sendDiagnosticRequest")
def send_diagnostic_request(call: Call) -> Response:
    body = call.object_body(("service", "resourceType", "resourceId"))
    if body["service"] != "Air" or body["resourceType"] != "sim":
        raise bad_request("Only service Air and resourceType sim can be diagnosed.")
    sub = _sub_by_sim_id(call, str(body["resourceId"]))
    now = call.state.now_ms()
    start, end = body.get("from"), body.get("to")
    end = now if end is None else end
    start = end - DAY_MS if start is None else start
    if not 0 <= start < end or end > now + DAY_MS or end - start > 30 * DAY_MS:
        raise bad_request("from must be before to, within 30 days, and to not in the future.")
    return reply(devices.diagnose(call.state, sub, call.identity.operator_id, start, end), status=201)


@handles("getDiagnostic")
def get_diagnostic(call: Call) -> Response:
    found = devices.diagnosis(call.state, call.params["diagnostic_id"], call.identity.operator_id)
    if found is None:
        raise not_found(f"The diagnostic {call.params['diagnostic_id']} is not found.", "COM0004")
    return reply(found)


@handles("subscriberDownlinkPingToUserEquipment")
def downlink_ping(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    body = call.object_body()
    count, timeout = body.get("numberOfPingRequests", 1), body.get("timeoutSeconds", 1)
    if not 1 <= count <= 5 or not 1 <= timeout <= 3:
        raise bad_request("numberOfPingRequests must be 1 to 5 and timeoutSeconds 1 to 3.")
    return reply(devices.ping(call.state, sub, count))


@handles("deleteSubscriberSession")
def delete_subscriber_session(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    devices.reconnect(call.state, sub)
    return reply(sub)


@handles("sendSms")
def send_sms(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    body = call.object_body(("payload",))
    payload, encoding = body["payload"], body.get("encodingType", 2)
    if sub["subscription"] in devices.NO_SMS_SUBSCRIPTIONS or sub["status"] == "terminated":
        raise bad_request(f"The subscriber {sub['imsi']} does not support SMS API.", "SEM0052")
    if encoding not in devices.SMS_LIMITS:
        raise bad_request("encodingType must be 1 (GSM 7-bit) or 2 (UCS-2).")
    length = devices.gsm_septets(payload) if encoding == 1 else len(payload)
    if length is None:
        raise bad_request("The payload holds characters GSM 7-bit cannot carry: use encodingType 2.")
    if length > devices.SMS_LIMITS[encoding]:
        raise bad_request(f"The payload is {length} characters; encodingType {encoding} allows "
                          f"{devices.SMS_LIMITS[encoding]}.")
    message = devices.receive_sms(call.state, sub, payload, encoding)
    return reply({"messageId": message["messageId"]}, status=202)
