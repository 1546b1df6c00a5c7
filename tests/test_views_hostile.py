"""Every view builder, fed hostile data: no data-derived mention, link or raw &, <, > reaches mrkdwn, nothing is
escaped twice, and plain_text shows data as typed (Slack does not decode entities there)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.messages import t
from bot.security.roles import Role
from bot.services.audit import AuditEntry
from bot.services.bills import DailyBills, DayAmount, ItemCost, MonthAmount, MonthBill, MonthlyReport, SimCost
from bot.services.bulk import BulkResult, Failure, Progress
from bot.services.groups import ConfigChange, GroupDetail, GroupSummary, MemberSim
from bot.services.orders import OrderPlan, address_info, order_info, product_info
from bot.services.roles import RoleGrant
from bot.services.sims import Action, Caution, Change, Preview, SimDetail, SimRow, Traffic
from bot.services.targets import SimInfo, sim_info
from bot.soracom.models import ImeiLock, Order, OrderItem, Product, SessionStatus, ShippingAddress, Subscriber
from handlers.views import bill, gate, group, mfa, order, sim, soracom
from handlers.views.common import fields, note, text

ACTOR = "U0ACTOR"  # the acting user, whose mention the bot builds itself
BOT_URL = "https://bot.example/x?a=1&b=2"
TZ = ZoneInfo("Asia/Tokyo")
IMSI = "440100000000001"
# No ";": data can then never spell an entity, so any entity in plain_text is the bot's escaping leaking.
ALPHABET = "<>&!@#|:/.=*_`~ aZ09é"
HOSTILE = ["<!channel>", "<@U123>", "<#C123|x>", "<https://evil.example/login|Re-authenticate SORACOM>", "a & b",
           "<mailto:x@evil.example>", "<!subteam^S1>", ">", "&", "<"]
data = st.one_of(st.sampled_from(HOSTILE), st.text(alphabet=ALPHABET, min_size=1, max_size=30))
OWN_MARKUP = re.compile(rf"<@{ACTOR}>|<{re.escape(BOT_URL.replace('&', '&amp;'))}\|[^<>]*>")
BAD_MRKDWN = re.compile(r"[<>]|&(?!amp;|lt;|gt;)")
ENTITY = re.compile(r"&(amp|lt|gt);")
TWICE = re.compile(r"&amp;(amp|lt|gt);")  # data holds no entity, so this is data escaped twice
EXAMPLES = settings(max_examples=30, deadline=None)


def collect(value: Any, mrkdwn: list[str], plain: list[str]) -> None:
    if isinstance(value, dict):
        kind, body = value.get("type"), value.get("text")
        if kind in ("mrkdwn", "plain_text") and isinstance(body, str):
            (mrkdwn if kind == "mrkdwn" else plain).append(body)
            return
        for name, item in value.items():
            if name not in ("action_id", "block_id", "value", "private_metadata", "callback_id"):
                collect(item, mrkdwn, plain)
    elif isinstance(value, list):
        for item in value:
            collect(item, mrkdwn, plain)


def check(*outputs: Any) -> None:
    """Strings are mrkdwn (message texts); blocks and views are sorted by their text objects' types."""
    mrkdwn: list[str] = []
    plain: list[str] = []
    for output in outputs:
        items = output if isinstance(output, (list, tuple)) else [output]
        for item in items:
            if isinstance(item, str):
                mrkdwn.append(item)
            else:
                collect(item.to_dict() if isinstance(item, (Block, View)) else item, mrkdwn, plain)
    for markdown in mrkdwn:
        assert not BAD_MRKDWN.search(OWN_MARKUP.sub("", markdown)), markdown
        assert not TWICE.search(markdown), markdown
    for shown in plain:
        assert not ENTITY.search(shown), shown


def subscriber(name: str, tag: str, other: str) -> SimInfo:
    return sim_info(Subscriber(imsi=IMSI, iccid=other, msisdn=other, status=other, speedClass=other,
                               subscription=other, tags={"name": name, tag: other}, imeiLock=ImeiLock(imei=other),
                               expiryTime=1, expiryAction=other,
                               sessionStatus=SessionStatus(online=True, imei=other, lastUpdatedAt=1,
                                                           location={"lat": other, "lon": tag})))


# /sim


@EXAMPLES
@given(data, data, data)
def test_sim_list_and_show(name: str, tag: str, other: str) -> None:
    state = sim.ListState(other, 1, {other: 3, tag: 1}, [])
    rows = [SimRow(IMSI, name, other, True, tag, other), SimRow(IMSI, "", other, None, None, "")]
    detail = SimDetail(subscriber(name, tag, other), tag, Traffic(1, 2, datetime(2026, 1, 1, tzinfo=timezone.utc)))
    check(sim.list_blocks(state, rows, None, 10), sim.list_title(state), sim.detail_blocks(detail, TZ))


@EXAMPLES
@given(data, data, data)
def test_sim_changes_previews_progress_and_reports(name: str, tag: str, reason: str) -> None:
    sims = [subscriber(name, tag, reason)]
    changes = [Change(Action.tag, {"tags": {tag: name}}), Change(Action.untag, {"keys": [tag, name]}),
               Change(Action.group, {"group": name}), Change(Action.imei_lock, {"imei": tag}),
               Change(Action.speed, {"speed_class": reason}), Change(Action.activate)]
    result = BulkResult(3, [IMSI], [Failure(IMSI, reason), Failure("440100000000002", name)], 1.5)
    for change in changes:
        preview = Preview(change, 2, sims, {Caution.protection_on: 1})
        check(sim.preview_text(preview, tag), sim.preview_blocks(preview, name),
              sim.progress_text(change, Progress(3, 1, 1), ACTOR), sim.progress_blocks(change, Progress(3, 1, 1), ACTOR),
              sim.report_text(change, result, ACTOR),
              sim.report_blocks(change, result, ACTOR, {IMSI: name, "440100000000002": tag}),
              sim.done_text(change, sims[0], ACTOR), sim.failed_text(change, sims[0], reason))


# /group


@EXAMPLES
@given(data, data, data)
def test_group_views(name: str, key: str, value: str) -> None:
    detail = GroupDetail("g-1", name, {key: value, "name": name}, {key: {value: [value], key: {"x": value}}}, 3,
                         [MemberSim(IMSI, name, value)])
    empty = GroupDetail("g-2", None, {}, {}, 0, [])
    change = ConfigChange(key, {value: value, key: [name]}, [name])
    blocks, summary = group.delete_preview(name, "g-1", 2)
    check(group.list_blocks([GroupSummary("g-1", name, 2), GroupSummary("g-2", None, None)]),
          group.detail_blocks(detail), group.detail_blocks(empty),
          group.namespace_blocks(name, key, {value: value}), group.namespace_blocks(name, key, {}),
          group.configured_text(ACTOR, name, change),
          group.configured_blocks(group.configured_text(ACTOR, name, change), name, key, {value: name}),
          blocks, summary)


# /order


@EXAMPLES
@given(data, data, data)
def test_order_views(name: str, where: str, other: str) -> None:
    api_product = Product(productCode=other, productName=name, price=1500, currency="JPY",
                          properties={"simSubscription": other, "simSize": where})
    api_address = ShippingAddress(shippingAddressId="a-1", fullName=name, companyName=other, zipCode=where, city=where,
                                  addressLine1=name, phoneNumber=other)
    product, address = product_info(api_product), address_info(api_address)
    placed = order_info(Order(orderId=other, orderItemList=[OrderItem(product=api_product, quantity=2,
                                                                      productAmount=3000)],
                              shippingAddress=api_address, totalAmount=3300, currency="JPY", orderStatus=other,
                              orderDateTime=where, paymentStatus=name, shippingDateTime=other,
                              shippingLabelNumber=name))
    request = order.OrderRequest(2, "C1")
    check(order.picker_modal(OrderPlan(2, [product, product], [address, address], 1), request),
          order.picker_modal(OrderPlan(2, [product], [address]), request),
          order.picker_modal(OrderPlan(2, [product], []), request),
          order.quotation_text(placed), order.quotation_blocks(placed, request),
          order.expired_blocks(t("order.quotation_expired", order_id=other), request), order.placed_text(ACTOR, placed),
          order.orders_blocks([placed], 1), order.order_blocks(placed), order.cancel_preview_text(placed),
          order.cancelled_text(ACTOR, placed))


# /bill


@EXAMPLES
@given(data, data)
def test_bill_views(name: str, other: str) -> None:
    month = MonthBill("202611", 1234.0, "JPY", "closed", other, 1000.0, [ItemCost(name, other, 10.0)],
                      [SimCost(other, 5.0)], True)
    report = MonthlyReport(month, [MonthAmount("202610", None), MonthAmount("202611", 1234.0)])
    daily = DailyBills("202611", "JPY", [DayAmount("20261101", 3.0)])
    check(bill.bill_text(month), bill.bill_blocks(month), bill.summary_text(report), bill.summary_blocks(report),
          bill.daily_text(daily), bill.export_text("202611", BOT_URL))


# /soracom, the gate, /mfa and the common pieces


@EXAMPLES
@given(data, data, data)
def test_soracom_gate_mfa_and_common_views(target: str, error: str, other: str) -> None:
    entry = AuditEntry(datetime(2026, 1, 1, tzinfo=timezone.utc), ACTOR, None, None, other, other, target, other,
                       error)
    summary = group.delete_preview(target, "g-1", 1)[1]
    check(soracom.audit_blocks([entry], TZ), soracom.roles_blocks([RoleGrant(ACTOR, Role.admin, ACTOR)]),
          gate.preview_blocks("p-1", [text(summary)], requires_code=True, confirm_label=None, danger=True),
          gate.code_modal("p-1", summary), gate.result_modal(summary),
          mfa.enroll_modal("ABCDEFGH", "otpauth://totp/x?secret=A&issuer=B", BOT_URL),
          fields([("label", target), (other, error)]))
    check(note(sim.escape(error)))


def test_the_catalogue_escapes_each_value_once_and_keeps_number_formats() -> None:
    inner = t("sim.unknown_name", name="<!here> & co")
    assert inner == "No SIM is named `&lt;!here&gt; &amp; co`. Give its IMSI, or see the names with `/sim list`."
    outer = t("common.soracom_error", message=inner)  # already mrkdwn: not escaped again
    assert outer.endswith(inner) and "&amp;lt;" not in outer
    assert t("order.picker_intro", qty=1200).startswith("*1,200 SIM cards.*")
    assert t("group.deleted", user="U1", name="<b>", group_id="g").startswith(":wastebasket: <@U1> deleted group *&lt;b&gt;*")


# The Home tab, the budget and the named bill breakdown


@EXAMPLES
@given(data, data, data)
def test_home_budget_and_named_breakdown_views(name: str, target: str, other: str) -> None:
    from datetime import timedelta

    from bot.services.budget import Budget, Forecast
    from bot.services.fleet import Snapshot, TrafficRow
    from handlers.views import budget, home

    now = datetime(2026, 11, 10, tzinfo=timezone.utc)
    snapshot = Snapshot(now - timedelta(minutes=4), True, 3, {other: 2, "active": 1}, 1, 1, "202611", "JPY", 10.0,
                        20.0, None, [TrafficRow(IMSI, name, 5_000_000)], 3, other)
    entry = AuditEntry(now, ACTOR, None, None, other, other, target, other, None)
    check(home.home_view(snapshot, [entry], now=now, tz=TZ, sandbox=True, own_audit_only=False),
          sim.snapshot_blocks(timedelta(minutes=3), target))
    forecast = Forecast("202611", "JPY", 30, [1.0, 2.0], [3.0])
    saved = Budget(100.0, "C1", ACTOR, now)
    check(budget.warning_text(forecast, saved, 80), budget.warning_blocks(forecast, saved, 100),
          # <#C1>: the bot's own link to the channel it was given (a parsed channel ID), not data
          budget.status_text(saved, forecast, TZ, now).replace("<#C1>", ""), budget.set_text(saved, "JPY").replace("<#C1>", ""))
    month = MonthBill("202611", 12.0, "JPY", "closed", None, None, [ItemCost(name, other, 1.0)],
                      [SimCost(other, 5.0, IMSI, name), SimCost(other, 4.0, IMSI, None), SimCost(target, 1.0)], True)
    check(bill.bill_blocks(month))
