from bot.messages import Plural

MESSAGES = {
    "group.not_found": "There is no group `{group}`. `/group list` shows the groups; give a name or a group ID.",
    "group.ambiguous": "Several groups are named `{group}` ({ids}). Give the group ID instead.",
    "group.usage": (
        "`/group list` — every group: name, ID, number of SIMs\n"
        "`/group show GROUP` — tags, every configuration namespace and the SIMs of a group (GROUP: name or ID)\n"
        "`/group create NAME` — a new group named NAME (operator; quote a name with spaces)\n"
        "`/group delete GROUP` — delete a group that holds no SIMs (operator; asks for an MFA code)\n"
        "`/group config GROUP NAMESPACE` — the parameters of one configuration namespace\n"
        "`/group config GROUP NAMESPACE KEY=VALUE… -KEY…` — set parameters, or remove them with `-KEY` "
        "(operator). "
        "`true`/`false`, numbers and `{{…}}`/`[…]` JSON keep their type; `\"…\"` keeps a value as text. "
        "E.g. `/group config CustomerManagement UnifiedEndpoint response={{\"format\":\"SoracomHarvest\"}} enabled=true`"
    ),
    "group.show_usage": "Type `/group show GROUP` with a group name or ID, e.g. `/group show CustomerManagement`.",
    "group.create_usage": "Type `/group create NAME`, e.g. `/group create CustomerManagement` "
                          "(quote a name with spaces: `/group create \"Field test\"`).",
    "group.delete_usage": "Type `/group delete GROUP` with a group name or ID, e.g. `/group delete FieldTest`.",
    "group.config_usage": (
        "Type `/group config GROUP NAMESPACE` to see a namespace, or add `KEY=VALUE…` to set parameters and "
        "`-KEY` to remove one, e.g. `/group config CustomerManagement SoracomAir binaryParserEnabled=false`."
    ),
    "group.unbalanced": "Unbalanced quotes or brackets in `{text}`. Close them, e.g. "
                        "`response={{\"format\":\"SoracomHarvest\"}}`.",
    "group.list_title": "*Groups* ({count}):",
    "group.list_none": "There are no groups yet. `/group create NAME` creates one.",
    "group.list_line": "• *{name}* `{group_id}` — {members}",
    "group.list_more": Plural(one="…and {count} more group not shown.", other="…and {count} more groups not shown."),
    "group.members": Plural(one="{count} SIM", other="{count} SIMs"),
    "group.members_unknown": "SIMs could not be counted",
    "group.unnamed": "(no name)",
    "group.show_title": "*Group {name}* `{group_id}`",
    "group.field_id": "Group ID",
    "group.field_members": "SIMs",
    "group.field_tags": "Tags",
    "group.no_tags": "none",
    "group.sample_title": "*SIMs in the group* (first {shown} of {count}):",
    "group.sample_line": "• `{imsi}` {name} ({status})",
    "group.sample_more": "`/sim list group:{group}` lists all of them.",
    "group.no_members": "No SIMs are in this group. `/sim group TARGET {group}` adds some.",
    "group.configuration_title": "*Configuration*",
    "group.no_configuration": "No configuration yet. `/group config {group} NAMESPACE KEY=VALUE` sets some.",
    "group.namespace_title": "`{namespace}` of group *{group}*",
    "group.namespace_empty": "`{namespace}` of group *{group}* has no parameters. "
                             "`/group config {group} {namespace} KEY=VALUE` sets some.",
    "group.parameter_line": "• `{key}` = `{value}`",
    "group.name_empty": "A group needs a name. Type `/group create NAME`.",
    "group.exists": "A group named `{group}` already exists ({ids}). Pick another name, or use that group.",
    "group.created": ":white_check_mark: <@{user}> created group *{name}* `{group_id}`. "
                     "`/sim group TARGET {name}` adds SIMs; `/group config {name} NAMESPACE KEY=VALUE` configures it.",
    "group.not_empty": Plural(
        one="Group `{group}` still holds {count} SIM, so it was not deleted. "
            "Move it out first (`/sim ungroup group:{group}`), then delete the group.",
        other="Group `{group}` still holds {count} SIMs, so it was not deleted. "
              "Move them out first (`/sim ungroup group:{group}`), then delete it.",
    ),
    "group.delete_preview": Plural(
        by="namespaces",
        one="Delete group *{name}* `{group_id}`? It holds no SIMs; its tags and its configuration "
            "({namespaces} namespace) are lost.",
        other="Delete group *{name}* `{group_id}`? It holds no SIMs; its tags and its configuration "
              "({namespaces} namespaces) are lost.",
    ),
    "group.delete_confirm": "Delete group",
    "group.deleted": ":wastebasket: <@{user}> deleted group *{name}* `{group_id}`.",
    "group.bad_namespace": "`{namespace}` is not a configuration namespace. Valid namespaces: {valid}.",
    "group.bad_parameter": "`{token}` is not a parameter. Write `KEY=VALUE` to set one or `-KEY` to remove one.",
    "group.bad_json": "The value of `{key}` is not valid JSON: `{value}` ({error} at character {column}). "
                      "Nothing was changed. Fix the JSON, e.g. `{key}={{\"format\":\"SoracomHarvest\"}}`.",
    "group.set_and_remove": "{keys}: set and removed in the same command. Do one or the other.",
    "group.value_too_large": "The value of `{key}` is {size:,} bytes; at most {limit:,} fit in one parameter. "
                             "Nothing was changed. Split it into several parameters, or set it in the SORACOM "
                             "User Console.",
    "group.json_too_deep": "The value of `{key}` nests {depth:,} levels deep; at most {limit} are accepted. "
                           "Nothing was changed. Flatten the JSON, e.g. `{key}={{\"a\":{{\"b\":1}}}}`.",
    "group.not_removable": "SORACOM cannot remove single parameters of `{namespace}`. Set them to a new value instead.",
    "group.no_parameter": "Group `{group}` has no parameter {keys} in `{namespace}`, so nothing was removed. "
                          "`/group config {group} {namespace}` shows its parameters.",
    "group.configured": ":gear: <@{user}> changed `{namespace}` of group *{name}*: {changes}",
    "group.configured_set": "set {pairs}",
    "group.configured_removed": "removed {keys}",
}
