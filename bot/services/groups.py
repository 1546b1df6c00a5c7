"""Groups in SORACOM words: list, show, create, delete, and configuration parameters with typed values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.services.bulk import run_bulk
from bot.services.errors import InputError, WriteUnconfirmed, service
from bot.services.limits import check_json_depth, check_tag, check_value_size, excerpt
from bot.soracom import NotFound, SoracomClient, SoracomError
from bot.soracom.models import Group, Sim

GROUP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The `namespace` enum of putConfigurationParameters in the official spec
# (soracom-api.en.yaml, PUT /groups/{group_id}/configuration/{namespace}); tests/test_group.py compares them.
NAMESPACES = (
    "SoracomAir",
    "SoracomBeam",
    "SoracomEndorse",
    "SoracomFlux",
    "SoracomFunk",
    "SoracomFunnel",
    "SoracomHarvest",
    "SoracomHarvestFiles",
    "SoracomKrypton",
    "SoracomOrbit",
    "UnifiedEndpoint",
)
# deleteConfigurationParameter's enum in the same spec has no SoracomOrbit.
REMOVABLE_NAMESPACES = tuple(n for n in NAMESPACES if n != "SoracomOrbit")

SAMPLE_SIZE = 10
# Counting members costs one listSubscribersInGroup call per group (and per 100 SIMs): a few at once.
COUNT_CONCURRENCY = 4
JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class GroupSummary:
    group_id: str
    name: str | None
    member_count: int | None  # None when SORACOM could not count them


@dataclass(frozen=True)
class MemberSim:
    imsi: str
    name: str | None
    status: str | None


@dataclass(frozen=True)
class GroupDetail:
    group_id: str
    name: str | None
    tags: dict[str, str]
    configuration: dict[str, dict[str, Any]]
    member_count: int
    sample: list[MemberSim]


@dataclass(frozen=True)
class ConfigChange:
    """Parameters to set (values already typed for the API) and parameter names to remove, in one namespace."""

    namespace: str
    set: dict[str, Any]
    remove: list[str]


@dataclass(frozen=True)
class GroupRef:
    """A group found by name or id, as the handlers hold it between calls (SORACOM's model stays here)."""

    id: str
    name_tag: str | None
    configuration: dict[str, Any]

    @property
    def name(self) -> str:
        return self.name_tag or self.id


def _ref(group: Group) -> GroupRef:
    return GroupRef(group_id(group), name_tag(group), dict(group.configuration or {}))


def group_id(group: Group) -> str:
    """SORACOM sends every group with its id; the model leaves each field optional, as the official spec does."""
    if not group.groupId:
        raise SoracomError(502, None, "SORACOM answered a group without groupId")
    return group.groupId


def group_name(group: Group) -> str:
    return (group.tags or {}).get("name") or group_id(group)


def name_tag(group: Group) -> str | None:
    return (group.tags or {}).get("name")


@service
async def find_group(client: SoracomClient, name_or_id: str) -> GroupRef:
    """A group by id, or by its `name` tag; InputError when unknown or when the name is ambiguous."""
    return _ref(await _find(client, name_or_id))


async def _find(client: SoracomClient, name_or_id: str) -> Group:
    if GROUP_ID.match(name_or_id):
        try:
            return await client.get_group(name_or_id)
        except NotFound:
            raise InputError("group.not_found", group=name_or_id) from None
    matches = await groups_named(client, name_or_id)
    if not matches:
        raise InputError("group.not_found", group=name_or_id)
    if len(matches) > 1:
        raise InputError("group.ambiguous", group=name_or_id, ids=", ".join(group_id(g) for g in matches))
    return matches[0]


@service
@service
async def group_named_exists(client: SoracomClient, name: str) -> bool:
    """The read-back of a `/group create` a process that died was making."""
    return bool(await groups_named(client, name))


async def groups_named(client: SoracomClient, name: str) -> list[Group]:
    """Groups whose name tag is exactly `name`; SORACOM filters them, so this is one call, not a full listing."""
    found = client.iter_groups(tag_name="name", tag_value=name, tag_value_match_mode="exact")
    return [g async for g in found if name_tag(g) == name]


# list / show


@service
async def list_groups(client: SoracomClient) -> list[GroupSummary]:
    """Every group with its member count: listGroups, then listSubscribersInGroup for each group."""
    groups = [(g.groupId, g) async for g in client.iter_groups() if g.groupId]
    counts: dict[str, int] = {}

    async def count(group_id: str) -> None:
        counts[group_id] = await count_members(client, group_id)

    await run_bulk([gid for gid, _ in groups], count, concurrency=COUNT_CONCURRENCY)
    summaries = [GroupSummary(gid, name_tag(g), counts.get(gid)) for gid, g in groups]
    return sorted(summaries, key=lambda s: ((s.name or "").lower(), s.group_id))


@service
async def count_members(client: SoracomClient, group_id: str) -> int:
    return sum([1 async for _ in client.iter_subscribers_in_group(group_id)])


@service
async def show_group(client: SoracomClient, name_or_id: str, sample_size: int = SAMPLE_SIZE) -> GroupDetail:
    group = await _find(client, name_or_id)
    count = 0
    sample: list[MemberSim] = []
    async for sim in client.iter_subscribers_in_group(group_id(group)):
        count += 1
        if len(sample) < sample_size:
            sample.append(member(sim))
    return GroupDetail(group_id(group), name_tag(group), dict(group.tags or {}),
                       {ns: dict(params) for ns, params in (group.configuration or {}).items()}, count, sample)


def member(sim: Sim) -> MemberSim:
    return MemberSim(sim.primary_imsi or "", sim.name, sim.status)


# create / delete


@service
async def create_group(client: SoracomClient, name: str) -> GroupSummary:
    """A new group tagged `name`.

    Refused when another group already has that name: people find groups by name, and a second one would make
    every `/group … NAME` and `group:NAME` ambiguous.
    """
    name = name.strip()
    if not name:
        raise InputError("group.name_empty")
    check_tag("name", name)
    existing = await groups_named(client, name)
    if existing:
        raise InputError("group.exists", group=name, ids=", ".join(group_id(g) for g in existing))
    try:
        group = await client.create_group(tags={"name": name})
    except SoracomError as exc:  # no answer or a server error: read back before anything is said
        if not exc.ambiguous:
            raise
        try:
            created = await groups_named(client, name)
        except SoracomError:
            raise WriteUnconfirmed(name, None, exc.message) from None
        if not created:
            raise WriteUnconfirmed(name, False, exc.message) from None
        group = created[0]
    return GroupSummary(group_id(group), name_tag(group), 0)


@service
async def ensure_empty(client: SoracomClient, group: GroupRef) -> None:
    count = await count_members(client, group.id)
    if count:
        raise InputError("group.not_empty", group=group.name, count=count)


@service
async def delete_group(client: SoracomClient, group_id: str) -> GroupRef:
    """Deletes a group that holds no SIM (counted again now, not trusted from an earlier preview)."""
    try:
        group = _ref(await client.get_group(group_id))
    except NotFound:
        raise InputError("group.not_found", group=group_id) from None
    await ensure_empty(client, group)
    try:
        await client.delete_group(group_id)
    except SoracomError as exc:  # no answer or a server error: read back before anything is said
        if not exc.ambiguous:
            raise
        try:
            await client.get_group(group_id)
        except NotFound:
            return group
        except SoracomError:
            raise WriteUnconfirmed(group_id, None, exc.message) from None
        raise WriteUnconfirmed(group_id, False, exc.message) from None
    return group


# configuration


def namespace_named(value: str) -> str:
    """The spec's spelling of a namespace, whatever the case typed; InputError listing the valid ones."""
    for namespace in NAMESPACES:
        if namespace.lower() == value.lower():
            return namespace
    raise InputError("group.bad_namespace", namespace=value, valid=", ".join(NAMESPACES))


def parse_value(key: str, raw: str) -> Any:
    """A typed value: true/false → boolean, a JSON number → number, {…}/[…] → JSON, "…" → that text,
    '…' → what it holds, typed the same way; anything else is text."""
    check_value_size(key, raw)
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        raw = raw[1:-1]  # one pair of quotes only: nested ones would recurse once per pair
    if raw.lower() in BOOLEANS:
        return BOOLEANS[raw.lower()]
    if JSON_NUMBER.fullmatch(raw) or raw[:1] in ('{', '[', '"'):
        check_json_depth(key, raw)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError("group.bad_json", key=excerpt(key), value=excerpt(raw), error=exc.msg,
                             column=exc.colno) from None
    return raw


def parse_change(namespace: str, tokens: list[str]) -> ConfigChange:
    """`KEY=VALUE` sets a parameter, `-KEY` removes one."""
    changes: dict[str, Any] = {}
    removals: list[str] = []
    for token in tokens:
        if token.startswith("-") and "=" not in token:
            removals.append(_key(token[1:], token))
            continue
        key, sep, raw = token.partition("=")
        if not sep:
            raise InputError("group.bad_parameter", token=token)
        changes[_key(key, token)] = parse_value(key, raw)
    both = sorted(changes.keys() & set(removals))
    if both:
        raise InputError("group.set_and_remove", keys=", ".join(both))
    if removals and namespace not in REMOVABLE_NAMESPACES:
        raise InputError("group.not_removable", namespace=namespace)
    return ConfigChange(namespace, changes, removals)


def _key(key: str, token: str) -> str:
    if not key or key.startswith("-") or any(c.isspace() or c in "/=" for c in key):
        raise InputError("group.bad_parameter", token=token)
    return key


def parameters(group: GroupRef, namespace: str) -> dict[str, Any]:
    return dict(group.configuration.get(namespace) or {})


@service
async def configure(client: SoracomClient, group: GroupRef, change: ConfigChange) -> dict[str, Any]:
    """Sets then removes parameters; returns the namespace's parameters afterwards.

    Every removed name must exist beforehand, so a typo changes nothing.
    """
    current = parameters(group, change.namespace)
    missing = [key for key in change.remove if key not in current]
    if missing:
        raise InputError("group.no_parameter", keys=", ".join(missing), namespace=change.namespace,
                         group=group.name)
    if change.set:
        group = _ref(await client.put_configuration_parameters(group.id, change.namespace, change.set))
    after = parameters(group, change.namespace)
    for key in change.remove:
        await client.delete_configuration_parameter(group.id, change.namespace, key)
        after.pop(key, None)
    return after
