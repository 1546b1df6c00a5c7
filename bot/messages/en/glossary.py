"""SORACOM's SIM words: each status and each action, one word per concept (the Japanese glossary's counterpart)."""

STATUS = {
    "ready": "ready",
    "active": "active",
    "inactive": "inactive",
    "standby": "standby",
    "suspended": "suspended",
    "terminated": "terminated",
    "instock": "in stock",
    "shipped": "shipped",
    "banned": "banned",
}

ACTION = {
    "activate": "Activate",
    "standby": "Set to standby",
    "deactivate": "Deactivate",
    "suspend": "Suspend",
    "terminate": "Terminate",
}

AUDIT_ACTION = {f"sim.{action}": word for action, word in ACTION.items()} | {"alerts.suspend": ACTION["suspend"]}

AUDIT_RESULT = {"ok": "ok", "refused": "refused", "failed": "failed", "unknown": "unknown", "error": "error"}

MESSAGES = {
    **{f"audit.result.{result}": word for result, word in AUDIT_RESULT.items()},
    **{f"sim.status.{status}": word for status, word in STATUS.items()},
    **{f"sim.what.{action}": word for action, word in ACTION.items()},
    **{f"audit.action.{action}": word for action, word in AUDIT_ACTION.items()},
}
