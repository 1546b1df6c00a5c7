"""SAM permission policies: {"statements": [{"effect": "allow"|"deny", "api": ["Service:operation", ...]}]}.

A deny that matches wins over any allow; nothing matching means denied. `api` entries may use
wildcards ("*", "Billing:*", "Subscriber:list*"). Conditions are not evaluated: a statement applies
as if its condition held.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any


def parse_permission(permission: str) -> dict[str, Any]:
    """The policy document of a permission JSON string; ValueError when it is not one."""
    try:
        document = json.loads(permission)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError("permission must be a JSON string") from exc
    statements = document.get("statements") if isinstance(document, dict) else None
    if not isinstance(statements, list):
        raise ValueError('permission must have a "statements" list')
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("effect") not in ("allow", "deny"):
            raise ValueError('each statement needs "effect": "allow" or "deny"')
        if not isinstance(statement.get("api"), (str, list)):
            raise ValueError('each statement needs "api": a string or a list of strings')
    return document


def is_allowed(permission: str | None, permission_name: str) -> bool:
    if not permission:
        return False
    try:
        document = parse_permission(permission)
    except ValueError:
        return False
    allowed = False
    for statement in document["statements"]:
        patterns = statement["api"] if isinstance(statement["api"], list) else [statement["api"]]
        if not any(fnmatchcase(permission_name, str(pattern)) for pattern in patterns):
            continue
        if statement["effect"] == "deny":
            return False
        allowed = True
    return allowed
