"""Replies of /soracom: help, roles, audit."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block

from bot.messages import t
from bot.services.audit import AuditEntry
from bot.services.roles import RoleGrant
from bot.messages import unescape
from handlers.views.common import MAX_MESSAGE_BLOCKS, audit_action, audit_result, mention, text


def help_blocks(usages: Sequence[tuple[str, str]]) -> list[Block]:
    blocks: list[Block] = [text(t("soracom.help_title"))]
    blocks += [text(f"*{command}*\n{usage}") for command, usage in usages]
    return blocks


def roles_blocks(grants: list[RoleGrant]) -> list[Block]:
    if not grants:
        return [text(t("soracom.roles_none"))]
    lines = [t("soracom.roles_line", user=g.user_id, role=g.role.name, by=_by(g.granted_by)) for g in grants]
    return [text(t("soracom.roles_title")), *[text("\n".join(lines[i : i + 40])) for i in range(0, len(lines), 40)]]


def _by(granted_by: str) -> str:
    return granted_by if granted_by == "BOT_ADMINS" else mention(granted_by)


def audit_blocks(entries: list[AuditEntry], tz: ZoneInfo) -> list[Block]:
    if not entries:
        return [text(t("soracom.audit_none"))]
    # Targets (a gated action's summary) and errors are recorded as users were shown them (mrkdwn) or raw:
    # shown escaped once either way.
    lines = [
        t(
            "soracom.audit_line",
            at=e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            user=e.user_id,
            action=audit_action(e.action),
            target=f"`{unescape(e.target)}`" if e.target else "",
            result=audit_result(e.result),
            error=f" ({unescape(e.error)})" if e.error else "",
        )
        for e in entries
    ]
    chunks = ["\n".join(lines[i : i + 10]) for i in range(0, len(lines), 10)]
    header = text(t("soracom.audit_title", count=len(entries), tz=tz.key))
    blocks: list[Block] = [header, *[text(c) for c in chunks]]
    return blocks[: MAX_MESSAGE_BLOCKS - 1]
