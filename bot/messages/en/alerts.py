from bot.messages import Plural

MESSAGES = {
    "alerts.usage": (
        "`/alerts channel CHANNEL` — where alert cards go (admin)\n"
        "`/alerts setup RULE [LIMIT] [group:NAME]` — create or update the SORACOM Event Handler rule (admin). "
        "Rules: `daily-traffic LIMIT`, `monthly-traffic LIMIT` (e.g. `100MB`, `2GB`), `status-change`, "
        "`session-disconnect`, `expiry`\n"
        "`/alerts list` — the rules, the alert channel and what is muted\n"
        "`/alerts off RULE [group:NAME]` — remove the rule at SORACOM (admin)\n"
        "`/alerts mute TARGET [DURATION]` — no cards for a SIM (IMSI or name) or a RULE, e.g. `30m`, `12h`, `7d` "
        "(default 24h)\n"
        "`/alerts unmute TARGET` — cards again\n"
        "Each event becomes one card with *Slow down*, *Suspend* (asks for an MFA code), *Show SIM* and *Mute*."
    ),
    "alerts.usage_channel": "Type `/alerts channel CHANNEL`, e.g. `/alerts channel #ops`.",
    "alerts.usage_setup": "Type `/alerts setup RULE [LIMIT] [group:NAME]`, e.g. `/alerts setup daily-traffic 100MB`. "
                          "Rules: {rules}.",
    "alerts.usage_limit": "`{rule}` needs one limit, e.g. `/alerts setup {rule} 100MB` (MB or GB).",
    "alerts.no_limit_taken": "`{rule}` takes no limit; `{extra}` is not understood. Type `/alerts setup {rule} "
                             "[group:NAME]`.",
    "alerts.usage_off": "Type `/alerts off RULE [group:NAME]`, e.g. `/alerts off daily-traffic`.",
    "alerts.usage_mute": "Type `/alerts mute TARGET [DURATION]`, e.g. `/alerts mute sensor-01 12h` or "
                         "`/alerts mute daily-traffic 1d`.",
    "alerts.usage_unmute": "Type `/alerts unmute TARGET`, e.g. `/alerts unmute sensor-01`.",
    "alerts.unknown_rule": "`{rule}` is not an alert rule. Rules: {rules}.",
    "alerts.bad_limit": "`{value}` is not a traffic limit. Type a size such as `100MB` or `2GB` (at least 1 MB).",
    "alerts.bad_duration": "`{value}` is not a duration. Type minutes, hours or days such as `30m`, `12h`, `7d` "
                           "(at most 90 days).",
    "alerts.no_token": "Alerts are off: set `BOT_EVENTS_TOKEN` (a long random secret) in the bot's environment and "
                       "restart it, then run `/alerts setup` again. Nothing was created.",
    "alerts.needs_public_url": "Alerts need the bot's public address: set `BOT_PUBLIC_URL` to its https:// URL "
                               "(e.g. `https://bot.example.com`, the one in manifest.yml) and restart the bot, then "
                               "run `/alerts setup` again. SORACOM sends each alert there. Nothing was created.",
    "alerts.public_url_not_https": "`BOT_PUBLIC_URL` is `{url}`: SORACOM sends alerts only to an https:// URL. Set "
                                   "it to the bot's https:// address and restart the bot, then run `/alerts setup` "
                                   "again. Nothing was created.",
    "alerts.channel_set": ":white_check_mark: Alert cards go to <#{channel}> from now on.",
    "alerts.channel_ref": "Cards go to <#{channel}>.",
    "alerts.no_channel": "No alert channel yet: type `/alerts channel #ops`, or events are dropped.",
    "alerts.spec": "*{rule}*{limit}, {scope}",
    "alerts.scope_group": "SIMs of group *{group}*",
    "alerts.scope_all": "all SIMs",
    "alerts.setup_created": ":white_check_mark: Event Handler rule created at SORACOM (`{id}`): {what}. {channel}",
    "alerts.setup_updated": ":white_check_mark: Event Handler rule updated at SORACOM (`{id}`): {what}. {channel}",
    "alerts.list_channel": "*Alert channel:* <#{channel}>",
    "alerts.list_line": "• `{key}` — {rule}, limit {limit} MiB, *{status}*",
    "alerts.list_none": "No alert rules yet: `/alerts setup daily-traffic 100MB` makes one.",
    "alerts.list_mute": ":mute: `{target}` muted until {until}",
    "alerts.off_none": "No alert rule `{rule}` is set up; `/alerts list` shows them. Nothing was removed.",
    "alerts.off_done": ":white_check_mark: Removed {count} Event Handler rule(s) `{rule}` at SORACOM.",
    "alerts.muted": ":mute: `{target}` is muted until {until}: its events post nothing.",
    "alerts.unmuted": ":loud_sound: `{target}` is no longer muted.",
    "alerts.not_muted": "`{target}` is not muted; `/alerts list` shows what is.",
    "alerts.card_title": ":rotating_light: {sim} — {what}",
    "alerts.what.daily-traffic": "crossed {limit} MiB today",
    "alerts.what.monthly-traffic": "crossed {limit} MiB this month",
    "alerts.what.status-change": "status changed from {old} to {new}",
    "alerts.what.session-disconnect": "went offline",
    "alerts.what.expiry": "reached its expiry time",
    "alerts.field_sim": "SIM",
    "alerts.field_group": "Group",
    "alerts.field_rule": "Rule",
    "alerts.field_when": "When",
    "alerts.field_limit": "Threshold",
    "alerts.field_value": "Value",
    "alerts.no_group": "(none)",
    "alerts.button_slow": "Slow down",
    "alerts.button_suspend": "Suspend",
    "alerts.button_show": "Show SIM",
    "alerts.button_mute": "Mute this SIM 24 h",
    "alerts.button_slow_all": "Slow down all",
    "alerts.storm.daily-traffic": Plural(one=":rotating_light: {count} SIM crossed {limit} MiB today", other=":rotating_light: {count} SIMs crossed {limit} MiB today"),
    "alerts.storm.monthly-traffic": Plural(one=":rotating_light: {count} SIM crossed {limit} MiB this month", other=":rotating_light: {count} SIMs crossed {limit} MiB this month"),
    "alerts.storm.status-change": Plural(one=":rotating_light: {count} SIM changed status", other=":rotating_light: {count} SIMs changed status"),
    "alerts.storm.session-disconnect": Plural(one=":rotating_light: {count} SIM went offline", other=":rotating_light: {count} SIMs went offline"),
    "alerts.storm.expiry": Plural(one=":rotating_light: {count} SIM reached its expiry time", other=":rotating_light: {count} SIMs reached their expiry time"),
    "alerts.storm_note": "Too many alerts in a minute for this rule: they are folded into this card.",
    "alerts.card_unknown": "This alert is no longer known to the bot; `/sim show IMSI` shows the SIM.",
    "alerts.did_slow": ":turtle: <@{user}> slowed this SIM down to `{speed}`.",
    "alerts.did_ask_suspend": ":lock: <@{user}> asked to suspend this SIM (Confirm and an MFA code).",
    "alerts.did_mute": ":mute: <@{user}> muted this SIM until {until}.",
}
