"""Replies of /group: the list, one group in full, one configuration namespace, previews and results."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from bot.messages import t, term
from bot.services.groups import ConfigChange, GroupDetail, GroupSummary
from handlers.views.common import MAX_MESSAGE_BLOCKS, Mrkdwn, escape, fields, note, text

LINES_PER_SECTION = 20
# Room is kept for the title, the "more" note and the sandbox marker.
MAX_LIST_LINES = (MAX_MESSAGE_BLOCKS - 3) * LINES_PER_SECTION


def shown_value(value: Any) -> str:
    """A parameter value as the user would type it: JSON, so booleans read true/false and text is quoted."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def label(name: str | None) -> Mrkdwn:
    return escape(name) if name else t("group.unnamed")


def members(count: int | None) -> str:
    return t("group.members_unknown") if count is None else t("group.members", count=count)


def list_blocks(groups: list[GroupSummary]) -> list[Block]:
    if not groups:
        return [text(t("group.list_none"))]
    lines = [t("group.list_line", name=label(g.name), group_id=g.group_id, members=members(g.member_count))
             for g in groups[:MAX_LIST_LINES]]
    blocks: list[Block] = [text(t("group.list_title", count=len(groups)))]
    blocks += [text("\n".join(lines[i : i + LINES_PER_SECTION])) for i in range(0, len(lines), LINES_PER_SECTION)]
    if len(groups) > MAX_LIST_LINES:
        blocks.append(note(t("group.list_more", count=len(groups) - MAX_LIST_LINES)))
    return blocks


def detail_blocks(group: GroupDetail) -> list[Block]:
    handle = group.name or group.group_id
    tags = ", ".join(f"`{k}={v}`" for k, v in sorted(group.tags.items())) or t("group.no_tags")
    blocks: list[Block] = [text(t("group.show_title", name=label(group.name), group_id=group.group_id))]
    blocks += fields([(t("group.field_id"), f"`{group.group_id}`"),
                      (t("group.field_members"), str(group.member_count)),
                      (t("group.field_tags"), tags)])
    blocks.append(text(sample_text(group, handle)))
    blocks.append(text(t("group.configuration_title")))
    if not group.configuration:
        blocks.append(text(t("group.no_configuration", group=handle)))
    for namespace, params in sorted(group.configuration.items()):
        blocks.append(text(f"*{escape(namespace)}*\n{parameter_lines(params)}"))
    return blocks


def sample_text(group: GroupDetail, handle: str) -> str:
    if not group.member_count:
        return t("group.no_members", group=handle)
    lines = [t("group.sample_title", shown=len(group.sample), count=group.member_count)]
    lines += [t("group.sample_line", imsi=sim.imsi, name=f"*{sim.name}*" if sim.name else "",
                status=term("sim.status", sim.status)) for sim in group.sample]
    if group.member_count > len(group.sample):
        lines.append(t("group.sample_more", group=handle))
    return "\n".join(lines)


def parameter_lines(params: dict[str, Any]) -> str:
    return "\n".join(t("group.parameter_line", key=key, value=shown_value(value)) for key, value in params.items())


def namespace_blocks(handle: str, namespace: str, params: dict[str, Any]) -> list[Block]:
    if not params:
        return [text(t("group.namespace_empty", namespace=namespace, group=handle))]
    return [text(f"{t('group.namespace_title', namespace=namespace, group=handle)}\n"
                 f"{parameter_lines(params)}")]


def configured_text(user: str, handle: str, change: ConfigChange) -> str:
    parts = []
    if change.set:
        pairs = ", ".join(f"`{k}` = `{shown_value(v)}`" for k, v in change.set.items())
        parts.append(t("group.configured_set", pairs=pairs))
    if change.remove:
        parts.append(t("group.configured_removed", keys=", ".join(f"`{k}`" for k in change.remove)))
    return t("group.configured", user=user, namespace=change.namespace, name=handle,
             changes=Mrkdwn("; ".join(parts)))


def configured_blocks(summary: str, handle: str, namespace: str, params: dict[str, Any]) -> list[Block]:
    return [text(summary), *namespace_blocks(handle, namespace, params)]


def delete_preview(name: str | None, group_id: str, namespaces: int) -> tuple[list[Block], str]:
    summary = t("group.delete_preview", name=label(name), group_id=group_id, namespaces=namespaces)
    return [text(summary)], summary
