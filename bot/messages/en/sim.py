from bot.messages import Plural

MESSAGES = {
    "sim.usage": (
        "`/sim list [SELECTOR…]` — SIMs: counts by status, then pages (IMSI, name, status, online, group, speed)\n"
        "`/sim show TARGET` — one SIM in full, with this month's traffic\n"
        "`/sim activate|standby TARGET…` — lifecycle change\n"
        "`/sim deactivate|suspend|terminate TARGET…` — lifecycle change (asks for an MFA code)\n"
        "`/sim tag TARGET KEY=VALUE…` — set tags\n"
        "`/sim untag TARGET KEY…` — remove tags\n"
        "`/sim group TARGET GROUP` — put SIMs in a group (name or ID)\n"
        "`/sim ungroup TARGET…` — take SIMs out of their group\n"
        "`/sim imei-lock TARGET IMEI` — lock one SIM to a device (IMEI of 15 digits)\n"
        "`/sim imei-unlock TARGET…` — remove the IMEI lock (asks for an MFA code)\n"
        "`/sim speed TARGET CLASS` — speed class, e.g. `s1.fast`\n"
        "`/sim diagnose TARGET` — why a device is quiet: sessions, places, status history, 24 h of traffic, "
        "SORACOM's diagnosis and what to do next\n"
        "`/sim ping TARGET` — downlink ping (RTT, loss)\n"
        "`/sim reconnect TARGET` — end the data session so the device attaches again\n"
        "`/sim sms TARGET TEXT` — SMS to the device (160 GSM characters, or 70 with others)\n"
        "`/sim remote TARGET PORT [DURATION] [from CIDR…] [tls]` — remote access to the device (SORACOM Napter; "
        "asks for an MFA code); `/sim remote list`; `/sim remote close TARGET`\n"
        "TARGET: an IMSI (15 digits), a SIM name (its `name` tag), or selectors `tag:KEY=VALUE`, `group:NAME`, "
        "`status:STATUS` (combinable). Several SIMs or a selector first show a preview to confirm."
    ),
    "sim.usage_tag": "Type `/sim tag TARGET KEY=VALUE…`, e.g. `/sim tag sensor-01 site=osaka`.",
    "sim.usage_untag": "Type `/sim untag TARGET KEY…`, e.g. `/sim untag sensor-01 site`.",
    "sim.usage_group": "Type `/sim group TARGET GROUP`, e.g. `/sim group sensor-01 FieldTest` (a group name or ID).",
    "sim.usage_imei_lock": "Type `/sim imei-lock TARGET IMEI`, e.g. `/sim imei-lock sensor-01 353456789012345`.",
    "sim.usage_speed": "Type `/sim speed TARGET CLASS`, e.g. `/sim speed sensor-01 s1.fast`.",
    # Targets
    "sim.no_target": "Name the SIMs: an IMSI (15 digits), a SIM name, or a selector such as `status:active`.",
    "sim.mixed_targets": "Give either SIMs (IMSIs, names) or selectors (`tag:`, `group:`, `status:`), not both.",
    "sim.bad_imsi": "`{value}` is not an IMSI: an IMSI has 15 digits (this has {length}). `/sim list` shows them.",
    "sim.not_found": "There is no SIM with IMSI `{imsi}`. `/sim list` shows your SIMs.",
    "sim.unknown_name": "No SIM is named `{name}`. Give its IMSI, or see the names with `/sim list`.",
    "sim.ambiguous_name": Plural(
        one="{count} SIM is named `{name}`: {matches}. Nothing was done; give the IMSI instead.",
        other="{count} SIMs are named `{name}`: {matches}. Nothing was done; give the IMSI instead.",
    ),
    "sim.ambiguous_more": "and {count} more",
    "sim.protection_not_restored": "{error}; termination protection could not be put back on ({restore_error})",
    "sim.unexpected_error": "unexpected error ({kind})",
    "sim.nothing_selected": "No SIM matches `{selector}`. Nothing was done; `/sim list {selector}` shows the same.",
    "sim.bad_tag_selector": "`{token}` is not a tag selector. Type `tag:KEY=VALUE`, e.g. `tag:site=osaka`.",
    "sim.conflicting_tags": "The tag `{key}` is given two different values; a SIM holds one. Give it once.",
    "sim.bad_group_selector": "`{token}` names no group. Type `group:NAME` (or `group:GROUP_ID`).",
    "sim.one_group": "A SIM is in one group at most; give one `group:` selector, not {groups}.",
    "sim.bad_status": "`{status}` is not a SIM status. Statuses: {statuses}.",
    "sim.list_selector_only": "`/sim list` takes selectors only: `tag:KEY=VALUE`, `group:NAME`, `status:STATUS`. "
                              "For one SIM, type `/sim show TARGET`.",
    "sim.show_one": Plural(
        one="That selects {count} SIM; `/sim show` shows one. Give an IMSI or a name, or use `/sim list`.",
        other="That selects {count} SIMs; `/sim show` shows one. Give an IMSI or a name, or use `/sim list`.",
    ),
    "sim.one_sim_only": "{what} is for one SIM at a time, and that selects {count}. Give one IMSI or name.",
    # Arguments
    "sim.tag_missing": "Give at least one tag as KEY=VALUE, e.g. `site=osaka`.",
    "sim.bad_tag": "`{token}` is not a tag: type KEY=VALUE, e.g. `site=osaka` (the `=` is needed).",
    "sim.bad_imei": "`{value}` is not an IMEI: an IMEI has 15 digits, e.g. `353456789012345`.",
    "sim.bad_speed": "`{value}` is not a speed class. Speed classes: {classes}.",
    # List
    "sim.list_title": Plural(by="total", one="*{total} SIM*{where}: {counts}", other="*{total} SIMs*{where}: {counts}"),
    "sim.list_where": " matching `{selector}`",
    "sim.list_row": "{icon} `{imsi}` {name} · {status} · {online} · {group} · {speed}",
    "sim.list_range": "SIMs {first}–{last} of {total}.",
    "sim.list_snapshot_hint": "from the fleet snapshot; *Refresh* reads SORACOM again.",
    "sim.list_empty": "No SIMs to show.",
    "sim.unnamed": "_(no name)_",
    "sim.no_group": "no group",
    "sim.online": ":signal_strength: online",
    "sim.offline": "offline",
    "sim.no_session": "never connected",
    "sim.next": "Next",
    "sim.previous": "Previous",
    # Show
    "sim.show_title": "*SIM {name}* `{imsi}`",
    "sim.f_status": "Status",
    "sim.f_imsi": "IMSI",
    "sim.f_iccid": "ICCID",
    "sim.f_msisdn": "MSISDN",
    "sim.f_plan": "Plan",
    "sim.f_speed": "Speed class",
    "sim.f_group": "Group",
    "sim.f_imei_lock": "IMEI lock",
    "sim.f_protection": "Termination protection",
    "sim.f_expiry": "Expiry",
    "sim.f_session": "Session",
    "sim.f_session_imei": "Device IMEI",
    "sim.f_location": "Location",
    "sim.f_traffic": "Traffic this month",
    "sim.f_tags": "Tags",
    "sim.on": "on",
    "sim.off": "off",
    "sim.no_expiry": "none",
    "sim.expiry": "{when}, then `{action}`",
    "sim.session": "{state}, last seen {seen}",
    "sim.traffic": "↑ {up} · ↓ {down} ({month}, UTC)",
    "sim.no_traffic": "not available",
    # Changes
    "sim.what.activate": "Activate",
    "sim.what.standby": "Set to standby",
    "sim.what.deactivate": "Deactivate",
    "sim.what.suspend": "Suspend",
    "sim.what.terminate": "Terminate",
    "sim.what.tag": "Tag with {tags}",
    "sim.what.untag": "Remove tags {keys}",
    "sim.what.group": "Put in group `{group}`",
    "sim.what.ungroup": "Take out of its group",
    "sim.what.imei-lock": "Lock to IMEI `{imei}`",
    "sim.what.imei-unlock": "Remove the IMEI lock",
    "sim.what.speed": "Set speed class `{speed}`",
    "sim.preview_title": Plural(one="*{what}* — {count} SIM: `{selection}`", other="*{what}* — {count} SIMs: `{selection}`"),
    "sim.preview_line": "• {sim} — {status}",
    "sim.preview_more": "…and {count} more",
    "sim.caution.final": ":warning: *Terminating is final*: a terminated SIM can never be used again.",
    "sim.caution.protection_on": ":shield: Termination protection is *on* for {count} of {total}: it is switched "
                                 "off just before terminating, and back on if terminating fails.",
    "sim.caution.protection_off": ":unlock: Termination protection is *off* for {count} of {total}.",
    "sim.caution.reactivation_fee": Plural(
        one=":moneybag: {count} of {total} is `suspended`: leaving `suspended` costs a reactivation fee per SIM.",
        other=":moneybag: {count} of {total} are `suspended`: leaving `suspended` costs a reactivation fee per SIM.",
    ),
    "sim.caution.still_billed": ":moneybag: `inactive` SIMs are still billed: the basic fee goes on.",
    "sim.caution.terminated": Plural(
        one=":x: {count} of {total} is terminated already: nothing can change it; it will be reported as failed.",
        other=":x: {count} of {total} are terminated already: nothing can change them; they "
              "will be reported as failed.",
    ),
    "sim.progress": Plural(by="total", one="{what}: {total} SIM, {percent} % — done {done}, failed {failed}, left {left}",
                           other="{what}: {total} SIMs, {percent} % — done {done}, failed {failed}, left {left}"),
    "sim.progress_title": Plural(by="total", one=":hourglass_flowing_sand: *{what}* — {total} SIM, started by <@{user}>",
                                 other=":hourglass_flowing_sand: *{what}* — {total} SIMs, started by <@{user}>"),
    "sim.progress_bar": "`{bar}` {percent} %\ndone *{done}* · failed *{failed}* · left *{left}*",
    "sim.report_ok": Plural(
        by="total",
        one=":white_check_mark: *{what}* — {total} SIM done in {seconds} s, started by <@{user}>.",
        other=":white_check_mark: *{what}* — all {total} SIMs done in {seconds} s, started by <@{user}>.",
    ),
    "sim.report_failed": Plural(
        by="total",
        one=":warning: *{what}* — {done} of {total} SIM done, *{failed} failed* ({seconds} s), "
            "started by <@{user}>. Failed SIMs by reason:",
        other=":warning: *{what}* — {done} of {total} SIMs done, *{failed} failed* ({seconds} s), "
              "started by <@{user}>. Failed SIMs by reason:",
    ),
    "sim.report_reason": "*{reason}* ({count}):",
    "sim.report_reason_more": "(continued)",
    "sim.report_truncated": "More failures than one message holds; `/soracom audit` lists each one.",
    "sim.was": " (was `{status}`)",
    "sim.done_one": ":white_check_mark: *{what}* — {sim}{was}, by <@{user}>.",
    "sim.failed_one": ":warning: *{what}* — {sim} failed: {reason}",
    # SIM statuses as SORACOM names them (selectors keep the English word: `status:active`)
    "sim.status.ready": "ready",
    "sim.status.active": "active",
    "sim.status.inactive": "inactive",
    "sim.status.standby": "standby",
    "sim.status.suspended": "suspended",
    "sim.status.terminated": "terminated",
    "sim.status.instock": "in stock",
    "sim.status.shipped": "shipped",
    "sim.status.banned": "banned",
}
