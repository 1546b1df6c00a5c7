MESSAGES = {
    "remote.usage_open": "Type `/sim remote TARGET PORT [DURATION] [from CIDR…] [tls]`, e.g. "
                         "`/sim remote sensor-01 22 30m from 203.0.113.0/24`; `/sim remote list`; "
                         "`/sim remote close TARGET`.",
    "remote.usage_close": "Type `/sim remote close TARGET`, e.g. `/sim remote close sensor-01`.",
    "remote.bad_port": "`{value}` is not a port. Type the device's port, a number from 1 to 65535, e.g. `22`.",
    "remote.bad_duration": "`{value}` is not a duration. Type one such as `30m`, `2h`, `90s` or `1h30m`.",
    "remote.too_long": "`{value}` is longer than remote access may stay open here ({limit}). Type a shorter "
                       "duration, e.g. `30m`.",
    "remote.bad_source": "`{value}` is not an address range ({detail}). Type an IPv4 CIDR such as "
                         "`203.0.113.0/24`, or one address such as `203.0.113.7`.",
    "remote.from_empty": "`from` needs at least one address range, e.g. `from 203.0.113.0/24`.",
    "remote.unknown_word": "`{word}` is not understood here. Type `/sim remote TARGET PORT [DURATION] "
                           "[from CIDR…] [tls]`.",
    "remote.too_many_sources": "{count} address ranges are too many (at most {limit}).",
    "remote.no_sources": "Say who may connect: no default ranges are set (`BOT_REMOTE_SOURCES`). Type "
                         "`/sim remote {target} {port} from YOUR_ADDRESS`, e.g. `from 203.0.113.7` or "
                         "`from 203.0.113.0/24`.",
    "remote.wide_needs_admin": "`{source}` is wider than /16: only an admin may open remote access to so many "
                               "addresses (you are {role}). Type a narrower range, e.g. your own address.",
    "remote.one_sim": "Remote access is to one SIM; `{target}` names {count}.",
    "remote.already_open": "Remote access to {name} port {port} is open already, until {until}. "
                           "`/sim remote close {imsi}` closes it.",
    "remote.preview_title": "Open remote access to {name} (`{imsi}`)?",
    "remote.preview": "*SIM:* {name} (`{imsi}`)\n*Device port:* {port}\n*For:* {duration}\n"
                      "*Allowed from:* {sources}\n*TLS:* {tls}",
    "remote.preview_note": "The address goes to you only. The channel is told who opened which SIM and port, "
                           "from where and until when. It is closed at expiry, or with `/sim remote close`.",
    "remote.tls_on": "on (SORACOM to you over TLS)",
    "remote.tls_off": "off",
    "remote.defaults_note": "(the default ranges, `BOT_REMOTE_SOURCES`)",
    "remote.opened_summary": "Remote access to {name} port {port} is open until {until}. The address was sent to "
                             "you privately.",
    "remote.endpoint": "*Remote access to {name} (`{imsi}`) port {port}*, until {until}. For you only: do not "
                       "share it.\nAddress: `{address}:{endpoint_port}`\nHost: `{hostname}`",
    "remote.endpoint_ssh": "Connect: `{command}`",
    "remote.endpoint_link": "Open: {link}",
    "remote.endpoint_gone": "SORACOM no longer has this access (it may have expired there).",
    "remote.endpoint_undelivered": "Remote access is open, but the address could not be sent to you privately. "
                                   "`/sim remote list` shows it to you.",
    "remote.notice": ":unlock: <@{user}> opened remote access to *{name}* (`{imsi}`) port {port} from {sources}, "
                     "until {until}.",
    "remote.notice_closed": ":lock: ~Remote access to *{name}* (`{imsi}`) port {port} from {sources}~ closed at "
                            "{when} by <@{user}>.",
    "remote.notice_expired": ":lock: ~Remote access to *{name}* (`{imsi}`) port {port} from {sources}~ expired at "
                             "{when}.",
    "remote.told_closed": "Your remote access to {name} (`{imsi}`) port {port} was closed at {when} by <@{user}>.",
    "remote.told_expired": "Your remote access to {name} (`{imsi}`) port {port} expired at {when} and is closed.",
    "remote.closed_reply": "Closed remote access to {name} (`{imsi}`) port {port}.",
    "remote.closing_elsewhere": "Remote access to {name} port {port} is being closed already.",
    "remote.none_open": "No remote access to {target} is open.",
    "remote.not_yours": "Remote access to {name} port {port} was opened by <@{opener}>: only they, an operator or an "
                        "admin may close it (you are {role}).",
    "remote.list_title": "Open remote access",
    "remote.list_empty": "No remote access is open.",
    "remote.list_item": "*{name}* (`{imsi}`) port {port} — <@{user}>, from {sources}, until {until}",
    "remote.list_yours": "Yours: `{address}:{endpoint_port}` (`{hostname}`)",
    "remote.open_failed": "SORACOM did not open remote access to {name} port {port}: {reason}",
}
