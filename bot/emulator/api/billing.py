"""Bills: history, latest, one month, daily, CSV export (sync and async), summaries by bill item and by SIM."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from bot.emulator.bills import daily_amounts, item_breakdown, refresh_running_month, sim_breakdown
from bot.emulator.errors import bad_request, bill_not_found, not_found
from bot.emulator.registry import Call, handles, reply
from bot.emulator.seed import month_key, recent_months
from bot.emulator.state import EmulatorState, OperatorData

SUMMARY_MONTHS = 4
_YEAR_MONTH = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")


def bills_of(call: Call) -> OperatorData:
    """The caller's data, with the running month's bill brought up to today."""
    data = call.data
    refresh_running_month(call.state, data)
    return data


def get_bill(data: OperatorData, year_month: str) -> dict[str, Any]:
    if not _YEAR_MONTH.match(year_month):
        raise bad_request(f"Invalid yyyyMM: {year_month}.", "BIM0003")
    bill = data.bills.get(year_month)
    if bill is None:
        raise bill_not_found(year_month)
    return bill


def export_url(call: Call, name: str) -> str:
    """Downloads come from the emulator itself, whatever host name the caller used to reach it."""
    return f"{call.base_url()}/_emulator/exports/{name}.csv"


@handles("getBillingHistory")
def get_billing_history(call: Call) -> Response:
    closed = [bill for bill in call.data.bills.values() if bill["state"] == "closed"]
    return reply({"billList": sorted(closed, key=lambda bill: bill["yearMonth"], reverse=True)})


@handles("getLatestBilling")
def get_latest_billing(call: Call) -> Response:
    now = call.state.now()
    bill = bills_of(call).bills.get(month_key(now), {})
    return reply({"amount": bill.get("amount", 0), "currency": bill.get("currency", "JPY"),
                  "lastEvaluatedTime": now.strftime("%Y%m%d%H%M%S")})


@handles("getBilling")
def get_billing(call: Call) -> Response:
    return reply(get_bill(bills_of(call), call.params["yyyyMM"]))


@handles("getBillingPerDay")
def get_billing_per_day(call: Call) -> Response:
    data = bills_of(call)
    year_month = get_bill(data, call.params["yyyyMM"])["yearMonth"]
    return reply({"billList": daily_amounts(call.state, year_month, data)})


@handles("exportBilling")
def export_billing(call: Call) -> Response:
    state = call.state
    data = call.data
    year_month = get_bill(data, call.params["yyyyMM"])["yearMonth"]
    mode = call.query.get("export_mode", "sync")
    if mode == "sync":
        name = f"{state.now().strftime('%Y%m%d%H%M%S')}-{call.identity.operator_id}-billing-{year_month}"
        data.exports[name] = year_month
        return reply({"url": export_url(call, name)})
    if mode == "async":
        file_id = f"fe_{state.new_uuid()}"
        data.exports[file_id] = year_month
        return reply({"exportedFileId": file_id, "exportedFilePath": f"//files/exported/{file_id}"})
    raise bad_request("export_mode must be sync or async.")


@handles("getExportedFile")
def get_exported_file(call: Call) -> Response:
    file_id = call.params["exported_file_id"]
    if file_id not in call.data.exports:
        raise not_found(f"No exported file {file_id}.", "BIM0002")
    return reply({"status": "exported", "url": export_url(call, file_id)})


def summary_months(state: EmulatorState, data: OperatorData) -> list[str]:
    return [ym for ym in recent_months(state.now(), SUMMARY_MONTHS) if ym in data.bills]


def summary(state: EmulatorState, data: OperatorData, year_month: str,
            breakdown: list[dict[str, Any]]) -> dict[str, Any]:
    return {"yearMonth": year_month, "currency": data.bills[year_month].get("currency", "JPY"),
            "updatedTime": int(state.now().timestamp()), "costBreakdownList": breakdown}


@handles("getBillingSummaryOfBillItems")
def get_billing_summary_of_bill_items(call: Call) -> Response:
    state, data = call.state, bills_of(call)
    return reply([summary(state, data, ym, item_breakdown(state, ym, data)) for ym in summary_months(state, data)])


@handles("getBillingSummaryOfSims")
def get_billing_summary_of_sims(call: Call) -> Response:
    state, data = call.state, bills_of(call)
    return reply([summary(state, data, ym, sim_breakdown(state, ym, data)[:100])
                  for ym in summary_months(state, data)])
