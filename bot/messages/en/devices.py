MESSAGES = {
    "devices.usage_diagnose": "Type `/sim diagnose TARGET`, e.g. `/sim diagnose sensor-02` (one IMSI or SIM name).",
    "devices.usage_ping": "Type `/sim ping TARGET`, e.g. `/sim ping sensor-02` (one IMSI or SIM name).",
    "devices.usage_reconnect": "Type `/sim reconnect TARGET`, e.g. `/sim reconnect sensor-02` (one IMSI or SIM "
                               "name).",
    "devices.usage_sms": "Type `/sim sms TARGET TEXT`, e.g. `/sim sms sensor-02 wake up` (one IMSI or SIM name, "
                         "then the text).",
    "devices.one_sim": "`/sim {sub}` is for one SIM at a time: give one IMSI or SIM name, not a selector.",
    # Diagnose
    "devices.title": ":stethoscope: *Diagnosis of {sim}*",
    "devices.field_status": "Status",
    "devices.field_online": "Online",
    "devices.field_speed": "Speed class",
    "devices.field_group": "Group",
    "devices.field_imei_lock": "IMEI lock",
    "devices.field_last_imei": "Last IMEI",
    "devices.online_yes": "online",
    "devices.online_no": "offline",
    "devices.online_since": "offline since {when} ({ago})",
    "devices.no_group": "none",
    "devices.no_lock": "not locked",
    "devices.lock_matches": "{imei} (matches the device)",
    "devices.lock_mismatch": "{imei} (the device uses {device}: *mismatch*)",
    "devices.lock_unknown": "{imei} (no IMEI seen yet)",
    "devices.unknown": "unknown",
    "devices.sessions_title": "*Last sessions*",
    "devices.sessions_none": "No session in the last 32 days.",
    "devices.session_line": "{when} — *{event}* {rat}{cell}{place}",
    "devices.event.Created": "created",
    "devices.event.Modified": "modified",
    "devices.event.Deleted": "ended",
    "devices.place": " — <{url}|map> (±{range} m)",
    "devices.place_unknown": " — place unknown",
    "devices.history_title": "*Status history*",
    "devices.history_none": "No status change recorded.",
    "devices.history_line": "{when} — {status}, {speed}{by}",
    "devices.history_by": ", by <@{user}>",
    "devices.traffic_title": "*Traffic, last 24 h* (hourly, {total} in all)",
    "devices.traffic_none": "No traffic in the last 24 hours.",
    "devices.unread": ":warning: Could not read from SORACOM: {parts}. The rest is as SORACOM said.",
    "devices.part.sessions": "session events",
    "devices.part.places": "cell locations",
    "devices.part.history": "status history",
    "devices.part.traffic": "traffic",
    "devices.part.group": "group",
    "devices.part.diagnosis": "SORACOM's diagnosis",
    "devices.diagnosis_title": "*SORACOM's diagnosis*",
    "devices.diagnosis_pending": ":hourglass_flowing_sand: SORACOM is diagnosing; this message updates when it is "
                                 "done.",
    "devices.diagnosis_failed": "SORACOM could not finish its diagnosis.",
    "devices.diagnosis_unfinished": "SORACOM's diagnosis did not finish in time; run `/sim diagnose {target}` again "
                                    "later.",
    "devices.diagnosis_unread": "SORACOM's diagnosis could not be read.",
    "devices.insight_line": "{icon} {message}",
    "devices.insight.sim-not-active": "The SIM is not active: it cannot open a data session until it is activated.",
    "devices.insight.imei-mismatch": "The SIM is locked to another device's IMEI: the device's sessions are "
                                     "refused.",
    "devices.insight.no-session": "The device has had no data session for a while.",
    "devices.insight.speed-minimum": "The speed class is s1.minimum (up to 32 kbps).",
    "devices.insight.no-problem": "No problem was found.",
    "devices.verdict_title": "*Verdict*",
    "devices.verdict.inactive": ":red_circle: The SIM is *{status}*: the device cannot connect until it is "
                                "activated.",
    "devices.verdict.terminated": ":x: The SIM is terminated: no device can use it again.",
    "devices.verdict.imei_mismatch": ":lock: The SIM is locked to IMEI `{lock}`, but the device last used `{imei}`: "
                                     "SORACOM refuses the device. Put the SIM back in the device with that IMEI, or "
                                     "lock it to the new one with `/sim imei-lock {target} IMEI` (an unlock asks "
                                     "for an MFA code).",
    "devices.verdict.quiet": ":zzz: The device has been quiet since {when} ({ago}): it is powered off, out of "
                             "coverage or stuck. Try a ping, end its session so it attaches again, or wake it with "
                             "an SMS: `/sim sms {target} TEXT`.",
    "devices.verdict.offline": ":large_yellow_circle: The device went offline at {when} ({ago}); it may attach "
                               "again on its own. A ping says whether it answers.",
    "devices.verdict.quiet_never": ":zzz: The device has not connected in the last 32 days. Check its power and "
                                   "antenna; an SMS may wake it: `/sim sms {target} TEXT`.",
    "devices.verdict.slowed": ":snail: The SIM runs at *{speed}* (slowed down, e.g. by an alert): restore its speed "
                              "when the reason is gone.",
    "devices.verdict.healthy": ":large_green_circle: The device is connected and nothing looks wrong.",
    "devices.button_activate": "Activate",
    "devices.button_reconnect": "Reconnect",
    "devices.button_ping": "Ping",
    "devices.button_restore": "Restore speed",
    "devices.button_sms": "Send SMS",
    "devices.sms_modal_title": "Send SMS",
    "devices.sms_modal_submit": "Send",
    "devices.sms_modal_intro": "An SMS to the device of `{imsi}`: 160 GSM characters, or 70 with others (e.g. "
                               "Japanese). The text is not kept in the audit log.",
    "devices.sms_modal_label": "Text",
    "devices.button_diagnose": "Diagnose",
    "devices.ago_hours": "{hours} h ago",
    "devices.ago_minutes": "{minutes} min ago",
    "devices.ago_days": "{days} d ago",
    # Ping
    "devices.ping_ok": ":satellite_antenna: Ping {sim}: *{received}/{sent}* replies, loss {loss}, average RTT "
                       "*{rtt} ms*.",
    "devices.ping_failed": ":satellite_antenna: Ping {sim}: *no reply* ({sent} sent, loss {loss}). The device has "
                           "no working session; `/sim diagnose {target}` says why.",
    # Reconnect
    "devices.reconnected": ":arrows_counterclockwise: *Data session ended* — {sim}, by <@{user}>. The device "
                           "attaches again on its own.",
    "devices.reconnect_failed": "Could not end the session of {sim}: {reason}",
    # SMS
    "devices.sms_empty": "The SMS is empty. Type `/sim sms TARGET TEXT`.",
    "devices.sms_too_long_1": "The SMS is {length} characters long; GSM 7-bit allows {limit} (characters such as "
                              "`€ [ ] {{ }}` count 2). Nothing was sent: shorten it.",
    "devices.sms_too_long_2": "The SMS is {length} characters long; with characters outside the GSM alphabet it is "
                              "sent as UCS-2, which allows {limit}. Nothing was sent: shorten it.",
    "devices.sms_sent": ":envelope: *SMS sent* — {sim}, {length} characters ({encoding}), by <@{user}>.",
    "devices.sms_failed": "Could not send the SMS to {sim}: {reason}",
    "devices.encoding.1": "GSM 7-bit",
    "devices.encoding.2": "UCS-2",
    # Home
    "devices.home_quiet_title": "*Went offline in the last day*",
    "devices.home_quiet_line": "{sim} — offline since {when}",
}
