MESSAGES = {
    "bill.usage": (
        "`/bill [YYYYMM]` — the bill of a month (default: this month so far), with its breakdown\n"
        "`/bill export [YYYYMM]` — a link to the month's detailed CSV\n"
        "`/bill daily [YYYYMM]` — the month's daily amounts, as a chart and as text\n"
        "`/bill schedule` — where and when the monthly summary is posted (admin)\n"
        "`/bill schedule CHANNEL [CRON]` · `/bill schedule off` — set or stop the monthly summary (admin)"
    ),
    "bill.bad_month": "`{value}` is not a month. Type it as YYYYMM, e.g. `/bill 201908`.",
    "bill.future_month": "`{value}` has not begun yet (this month is {current}). Type this month or an earlier one.",
    "bill.too_many_args": "Type one month at most, e.g. `{example}`.",
    "bill.not_found": "SORACOM has no bill for {month}. Type a month in which the account was used.",
    "bill.title": "Bill for {month}",
    "bill.text": "Bill for {month}: {amount} ({state}, payment {payment}); {change}",
    "bill.amount": "Amount",
    "bill.state": "State",
    "bill.payment": "Payment",
    "bill.change": "Change against {previous}",
    "bill.state_closed": "closed",
    "bill.state_temporary": "temporary (still being counted)",
    "bill.payment_none": "not billed yet",
    "bill.change_value": "{sign}{amount} ({sign}{percent}%)",
    "bill.change_no_percent": "{sign}{amount}",
    "bill.change_unknown": "no bill for {previous}",
    "bill.items_title": "*By bill item*",
    "bill.sims_title": "*Most expensive SIMs*",
    "bill.item_line": "• {name}{category} — {amount}",
    "bill.sim_line": "• `{sim}` — {amount}",
    "bill.more": "…and {count} more",
    "bill.no_breakdown": "SORACOM gives the breakdown by item and SIM for the last four months only.",
    "bill.empty_breakdown": "No charges by item or SIM in this month.",
    "bill.export_done": "Detailed CSV of {month}: <{url}|download> (the link expires; run `/bill export {month}` again for a fresh one).",
    "bill.daily_title": "Daily amounts of {month}",
    "bill.daily_text": "Daily amounts of {month} in {currency} (total {total}{peak}): {days}",
    "bill.daily_peak": "; highest {amount} on day {day}",
    "bill.daily_none": "SORACOM has no daily amounts for {month} yet.",
    "bill.daily_chart_failed": "The chart could not be posted here ({error}); the figures:",
    "bill.summary_title": "Monthly SORACOM bill: {month}",
    "bill.history_text": "Last 12 months in {currency}: {months}",
    "bill.history_missing": "none",
    "bill.history_chart_title": "SORACOM bills, last 12 months",
    "bill.schedule_usage": (
        "Type `/bill schedule CHANNEL [CRON]`, e.g. `/bill schedule #ops 0 9 4 * *` (09:00 on the 4th, {tz}), "
        "or `/bill schedule off`."
    ),
    "bill.schedule_bad_cron": "{error}. Give 5 fields (minute hour day month weekday), e.g. `0 9 4 * *`.",
    "bill.schedule_status": "The monthly bill summary goes to <#{channel}> at `{cron}` ({tz}){source}. {next}",
    "bill.schedule_status_off": "The monthly bill summary is off{source}. Turn it on with `/bill schedule CHANNEL [CRON]`.",
    "bill.schedule_source_admin": ", set by <@{user}>",
    "bill.schedule_source_config": ", from the configuration",
    "bill.schedule_next": "Next run: {when}.",
    "bill.schedule_set": ":calendar: <@{user}> set the monthly bill summary: <#{channel}> at `{cron}` ({tz}). {next}",
    "bill.schedule_off": ":calendar: <@{user}> turned the monthly bill summary off.",
}
