"""Groups: create, list, get, delete, configuration namespaces, tags, member SIMs (as the spec's Sim objects)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from bot.emulator.api.subscribers import tag_matcher, tag_updates, touch
from bot.emulator.errors import bad_request, group_not_found, not_found
from bot.emulator.paging import paginate
from bot.emulator.registry import Call, handles, no_content, reply
from bot.emulator.sims import sim_of
from bot.emulator.state import OperatorData

PUT_NAMESPACES = frozenset({"SoracomAir", "SoracomBeam", "SoracomEndorse", "SoracomFlux", "SoracomFunk",
                            "SoracomFunnel", "SoracomHarvest", "SoracomHarvestFiles", "SoracomKrypton",
                            "SoracomOrbit", "UnifiedEndpoint"})
DELETE_NAMESPACES = PUT_NAMESPACES - {"SoracomOrbit"}  # as the spec's deleteConfigurationParameter enum


def get_group(data: OperatorData, group_id: str) -> dict[str, Any]:
    group = data.groups.get(group_id)
    if group is None:
        raise group_not_found(group_id)
    return group


@handles("createGroup")
def create_group(call: Call) -> Response:
    body = call.object_body() if call.body is not None else {}
    tags, configuration = body.get("tags") or {}, body.get("configuration") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_request("tags must be an object of strings.")
    if not isinstance(configuration, dict) or not all(isinstance(v, dict) for v in configuration.values()):
        raise bad_request("configuration must be an object of namespace objects.")
    now = call.state.now_ms()
    group_id = call.state.new_uuid()
    group = {"operatorId": call.identity.operator_id, "groupId": group_id, "createdAt": now, "lastModifiedAt": now,
             "configuration": configuration, "tags": tags, "createdTime": now, "lastModifiedTime": now}
    call.data.groups[group_id] = group
    return reply(group, status=201)


@handles("listGroups")
def list_groups(call: Call) -> Response:
    tags = tag_matcher(call)
    found = [group for _, group in sorted(call.data.groups.items()) if tags is None or tags(group["tags"])]
    return paginate(call, found, "groupId")


@handles("getGroup")
def get_group_endpoint(call: Call) -> Response:
    return reply(get_group(call.data, call.params["group_id"]))


@handles("deleteGroup")
def delete_group(call: Call) -> Response:
    group_id = call.params["group_id"]
    get_group(call.data, group_id)
    del call.data.groups[group_id]
    for sub in call.data.subscribers.values():
        if sub["groupId"] == group_id:
            sub["groupId"] = None
    return no_content()


@handles("putConfigurationParameters")
def put_configuration(call: Call) -> Response:
    group = get_group(call.data, call.params["group_id"])
    namespace = call.params["namespace"]
    if namespace not in PUT_NAMESPACES:
        raise bad_request(f"Unknown configuration namespace: {namespace}.", "GRM0002")
    updates = {}
    for item in call.list_body():
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or "value" not in item:
            raise bad_request("Each parameter needs a string key and a value.")
        updates[item["key"]] = item["value"]
    group["configuration"].setdefault(namespace, {}).update(updates)
    return reply(touch(call.state, group))


@handles("deleteConfigurationParameter")
def delete_configuration(call: Call) -> Response:
    group = get_group(call.data, call.params["group_id"])
    namespace, name = call.params["namespace"], call.params["name"]
    if namespace not in DELETE_NAMESPACES:
        raise bad_request(f"Unknown configuration namespace: {namespace}.", "GRM0002")
    parameters = group["configuration"].get(namespace, {})
    if name not in parameters:
        raise not_found(f"The group has no parameter {name} in {namespace}.", "GRM0003")
    del parameters[name]
    touch(call.state, group)
    return no_content()


@handles("putGroupTags")
def put_group_tags(call: Call) -> Response:
    group = get_group(call.data, call.params["group_id"])
    group["tags"].update(tag_updates(call))
    return reply(touch(call.state, group))


@handles("listSubscribersInGroup")
def list_subscribers_in_group(call: Call) -> Response:
    group_id = call.params["group_id"]
    get_group(call.data, group_id)
    members = [sub for _, sub in sorted(call.data.subscribers.items()) if sub["groupId"] == group_id]
    return paginate(call, members, "imsi", shape=sim_of)  # paged by IMSI, as the spec's last_evaluated_key says
