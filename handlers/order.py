"""/order: SIM cards from a quotation confirmed with a code (exactly once); order list, show and cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t
from bot.runtime import Runtime
from bot.jobs.rows import Pending
from bot.security.roles import Role
from bot.services import orders
from bot.services.errors import InputError
from handlers import gate, jobs
from handlers.common import (
    Request,
    Subcommand,
    UserError,
    failure_text,
    interaction_request,
    register_action,
    register_command,
)
from handlers.views import order as views
from handlers.views.common import text
from handlers.views.gate import result_modal

ORDER_ACTION = "order.sims"
CANCEL_ACTION = "order.cancel"
QUOTE_ACTION = "order.quote"
ADDRESS_ACTION = "order.address"
# A command's trigger_id lives 3 s: wait this long for SORACOM, then open a modal first and fill it in after.
MODAL_DEADLINE = 1.5


# /order sims QTY [PRODUCT_CODE]


async def ask_sims(request: Request) -> None:
    if not 1 <= len(request.args) <= 2:
        raise UserError(t("order.sims_usage"))
    quantity = orders.parse_quantity(request.args[0])
    await _require_code(request)
    wanted = views.OrderRequest(quantity, request.channel_id, request.args[1] if len(request.args) == 2 else None)
    plan, view_id = await _plan_with_modal_ready(request, wanted)
    if plan is None:
        return
    if not plan.settled:
        modal = views.picker_modal(plan, wanted)
        if view_id:
            await _update_view(request, view_id, modal)
        else:
            await request.open_view(modal)
        return
    assert plan.product is not None and plan.address is not None
    try:
        await quote_and_ask(request, views.OrderRequest(quantity, request.channel_id, plan.product.code,
                                                        plan.address.id))
    except Exception as exc:
        if view_id is None:
            raise
        await _update_view(request, view_id, _failed_modal(request, exc))
        return
    if view_id:
        await _update_view(request, view_id, _done_modal(request))


async def _plan_with_modal_ready(request: Request,
                                 wanted: views.OrderRequest) -> tuple[orders.OrderPlan | None, str | None]:
    """The order plan, and the id of a modal already opened when SORACOM was too slow for the trigger_id.

    When that modal is open, a failure is shown in it and the plan is None.
    """
    fetching = asyncio.ensure_future(orders.order_options(request.rt.soracom))
    view_id: str | None = None
    try:
        done, _ = await asyncio.wait({fetching}, timeout=MODAL_DEADLINE)
        if not done:
            view_id = (await request.open_view(views.loading_modal()))["id"]
        return orders.plan_order(await fetching, wanted.quantity, wanted.product_code), view_id
    except Exception as exc:
        fetching.cancel()
        if view_id is None:
            raise
        await _update_view(request, view_id, _failed_modal(request, exc))
        return None, view_id


async def _require_code(request: Request) -> None:
    """Placing an order needs a code: say so before asking SORACOM for anything."""
    refusal = await gate.code_refusal(request.rt, request.user_id)
    if refusal:
        raise UserError(refusal)


async def quote_and_ask(request: Request, wanted: views.OrderRequest) -> None:
    """Asks SORACOM for a quotation and shows it privately with Confirm (gated) and Cancel."""
    assert wanted.product_code and wanted.address_id
    async with request.audited(QUOTE_ACTION, f"{wanted.quantity} x {wanted.product_code}") as entry:
        quotation = await orders.quote(request.rt.soracom, wanted.product_code, wanted.quantity, wanted.address_id)
        entry.target = f"{entry.target} -> {quotation.order_id}"
    args = {"order_id": quotation.order_id, "quantity": wanted.quantity, "product_code": wanted.product_code,
            "address_id": wanted.address_id}
    requote = views.OrderRequest(wanted.quantity, request.channel_id, wanted.product_code, wanted.address_id)
    await gate.ask(request, ORDER_ACTION, args, views.quotation_blocks(quotation, requote),
                   views.quotation_text(quotation))


async def run_order(request: Request, pending: Pending) -> jobs.Outcome:
    """Confirms the quotation: runs once per pending action (the gate's claim), never repeated blindly.

    A job taken over after its process died reads the order first: confirmed before the crash, it is not again.
    """
    args = pending.args
    order_id = args["order_id"]
    async with request.audited(ORDER_ACTION, order_id) as entry:
        try:
            order = await orders.placed(request.rt.soracom, order_id) if pending.resumed else None
            order = order or await orders.confirm(request.rt.soracom, order_id)
        except orders.QuotationExpired:
            entry.end("refused", t("order.quotation_expired", order_id=order_id))
        except orders.ConfirmUnknown:
            entry.end("unknown", t("order.confirm_unknown", order_id=order_id))
    if entry.result != "ok":
        message = entry.detail or ""
        if entry.result == "unknown":
            await request.reply(message)
            return jobs.Outcome(False, message, unknown=True)
        requote = views.OrderRequest(args["quantity"], request.channel_id, args["product_code"], args["address_id"])
        await request.reply(message, views.expired_blocks(message, requote))
        return jobs.Outcome(False, message)
    assert order is not None  # it ended ok
    done = views.placed_text(request.user_id, order)
    await request.announce(request.for_channel(views.placed_text, request.user_id, order))
    return jobs.Outcome(True, done)


async def requote(request: Request) -> None:
    """New quotation button: the same product, quantity and address, quoted again."""
    try:
        wanted = views.OrderRequest.decode(request.value or "")
        orders.parse_quantity(str(wanted.quantity))
    except (ValueError, KeyError, TypeError, InputError):
        raise UserError(t("common.pending_unknown")) from None
    request = _as_command(request, wanted, request.channel_id or wanted.channel_id)
    async with request.audited(ORDER_ACTION, str(wanted.quantity), failures_only=True):
        await _require_code(request)
        await request.reply(t("order.requoting"), replace_original=True)
        await quote_and_ask(request, views.OrderRequest(wanted.quantity, request.channel_id, wanted.product_code,
                                                        wanted.address_id))


def _as_command(request: Request, wanted: views.OrderRequest, channel_id: str | None) -> Request:
    """A press or submission of the order flow, audited as the command that started it, in its channel."""
    return replace(request, channel_id=channel_id, command="/order", text=f"sims {wanted.quantity}")


async def on_pick(rt: Runtime, ack: Callable[..., Awaitable[None]], body: dict[str, Any],
                  client: AsyncWebClient) -> None:
    """The picker modal submitted: create the address if one was typed in, then quote."""
    view = body["view"]
    wanted = views.OrderRequest.decode(view.get("private_metadata") or "{}")
    request = _as_command(await interaction_request(rt, body, client, None), wanted, wanted.channel_id)
    if not request.role.allows(Role.operator):
        refusal = t("common.refused_role", role=request.role.name, command="/order", sub="sims",
                    required=Role.operator.name, user=request.user_id)
        async with request.audited(ORDER_ACTION, str(wanted.quantity)) as entry:
            entry.end("refused", refusal)
        await ack(response_action="update", view=request.view(result_modal(refusal)))
        return
    choice = views.picker_choice(view)
    missing = orders.missing_address_fields(choice.new_address) if choice.new_address is not None else []
    errors = views.picker_errors(view, choice, missing)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack(response_action="update", view=request.view(result_modal(t("order.picker_working"),
                                                                       title=t("order.picker_title"))))
    try:
        async with request.audited(ORDER_ACTION, str(wanted.quantity), failures_only=True):
            address_id = choice.address_id or wanted.address_id
            if choice.new_address is not None:
                address_id = await _create_address(request, choice.new_address)
            await quote_and_ask(request, views.OrderRequest(wanted.quantity, wanted.channel_id,
                                                            choice.product_code or wanted.product_code, address_id))
        outcome = _done_modal(request)
    except Exception as exc:  # noqa: BLE001 - the modal tells the user
        outcome = _failed_modal(request, exc)
    await _update_view(request, view["id"], outcome)


async def _create_address(request: Request, fields: dict[str, str]) -> str:
    async with request.audited(ADDRESS_ACTION, fields.get("zipCode")) as entry:
        address = await orders.create_address(request.rt.soracom, fields)
        entry.target = address.id
    assert address.id
    return address.id


def _done_modal(request: Request) -> View:
    return result_modal(t("order.picker_done", channel=request.channel_id), title=t("order.picker_done_title"))


def _failed_modal(request: Request, exc: BaseException) -> View:
    return result_modal(failure_text(exc, request.command_line), title=t("order.picker_failed_title"))


async def _update_view(request: Request, view_id: str, view: View) -> None:
    await request.client.views_update(view_id=view_id, view=request.view(view))


# /order list · show · cancel


async def list_orders(request: Request) -> None:
    recent, total = await orders.recent_orders(request.rt.soracom)
    await request.reply(t("order.list_title", count=len(recent), total=total),
                        views.orders_blocks(recent, total, request.rt.settings.timezone))


async def show_order(request: Request) -> None:
    if len(request.args) != 1:
        raise UserError(t("order.show_usage"))
    order = await orders.find_order(request.rt.soracom, request.args[0])
    await request.reply(t("order.show_title", order_id=order.order_id),
                        views.order_blocks(order, request.rt.settings.timezone))


async def ask_cancel(request: Request) -> None:
    if len(request.args) != 1:
        raise UserError(t("order.cancel_usage"))
    order = await orders.find_order(request.rt.soracom, request.args[0])
    if not orders.cancellable(order):
        raise UserError(t("order.cancel_refused", order_id=order.order_id, status=views.status_text(order.status)))
    summary = views.cancel_preview_text(order)
    await gate.ask(request, CANCEL_ACTION, {"order_id": order.order_id}, [text(summary)], summary)


async def run_cancel(request: Request, pending: Pending) -> jobs.Outcome:
    order_id = pending.args["order_id"]
    async with request.audited(CANCEL_ACTION, order_id) as entry:
        try:
            order = await orders.find_order(request.rt.soracom, order_id) if pending.resumed else None
            if order is None or order.status != "cancelled":  # a job taken over may find it cancelled already
                order = await orders.cancel(request.rt.soracom, order_id)
        except orders.CancelRefused as exc:
            entry.end("refused", t("order.cancel_refused_api", order_id=order_id, reason=exc.reason))
    if entry.result == "refused":
        return jobs.Outcome(False, entry.detail or "")
    assert order is not None  # it ended ok
    done = views.cancelled_text(request.user_id, order)
    await request.announce(request.for_channel(views.cancelled_text, request.user_id, order))
    return jobs.Outcome(True, done)


def register(app: AsyncApp, rt: Runtime) -> None:
    jobs.define(rt, jobs.GatedAction(ORDER_ACTION, run_order, role=Role.operator, requires_code=True,
                                 confirm_label="order.confirm_label"))
    jobs.define(rt, jobs.GatedAction(CANCEL_ACTION, run_cancel, role=Role.operator, requires_code=True,
                                 confirm_label="order.cancel_label", danger=True,
                                 dismiss_label="order.keep_label"))
    register_command(
        app,
        rt,
        "/order",
        [
            Subcommand("sims", ask_sims, role=Role.operator, mutating=True),
            Subcommand("list", list_orders),
            Subcommand("show", show_order),
            Subcommand("cancel", ask_cancel, role=Role.operator, mutating=True),
        ],
        usage_id="order.usage",
    )
    register_action(app, rt, views.REQUOTE_ACTION_ID, requote, role=Role.operator)

    @app.view(views.PICKER_CALLBACK_ID)
    async def on_pick_view(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient) -> None:
        await on_pick(rt, ack, body, client)
