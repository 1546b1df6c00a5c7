"""Subscribers: listing with filters, lifecycle, termination protection, group, IMEI lock, tags, speed class, expiry."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from bot.emulator import devices
from bot.emulator.api.event_handlers import status_changed
from bot.emulator.errors import ApiError, bad_request, group_not_found, not_found, subscriber_not_found
from bot.emulator.paging import paginate
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.seed import speed_classes_for
from bot.emulator.state import EmulatorState, OperatorData

LIST_MAX_LIMIT = 100
STATUSES = frozenset({"ready", "active", "inactive", "standby", "suspended", "terminated", "instock", "shipped"})
SPEED_CLASSES = frozenset({"s1.minimum", "s1.slow", "s1.standard", "s1.fast", "s1.4xfast", "s1.8xfast",
                           "u1.standard", "u1.slow", "t1.standard", "arc.standard"})
UPDATABLE_SPEED_CLASSES = frozenset({"s1.minimum", "s1.slow", "s1.standard", "s1.fast", "s1.4xfast", "s1.8xfast",
                                     "u1.standard", "u1.slow"})  # UpdateSpeedClassRequest's enum
EXPIRY_ACTIONS = frozenset({"doNothing", "deleteSession", "deactivate", "suspend", "terminate"})
_IMEI = re.compile(r"^\d{15}(\|ANONYMOUS)?$")

# operationId → (new status, statuses it may come from). Nothing leaves "terminated"; nothing returns to "ready".
TRANSITIONS: dict[str, tuple[str, frozenset[str]]] = {
    "activateSubscriber": ("active", frozenset({"ready", "active", "inactive", "standby", "suspended"})),
    "deactivateSubscriber": ("inactive", frozenset({"ready", "active", "inactive", "standby", "suspended"})),
    "setSubscriberToStandby": ("standby", frozenset({"ready", "inactive", "standby"})),
    "suspendSubscriber": ("suspended", frozenset({"ready", "active", "inactive", "standby", "suspended"})),
}


def get_subscriber(data: OperatorData, imsi: str) -> dict[str, Any]:
    sub = data.subscribers.get(imsi)
    if sub is None:
        raise subscriber_not_found(imsi)
    return sub


def touch(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    """Stamps a subscriber or group as changed now (both carry lastModifiedAt and lastModifiedTime)."""
    record["lastModifiedAt"] = record["lastModifiedTime"] = state.now_ms()
    return record


def end_session(state: EmulatorState, sub: dict[str, Any]) -> None:
    devices.detach(state, sub)


def pipe_values(call: Call, name: str, allowed: frozenset[str]) -> set[str] | None:
    raw = call.query.get(name)
    if not raw:
        return None
    values = {value for value in raw.split("|") if value}
    unknown = values - allowed
    if unknown:
        raise bad_request(f"Invalid {name} value(s): {', '.join(sorted(unknown))}.")
    return values


def tag_matcher(call: Call) -> Callable[[dict[str, str]], bool] | None:
    """A predicate on tags from tag_name / tag_value / tag_value_match_mode, or None when no tag filter is asked."""
    name = call.query.get("tag_name")
    if not name:
        return None
    value = call.query.get("tag_value")
    if value is None:
        raise bad_request("tag_value is required when tag_name is given.")
    mode = call.query.get("tag_value_match_mode", "exact")
    if mode not in ("exact", "prefix"):
        raise bad_request("tag_value_match_mode must be exact or prefix.")
    if mode == "prefix":
        return lambda tags: name in tags and str(tags[name]).startswith(value)
    return lambda tags: tags.get(name) == value


@handles("listSubscribers")
def list_subscribers(call: Call) -> Response:
    statuses = pipe_values(call, "status_filter", STATUSES)
    speeds = pipe_values(call, "speed_class_filter", SPEED_CLASSES)
    serials = [s for s in call.query.get("serial_number_filter", "").split("|") if s]
    tags = tag_matcher(call)
    subscribers = call.data.sorted_subscribers()  # by IMSI, bisected to the page's start
    last = call.query.get("last_evaluated_key")
    imsis = subscribers.irange(minimum=last, inclusive=(False, True)) if last else iter(subscribers)
    found = (
        sub for sub in map(subscribers.__getitem__, imsis)
        if (statuses is None or sub["status"] in statuses)
        and (speeds is None or sub["speedClass"] in speeds)
        and (not serials or any(str(sub.get("serialNumber") or "").startswith(s) for s in serials))
        and (tags is None or tags(sub["tags"]))
    )
    return paginate(call, found, "imsi", LIST_MAX_LIMIT)


@handles("getSubscriber")
def get_subscriber_endpoint(call: Call) -> Response:
    return reply(get_subscriber(call.data, call.params["imsi"]))


def change_status(call: Call, operation_id: str) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    target, sources = TRANSITIONS[operation_id]
    if sub["status"] == "terminated":
        raise bad_request(f"The subscriber {sub['imsi']} is terminated; its status cannot change.", "SEM0005")
    if sub["status"] not in sources:
        raise bad_request(f"The status of subscriber {sub['imsi']} cannot change from {sub['status']} to {target}.",
                          "SEM0005")
    old, sub["status"] = sub["status"], target
    if target != "active":
        end_session(call.state, sub)
    devices.record_status(call.state, sub, str(call.identity))
    devices.attach(call.state, sub)
    status_changed(call.state, call.data, sub, old, target)
    return reply(touch(call.state, sub))


@handles("activateSubscriber")
def activate(call: Call) -> Response:
    return change_status(call, "activateSubscriber")


@handles("deactivateSubscriber")
def deactivate(call: Call) -> Response:
    return change_status(call, "deactivateSubscriber")


@handles("setSubscriberToStandby")
def set_to_standby(call: Call) -> Response:
    return change_status(call, "setSubscriberToStandby")


@handles("suspendSubscriber")
def suspend(call: Call) -> Response:
    return change_status(call, "suspendSubscriber")


@handles("terminateSubscriber")
def terminate(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    if sub["status"] == "terminated":
        raise bad_request(f"The subscriber {sub['imsi']} is already terminated.", "SEM0005")
    if not sub["terminationEnabled"]:
        raise bad_request(f"Termination of subscriber {sub['imsi']} is disabled (termination protection is on). "
                          "Call enable_termination first.", "SEM0041")
    sub["status"] = "terminated"
    end_session(call.state, sub)
    devices.record_status(call.state, sub, str(call.identity))
    return reply(touch(call.state, sub))


def set_termination(call: Call, enabled: bool) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    sub["terminationEnabled"] = enabled
    return reply(touch(call.state, sub))


@handles("enableTermination")
def enable_termination(call: Call) -> Response:
    return set_termination(call, True)


@handles("disableTermination")
def disable_termination(call: Call) -> Response:
    return set_termination(call, False)


@handles("setGroup")
def set_group(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    group_id = call.string_field("groupId")
    if group_id not in call.data.groups:
        raise group_not_found(str(group_id))
    sub["groupId"] = group_id
    devices.record_status(call.state, sub, str(call.identity))
    return reply(touch(call.state, sub))


@handles("unsetGroup")
def unset_group(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    if not sub["groupId"]:
        raise not_found(f"The subscriber {sub['imsi']} does not belong to a group.", "SEM0007")
    sub["groupId"] = None
    devices.record_status(call.state, sub, str(call.identity))
    return reply(touch(call.state, sub))


@handles("setImeiLock")
def set_imei_lock(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    imei = call.string_field("imei", required=False) if call.body is not None else None
    if not imei:
        session = sub.get("sessionStatus") or {}
        if not session.get("online") or not session.get("imei"):
            raise bad_request("The subscriber is offline: specify the IMEI to lock to.", "SEM0016")
        imei = session["imei"]
    if not _IMEI.match(imei):
        raise bad_request(f"Invalid IMEI: {imei}.", "SEM0017")
    sub["imeiLock"] = {"imei": imei}
    return reply(touch(call.state, sub))


@handles("unsetImeiLock")
def unset_imei_lock(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    sub["imeiLock"] = None
    return reply(touch(call.state, sub))


def tag_updates(call: Call) -> dict[str, str]:
    updates: dict[str, str] = {}
    for item in call.list_body():
        if not isinstance(item, dict) or not isinstance(item.get("tagName"), str) or not item["tagName"] \
                or not isinstance(item.get("tagValue"), str):
            raise bad_request("Each tag needs a non-empty string tagName and a string tagValue.")
        updates[item["tagName"]] = item["tagValue"]
    return updates


@handles("putSubscriberTags")
def put_tags(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    sub["tags"].update(tag_updates(call))
    return reply(touch(call.state, sub))


@handles("deleteSubscriberTag")
def delete_tag(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    name = call.params["tag_name"]
    if name not in sub["tags"]:
        raise not_found(f"The subscriber {sub['imsi']} has no tag {name}.", "SEM0010")
    del sub["tags"][name]
    touch(call.state, sub)
    return no_content()


@handles("updateSpeedClass")
def update_speed_class(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    speed = call.string_field("speedClass")
    if speed not in UPDATABLE_SPEED_CLASSES:
        raise bad_request(f"Invalid speed class: {speed}.", "SEM0020")
    if speed not in speed_classes_for(sub["subscription"]):
        raise bad_request(f"Speed class {speed} is not available for {sub['subscription']}.", "SEM0021")
    sub["speedClass"] = sub["type"] = speed
    devices.record_status(call.state, sub, str(call.identity))
    return reply(touch(call.state, sub))


@handles("setExpiryTime")
def set_expiry_time(call: Call) -> Response:
    sub = get_subscriber(call.data, call.params["imsi"])
    body = call.object_body(("expiryTime",))
    expiry, action = body["expiryTime"], body.get("expiryAction")
    if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry <= call.state.now_ms():
        raise bad_request("expiryTime must be a future UNIX time in milliseconds.")
    if action is not None and action not in EXPIRY_ACTIONS:
        raise bad_request(f"Invalid expiryAction: {action}.")
    if action == "terminate" and not sub["terminationEnabled"]:
        raise ApiError(400, "SEM0041", "expiryAction terminate needs termination enabled on the subscriber.")
    sub.update({"expiryTime": expiry, "expiredAt": expiry, "expiryAction": action})
    return reply(touch(call.state, sub))
