"""/group end to end: list, show, create, delete (gated), configuration with typed values; refusals change nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import FIELD_GROUP_ID, SEED_GROUP_ID
from bot.services import audit
from bot.services.errors import InputError
from bot.services.groups import NAMESPACES, REMOVABLE_NAMESPACES, parse_change, parse_value
from handlers.group import config_words
from tests.conftest import ADMIN, OPERATOR, VIEWER

# The seed transcript's three putConfigurationParameters calls: (namespace, command parameters, JSON body).
SEED_CALLS = [
    ("UnifiedEndpoint", 'response={"format":"SoracomHarvest"} enabled=true',
     [{"key": "response", "value": {"format": "SoracomHarvest"}}, {"key": "enabled", "value": True}]),
    ("SoracomAir", "binaryParserEnabled=false", [{"key": "binaryParserEnabled", "value": False}]),
    ("SoracomHarvest", "enabled=true", [{"key": "enabled", "value": True}]),
]
SEED_CONFIGURATION = {
    "SoracomHarvest": {"enabled": True},
    "UnifiedEndpoint": {"response": {"format": "SoracomHarvest"}, "enabled": True},
    "SoracomAir": {"binaryParserEnabled": False},
}
MUTATING = ("PUT", "POST", "DELETE")


def mutations(harness) -> list[Any]:  # type: ignore[no-untyped-def]
    """SORACOM calls that change something (sign-in aside)."""
    return [r for r in harness.emulator.requests if r.method in MUTATING and not r.path.startswith("/v1/auth")]


def members(harness, group_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(imsi for imsi, sim in harness.emulator.subscribers.items() if sim["groupId"] == group_id)


async def audits(harness, action: str) -> list[audit.AuditEntry]:  # type: ignore[no-untyped-def]
    return [e for e in await audit.latest(harness.rt.db, 100) if e.action == action]


def channel_text(harness) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(json.dumps(m) for m in harness.fake.messages("C_OPS"))


# The namespace list against the official spec


def spec_enum(spec: str, operation_id: str) -> list[str]:
    """The `namespace` path parameter's enum of one operation, read from the spec's text."""
    operation = spec[spec.index(f"operationId: {operation_id}\n"):]
    parameter = operation[operation.index("name: namespace\n"):]
    enum = parameter[parameter.index("enum:\n") + len("enum:\n"):]
    values = []
    for line in enum.splitlines():
        match = re.fullmatch(r"\s*- (\S+)", line)
        if not match:
            break
        values.append(match.group(1))
    return values


def test_namespaces_are_the_specs(shared_dir: Path) -> None:
    spec = (shared_dir / "soracom-openapi" / "soracom-api.en.yaml").read_text(encoding="utf-8")
    assert list(NAMESPACES) == spec_enum(spec, "putConfigurationParameters")
    assert list(REMOVABLE_NAMESPACES) == spec_enum(spec, "deleteConfigurationParameter")


def test_seed_calls_are_the_transcripts(shared_dir: Path) -> None:
    transcript = (shared_dir / "seed-transcript.md").read_text(encoding="utf-8")
    section = transcript[transcript.index("## /groups/{group_id}/configuration/{namespace}"):]
    bodies = re.findall(r"-d '(\[.*?\])' \\\n.*?/configuration/(\w+)'", section, re.S)
    assert [(ns, json.loads(body)) for body, ns in bodies] == [(ns, body) for ns, _, body in SEED_CALLS]
    response_at = section.index("\n{", section.index("/configuration/SoracomHarvest'")) + 1
    final, _ = json.JSONDecoder().raw_decode(section, response_at)
    assert final["configuration"] == SEED_CONFIGURATION


# Typed values


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("false", False), ("FALSE", False), ("5", 5), ("-3", -3), ("1.5", 1.5), ("1e3", 1000.0),
    ("007", "007"), ("1.2.3", "1.2.3"), ("text", "text"), ('"true"', "true"), ('"12"', "12"),
    ("'two words'", "two words"), ("'false'", False), ('{"format":"SoracomHarvest"}', {"format": "SoracomHarvest"}),
    ('["192.168.0.5","192.168.0.6"]', ["192.168.0.5", "192.168.0.6"]), ("'{\"a\": [1, true]}'", {"a": [1, True]}),
    ("", ""),
])
def test_values_are_typed_as_the_api_wants(raw: str, expected: Any) -> None:
    value = parse_value("k", raw)
    assert value == expected and type(value) is type(expected)


def test_words_keep_json_whole() -> None:
    assert config_words('config G UnifiedEndpoint response={"format": "Soracom Harvest"} enabled=true') == [
        "config", "G", "UnifiedEndpoint", 'response={"format": "Soracom Harvest"}', "enabled=true"]
    assert config_words("config “Field test” SoracomAir label=“a b”")[1:] == ['"Field test"', "SoracomAir",
                                                                              'label="a b"']


def test_change_parsing_refuses_contradictions() -> None:
    change = parse_change("SoracomAir", ["a=1", "-b"])
    assert change.set == {"a": 1} and change.remove == ["b"]
    for tokens, message_id in ([["a=1", "-a"], "group.set_and_remove"], [["oops"], "group.bad_parameter"],
                               [["=1"], "group.bad_parameter"]):
        with pytest.raises(InputError) as caught:
            parse_change("SoracomAir", tokens)
        assert caught.value.message_id == message_id
    with pytest.raises(InputError) as caught:
        parse_change("SoracomOrbit", ["-x"])
    assert caught.value.message_id == "group.not_removable"


# Configuration through Slack


async def test_seed_configuration_as_three_commands(harness) -> None:  # type: ignore[no-untyped-def]
    for namespace, parameters, _ in SEED_CALLS:
        await harness.command(f"/group config CustomerManagement {namespace} {parameters}", user=OPERATOR)
    puts = mutations(harness)
    assert [(r.method, r.path, r.json) for r in puts] == [
        ("PUT", f"/v1/groups/{SEED_GROUP_ID}/configuration/{namespace}", body) for namespace, _, body in SEED_CALLS]
    assert puts[0].json[1]["value"] is True and puts[1].json[0]["value"] is False
    assert harness.emulator.groups[SEED_GROUP_ID]["configuration"] == SEED_CONFIGURATION
    assert len(harness.fake.messages("C_OPS")) == 3
    assert "changed `SoracomAir` of group *CustomerManagement*" in channel_text(harness)
    assert [e.result for e in await audits(harness, "group.config")] == ["ok"] * 3

    harness.fake.clear()
    await harness.command("/group config CustomerManagement unifiedendpoint", user=VIEWER)
    shown = harness.all_text()
    assert '`response` = `{"format":"SoracomHarvest"}`' in shown and "`enabled` = `true`" in shown
    assert len(mutations(harness)) == 3


async def test_remove_a_parameter(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/group config FieldTest SoracomAir -metadata", user=OPERATOR)
    assert [(r.method, r.path) for r in mutations(harness)] == [
        ("DELETE", f"/v1/groups/{FIELD_GROUP_ID}/configuration/SoracomAir/metadata")]
    assert "metadata" not in harness.emulator.groups[FIELD_GROUP_ID]["configuration"]["SoracomAir"]
    assert "removed `metadata`" in channel_text(harness)

    await harness.command("/group config FieldTest SoracomAir -metadata", user=OPERATOR)
    assert "has no parameter metadata" in harness.all_text()
    assert len(mutations(harness)) == 1
    assert [e.result for e in await audits(harness, "group.config")] == ["refused", "ok"]


@pytest.mark.parametrize(("line", "expected"), [
    ("/group config CustomerManagement SoracomAirr binaryParserEnabled=false",
     "`SoracomAirr` is not a configuration namespace. Valid namespaces: " + ", ".join(NAMESPACES)),
    ('/group config CustomerManagement UnifiedEndpoint enabled=true response={"format":SoracomHarvest}',
     'The value of `response` is not valid JSON: `{"format":SoracomHarvest}`'),
    ("/group config NoSuchGroup SoracomAir binaryParserEnabled=false", "There is no group `NoSuchGroup`"),
    ("/group config CustomerManagement SoracomAir binaryParserEnabled", "`binaryParserEnabled` is not a parameter"),
    ("/group config CustomerManagement SoracomOrbit -x", "cannot remove single parameters of `SoracomOrbit`"),
])
async def test_bad_configuration_changes_nothing(harness, line: str,  # type: ignore[no-untyped-def]
                                                 expected: str) -> None:
    before = json.dumps(harness.emulator.groups, sort_keys=True)
    await harness.command(line, user=OPERATOR)
    assert expected in harness.all_text()
    assert mutations(harness) == []
    assert json.dumps(harness.emulator.groups, sort_keys=True) == before
    assert not harness.fake.messages("C_OPS")
    assert [e.result for e in await audits(harness, "group.config")] == ["refused"]


async def test_ambiguous_name_lists_the_matches(harness) -> None:  # type: ignore[no-untyped-def]
    twin = json.loads(json.dumps(harness.emulator.groups[FIELD_GROUP_ID]))
    twin["groupId"] = "00000000-0000-4000-8000-000000000001"
    harness.emulator.groups[twin["groupId"]] = twin
    await harness.command("/group config FieldTest SoracomAir binaryParserEnabled=true", user=OPERATOR)
    assert f"Several groups are named `FieldTest` ({twin['groupId']}, {FIELD_GROUP_ID})" in harness.all_text()
    assert mutations(harness) == []
    await harness.command(f"/group config {twin['groupId']} SoracomAir binaryParserEnabled=true", user=OPERATOR)
    assert harness.emulator.groups[twin["groupId"]]["configuration"]["SoracomAir"]["binaryParserEnabled"] is True
    assert "binaryParserEnabled" not in harness.emulator.groups[FIELD_GROUP_ID]["configuration"]["SoracomAir"]


async def test_viewer_is_refused_every_change(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(VIEWER)
    before = json.dumps(harness.emulator.groups, sort_keys=True)
    for line in ("/group config CustomerManagement SoracomAir binaryParserEnabled=false",
                 "/group create Lab", "/group delete CustomerManagement"):
        harness.fake.clear()
        await harness.command(line, user=VIEWER)
        assert "You are a *viewer*" in harness.all_text() and "needs the *operator* role" in harness.all_text()
    assert mutations(harness) == []
    assert json.dumps(harness.emulator.groups, sort_keys=True) == before
    assert not harness.fake.calls_to("views.open")
    refused = [(e.action, e.result) for e in await audit.latest(harness.rt.db, 10)]
    assert sorted(refused) == [("group.config", "refused"), ("group.create", "refused"), ("group.delete", "refused")]


# list and show


async def test_list_names_ids_and_member_counts(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/group list", user=VIEWER)
    shown = harness.all_text()
    for name, group_id in (("CustomerManagement", SEED_GROUP_ID), ("FieldTest", FIELD_GROUP_ID)):
        assert f"*{name}* `{group_id}` — {len(members(harness, group_id))} SIMs" in shown
    counted = [r.path for r in harness.emulator.requests if r.operation_id == "listSubscribersInGroup"]
    assert sorted(counted) == sorted(f"/v1/groups/{g}/subscribers" for g in harness.emulator.groups)


async def test_show_tags_configuration_and_members(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/group show FieldTest", user=VIEWER)
    shown = harness.all_text()
    assert "`name=FieldTest`" in shown
    assert '*SoracomAir*\n• `metadata` = `{"enabled":true,"readonly":true}`' in shown
    inside = members(harness, FIELD_GROUP_ID)
    assert f"first {len(inside)} of {len(inside)}" in shown
    assert all(f"`{imsi}`" in shown for imsi in inside)
    assert not any(f"`{imsi}`" in shown for imsi in members(harness, SEED_GROUP_ID))


async def test_show_samples_a_large_group(harness) -> None:  # type: ignore[no-untyped-def]
    for imsi in list(harness.emulator.subscribers)[:12]:
        harness.emulator.subscribers[imsi]["groupId"] = SEED_GROUP_ID
    await harness.command(f"/group show {SEED_GROUP_ID}", user=VIEWER)
    shown = harness.all_text()
    assert f"first 10 of {len(members(harness, SEED_GROUP_ID))}" in shown
    assert "`/sim list group:CustomerManagement` lists all of them" in shown
    assert "No configuration yet" in shown


# create and delete


async def test_create_then_refuse_the_same_name(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command('/group create "Field lab"', user=OPERATOR)
    created = [g for g in harness.emulator.groups.values() if g["tags"].get("name") == "Field lab"]
    assert len(created) == 1 and created[0]["configuration"] == {}
    assert [(r.method, r.path, r.json) for r in mutations(harness)] == [
        ("POST", "/v1/groups", {"tags": {"name": "Field lab"}})]
    assert f"created group *Field lab* `{created[0]['groupId']}`" in channel_text(harness)

    await harness.command('/group create "Field lab"', user=OPERATOR)
    assert f"A group named `Field lab` already exists ({created[0]['groupId']})" in harness.all_text()
    assert len(mutations(harness)) == 1 and len(harness.emulator.groups) == 3
    assert [e.result for e in await audits(harness, "group.create")] == ["refused", "ok"]


async def test_delete_an_empty_group_with_a_code(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/group create Lab", user=OPERATOR)
    lab = next(g["groupId"] for g in harness.emulator.groups.values() if g["tags"].get("name") == "Lab")
    await harness.command("/group delete Lab", user=OPERATOR)
    assert f"Delete group *Lab* `{lab}`?" in harness.all_text()
    await harness.press("pending_confirm", user=OPERATOR)
    assert harness.latest_view()["callback_id"] == "gate_code"
    assert lab in harness.emulator.groups
    await harness.submit_code(harness.code(totp), user=OPERATOR)
    assert lab not in harness.emulator.groups
    assert [(r.method, r.path) for r in mutations(harness)][-1] == ("DELETE", f"/v1/groups/{lab}")
    assert f"deleted group *Lab* `{lab}`" in channel_text(harness)
    assert [e.result for e in await audits(harness, "group.delete")] == ["ok"]


async def test_delete_refused_while_sims_are_in_the_group(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.enroll(OPERATOR)
    await harness.command("/group delete CustomerManagement", user=OPERATOR)
    count = len(members(harness, SEED_GROUP_ID))
    assert count and f"Group `CustomerManagement` still holds {count} SIMs" in harness.all_text()
    with pytest.raises(AssertionError):
        harness.find_element("pending_confirm")
    assert SEED_GROUP_ID in harness.emulator.groups and mutations(harness) == []
    assert [e.result for e in await audits(harness, "group.delete")] == ["refused"]


async def test_delete_checks_again_when_confirmed(harness) -> None:  # type: ignore[no-untyped-def]
    totp = await harness.enroll(OPERATOR)
    await harness.command("/group create Lab", user=OPERATOR)
    lab = next(g["groupId"] for g in harness.emulator.groups.values() if g["tags"].get("name") == "Lab")
    await harness.command("/group delete Lab", user=OPERATOR)
    await harness.press("pending_confirm", user=OPERATOR)
    moved = next(iter(harness.emulator.subscribers))
    harness.emulator.subscribers[moved]["groupId"] = lab  # a SIM joins between preview and confirmation
    await harness.submit_code(harness.code(totp), user=OPERATOR)
    assert lab in harness.emulator.groups and harness.emulator.subscribers[moved]["groupId"] == lab
    assert [r.method for r in mutations(harness)] == ["POST"]
    assert "Group `Lab` still holds 1 SIM," in harness.all_text()
    assert [e.result for e in await audits(harness, "group.delete")] == ["refused"]


async def test_admin_sees_usage_on_help(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.command("/group help", user=ADMIN)
    assert "`/group config GROUP NAMESPACE KEY=VALUE… -KEY…`" in harness.all_text()
