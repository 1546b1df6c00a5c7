"""Event Handler: the rules (create, list, get, update, delete) and their ExecuteWebRequestAction, sent when the
emulator's data crosses a rule: traffic added through the sandbox stats API, a SIM's status changed."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import httpx
from starlette.responses import Response

from bot.emulator.errors import bad_request, not_found
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.state import EmulatorState, OperatorData

log = logging.getLogger(__name__)

TARGETS = ("targetGroupId", "targetImsi", "targetOperatorId", "targetSimId")
LIST_TARGETS = {"operator": "targetOperatorId", "imsi": "targetImsi", "sim": "targetSimId", "group": "targetGroupId"}
MAX_ACTIONS = 5
WEB_REQUEST_FIELDS = ("url", "httpMethod", "contentType", "headers")
TRAFFIC_RULES = {"SubscriberDailyTrafficRule": "day", "SimDailyTotalTrafficRule": "day",
                 "SubscriberMonthlyTrafficRule": "month", "SimMonthlyTotalTrafficRule": "month"}
STATUS_RULES = frozenset({"SubscriberStatusAttributeRule", "SimStatusAttributeRule"})
WEB_TIMEOUT = 10.0
_VARIABLE = re.compile(r"\$\{(\w+)\}")
_SENDING: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks
_MIB = 1024 * 1024


def _handler(data: OperatorData, handler_id: str, status: int = 404) -> dict[str, Any]:
    handler = data.event_handlers.get(handler_id)
    if handler is None:
        if status == 400:
            raise bad_request(f"Invalid event handler ID: {handler_id}.")
        raise not_found(f"Event handler {handler_id} not found.")
    return handler


def _checked(call: Call) -> dict[str, Any]:
    """What the spec's schema cannot say: one target, at most 5 actions, complete web requests, numeric limits."""
    body = call.object_body(("name",))
    targets = [name for name in TARGETS if body.get(name)]
    if len(targets) != 1:
        raise bad_request("Specify exactly one of targetGroupId, targetImsi, targetOperatorId or targetSimId.")
    if targets[0] == "targetOperatorId" and body["targetOperatorId"] != call.identity.operator_id:
        raise bad_request("targetOperatorId must be your operator ID.")
    rule, actions = body.get("ruleConfig"), body.get("actionConfigList")
    if not isinstance(rule, dict) or not isinstance(rule.get("properties"), dict) or not rule.get("type"):
        raise bad_request("ruleConfig needs a type and properties.")
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        raise bad_request(f"actionConfigList needs 1 to {MAX_ACTIONS} actions.")
    limit = rule["properties"].get("limitTotalTrafficMegaByte")
    if rule["type"] in TRAFFIC_RULES and not (isinstance(limit, str) and limit.isdigit() and int(limit) >= 1):
        raise bad_request("limitTotalTrafficMegaByte must be a positive integer, as a string.")
    for action in actions:
        properties = action.get("properties") if isinstance(action, dict) else None
        if not isinstance(properties, dict) or not properties.get("executionDateTimeConst"):
            raise bad_request("Each action needs properties with executionDateTimeConst.")
        if action.get("type") == "ExecuteWebRequestAction":
            missing = [name for name in WEB_REQUEST_FIELDS if properties.get(name) in (None, "")]
            if missing:
                raise bad_request(f"ExecuteWebRequestAction needs {', '.join(missing)}.")
            if not str(properties["url"]).startswith(("http://", "https://")):
                raise bad_request("url must be an http(s) URL.")
    return body


def _stored(handler_id: str, body: dict[str, Any]) -> dict[str, Any]:
    handler = {key: body[key] for key in ("name", "description", *TARGETS) if body.get(key) is not None}
    handler.update({"handlerId": handler_id, "status": body.get("status") or "active",
                    "ruleConfig": body["ruleConfig"], "actionConfigList": body["actionConfigList"]})
    return handler


@handles("createEventHandler")
def create_event_handler(call: Call) -> Response:
    body = _checked(call)
    handler_id = call.state.new_hex(32)
    call.data.event_handlers[handler_id] = _stored(handler_id, body)
    return reply(call.data.event_handlers[handler_id], status=201)


@handles("listEventHandlers")
def list_event_handlers(call: Call) -> Response:
    target = call.query.get("target")
    if target is not None and target not in LIST_TARGETS:
        raise bad_request("target must be operator, imsi, sim or group.")
    found = [handler for _, handler in sorted(call.data.event_handlers.items())
             if target is None or handler.get(LIST_TARGETS[target])]
    return reply(found)


@handles("getEventHandler")
def get_event_handler(call: Call) -> Response:
    return reply(_handler(call.data, call.params["handler_id"]))


@handles("updateEventHandler")
def update_event_handler(call: Call) -> Response:
    handler_id = call.params["handler_id"]
    _handler(call.data, handler_id, status=400)
    call.data.event_handlers[handler_id] = _stored(handler_id, _checked(call))
    call.data.event_handler_fired = {k: v for k, v in call.data.event_handler_fired.items() if k[0] != handler_id}
    return no_content(200)


@handles("deleteEventHandler")
def delete_event_handler(call: Call) -> Response:
    _handler(call.data, call.params["handler_id"])
    del call.data.event_handlers[call.params["handler_id"]]
    return no_content()


# Evaluation: which rules the data just crossed


def _watches(handler: dict[str, Any], sub: dict[str, Any]) -> bool:
    return handler.get("status") == "active" and (
        handler.get("targetImsi") == sub["imsi"] or handler.get("targetOperatorId") == sub["operatorId"]
        or (handler.get("targetGroupId") is not None and handler.get("targetGroupId") == sub.get("groupId"))
        or (handler.get("targetSimId") is not None and handler.get("targetSimId") == sub.get("simId")))


def traffic_added(state: EmulatorState, data: OperatorData, sub: dict[str, Any], unixtime: int) -> None:
    """After traffic was recorded at `unixtime`: fires the traffic rules whose limit the day's (month's) total
    now exceeds, once per SIM and period, as SORACOM does until the rule is re-evaluated."""
    from bot.emulator.api.stats import bucket_start  # stats imports subscribers, which imports this module

    samples = data.air_stats.get(sub["imsi"], {})
    for handler in list(data.event_handlers.values()):
        period = TRAFFIC_RULES.get(handler["ruleConfig"]["type"])
        if period is None or not _watches(handler, sub):
            continue
        start = bucket_start(unixtime, period)
        total = sum(int(stats.get("uploadByteSizeTotal", 0)) + int(stats.get("downloadByteSizeTotal", 0))
                    for moment, by_class in samples.items() if bucket_start(moment, period) == start
                    for stats in by_class.values())
        limit = int(handler["ruleConfig"]["properties"]["limitTotalTrafficMegaByte"]) * _MIB
        key = (handler["handlerId"], sub["imsi"])
        if total > limit and data.event_handler_fired.get(key) != str(start):
            data.event_handler_fired[key] = str(start)
            fire(state, handler, sub, {"time": str(start * 1000)})


def status_changed(state: EmulatorState, data: OperatorData, sub: dict[str, Any], old: str, new: str) -> None:
    if old == new:
        return
    for handler in list(data.event_handlers.values()):
        properties = handler["ruleConfig"].get("properties", {})
        if handler["ruleConfig"]["type"] in STATUS_RULES and _watches(handler, sub) \
                and properties.get("sourceStatus") in (None, old) and properties.get("targetStatus") in (None, new):
            fire(state, handler, sub, {"oldStatus": old, "newStatus": new})


# Sending


def render(template: str, variables: dict[str, str]) -> str:
    """SORACOM's ${name} variables; unknown ones stay as written."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), template)


def fire(state: EmulatorState, handler: dict[str, Any], sub: dict[str, Any], extra: dict[str, str]) -> None:
    """Sends the handler's web requests in the background, as SORACOM does after the rule matched."""
    variables = {"imsi": sub["imsi"], "operatorId": sub["operatorId"], "simId": sub.get("simId") or "",
                 "msisdn": sub.get("msisdn") or "", "eventHandlerId": handler["handlerId"], **extra}
    for action in handler["actionConfigList"]:
        if action.get("type") != "ExecuteWebRequestAction":
            continue
        properties = action["properties"]
        headers = properties.get("headers") or {}
        if isinstance(headers, str):  # the spec's examples write them as a JSON string
            headers = json.loads(headers) if headers.strip() else {}
        sent = {"handlerId": handler["handlerId"], "url": properties["url"], "method": properties["httpMethod"],
                "headers": {str(k): render(str(v), variables) for k, v in headers.items()},
                "body": render(str(properties.get("body") or ""), variables), "status": None,
                "at": state.now().isoformat()}
        sent["headers"]["Content-Type"] = properties["contentType"]
        state.web_requests.append(sent)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            continue
        task = loop.create_task(_send(state, sent), name=f"event-handler:{handler['handlerId']}")
        _SENDING.add(task)
        task.add_done_callback(_SENDING.discard)


async def _send(state: EmulatorState, sent: dict[str, Any]) -> None:
    body = sent["body"].encode() if sent["method"] in ("POST", "PUT") else None
    try:
        async with httpx.AsyncClient(transport=state.web_transport, timeout=WEB_TIMEOUT) as client:
            response = await client.request(sent["method"], sent["url"], headers=sent["headers"], content=body)
        sent["status"] = response.status_code
    except httpx.HTTPError as exc:
        sent["status"] = f"error: {type(exc).__name__}"
        log.warning("event handler %s: %s %s failed: %s", sent["handlerId"], sent["method"], sent["url"],
                    type(exc).__name__)

