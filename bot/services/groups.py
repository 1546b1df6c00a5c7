"""Groups in SORACOM words."""

from __future__ import annotations

import re

from bot.services.errors import InputError
from bot.soracom import NotFound, SoracomClient
from bot.soracom.models import Group

GROUP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def group_name(group: Group) -> str:
    return (group.tags or {}).get("name") or group.groupId


async def find_group(client: SoracomClient, name_or_id: str) -> Group:
    """A group by id, or by its `name` tag; InputError when unknown or when the name is ambiguous."""
    if GROUP_ID.match(name_or_id):
        try:
            return await client.get_group(name_or_id)
        except NotFound:
            raise InputError("group.not_found", group=name_or_id) from None
    matches = [g async for g in client.iter_groups() if group_name(g) == name_or_id]
    if not matches:
        raise InputError("group.not_found", group=name_or_id)
    if len(matches) > 1:
        raise InputError("group.ambiguous", group=name_or_id, ids=", ".join(g.groupId for g in matches))
    return matches[0]
