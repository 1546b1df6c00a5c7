from bot.messages import Plural

MESSAGES = {
    "soracom.usage": (
        "`/soracom help` — every command\n"
        "`/soracom roles` — who holds which role\n"
        "`/soracom role USER admin|operator|viewer` — grant a role (admin; asks for an MFA code)\n"
        "`/soracom audit [N]` — the latest N audited actions (operator, admin; default 20, at most 100)"
    ),
    "soracom.help_title": "*SORACOM Bot* — every command (`/X help` shows one in full). The bot's *Home* tab shows the fleet at a glance (SIMs, sessions, the bill and its forecast, the latest actions).",
    "soracom.roles_title": "*Roles* (everyone else is a viewer):",
    "soracom.roles_line": "• <@{user}> — *{role}* (granted by {by})",
    "soracom.roles_none": "No roles are granted yet; everyone is a viewer. Admins come from `BOT_ADMINS`.",
    "soracom.role_usage": "Type `/soracom role USER admin|operator|viewer`, e.g. `/soracom role @alice operator`.",
    "soracom.role_bad": "`{value}` is not a role. Roles: `admin`, `operator`, `viewer`.",
    "soracom.role_preview": "Give <@{user}> the *{role}* role (now *{current}*).",
    "soracom.role_done": ":white_check_mark: <@{user}> is now *{role}* (was *{previous}*), set by <@{by}>.",
    "soracom.audit_bad": "`{value}` is not a count. Type `/soracom audit` or `/soracom audit 50` (1 to 100).",
    "soracom.audit_title": Plural(one="*Latest {count} audited action* (newest first, times in {tz}):",
                                  other="*Latest {count} audited actions* (newest first, times in {tz}):"),
    "soracom.audit_line": "`{at}` <@{user}> {action} {target} → *{result}*{error}",
    "soracom.audit_none": "The audit log is empty.",
}
