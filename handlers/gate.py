"""The one gate in front of bulk, costly and destructive actions.

A handler describes the action once (`define`) and asks for it with a preview (`ask`). Confirm runs it
exactly once; for actions that need a second factor, Confirm opens the code modal first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t
from bot.runtime import Runtime
from bot.security.mfa import Check, CheckResult
from bot.jobs.rows import Pending
from bot.jobs.states import JobState
from handlers import jobs
from handlers.common import Request, UserError, interaction_request, register_action
from handlers.jobs import GatedAction, actions, truth
from handlers.views import gate as views

log = logging.getLogger(__name__)


async def ask(request: Request, action_name: str, args: dict[str, Any], summary: list[Block],
              summary_text: str, items: Sequence[tuple[str, str]] = ()) -> None:
    """Shows `summary` privately with Confirm/Cancel; nothing happens before Confirm.

    `items` (id, name), for an action over several things, are stored with it: a job taken over knows what is left.
    A preview records nothing: the job records how the action ends once it is confirmed; a refusal here is audited
    by the command asking (the command router, or the button's handler).
    """
    action = actions(request.rt)[action_name]
    if action.requires_code:
        refusal = await code_refusal(request.rt, request.user_id)
        if refusal:
            raise UserError(refusal)
    pending = await request.rt.pending.create(
        user_id=request.user_id,
        team_id=request.team_id,
        channel_id=request.channel_id,
        action=action_name,
        args=args,
        requires_code=action.requires_code,
        command=request.command_line,
        summary=summary_text,
        items=items,
    )
    blocks = views.preview_blocks(pending.id, summary, requires_code=action.requires_code,
                                  confirm_label=action.confirm_label and t(action.confirm_label),
                                  danger=action.danger, dismiss_label=action.dismiss_label and t(action.dismiss_label))
    await request.reply(summary_text, blocks)


async def code_refusal(rt: Runtime, user_id: str) -> str | None:
    """Why a user cannot give a code now (not enrolled, locked), or None."""
    status = await rt.mfa.status(user_id)
    if not status.enrolled:
        return t("gate.not_enrolled")
    if status.blocked:
        return t("gate.blocked")
    if status.locked_until:
        return t("gate.locked", until=format_time(rt, status.locked_until))
    return None


def format_time(rt: Runtime, when: Any) -> str:
    return when.astimezone(rt.settings.timezone).strftime("%Y-%m-%d %H:%M %Z")


async def _usable(request: Request) -> tuple[Pending, GatedAction]:
    """The user's own pending action, still waiting; UserError saying what is true otherwise."""
    pending = await request.rt.pending.get(request.value or "")
    if pending is None or pending.action not in actions(request.rt):
        raise UserError(t("common.pending_unknown"))
    if pending.user_id != request.user_id:
        raise UserError(t("common.pending_not_yours", owner=pending.user_id))
    if pending.state != JobState.pending:
        raise UserError(truth(pending))
    if pending.expired(request.rt.clock()):
        raise UserError(t("common.pending_expired"))
    return pending, actions(request.rt)[pending.action]


async def _allowed(request: Request, pending: Pending, action: GatedAction) -> Request:
    """The press as the confirmed command (audited as that command, in its channel), once the role as it is now
    allows it: a role taken away since the preview is refused, and audited."""
    confirmed = replace(request, command=pending.command, text="",
                        channel_id=pending.channel_id or request.channel_id, required=action.role)
    await confirmed.recheck(pending.action, pending.summary)
    return confirmed


async def on_confirm(request: Request) -> None:
    pending, action = await _usable(request)
    request = await _allowed(request, pending, action)
    if action.requires_code:
        refusal = await code_refusal(request.rt, request.user_id)
        if refusal:
            raise UserError(refusal)
        await request.open_view(views.code_modal(pending.id, pending.summary))
        return
    if not await request.rt.pending.claim(pending.id, request.rt.worker_id):
        raise UserError(truth(await request.rt.pending.get(pending.id)))
    # The work starts while the user is told it runs: the outcome replaces that notice, so it waits for it.
    running = asyncio.ensure_future(request.reply(t("common.running"), replace_original=True))
    try:
        outcome = await jobs.run(request, pending)
    finally:
        await _noticed(running)
    await request.reply(outcome.summary, replace_original=True)


async def _noticed(notice: asyncio.Future[None]) -> None:
    try:
        await notice
    except Exception as exc:  # noqa: BLE001 - a notice Slack refused: the job's outcome is said all the same
        log.warning("could not say a job is running: %s", getattr(exc, "response", {}).get("error") or exc)


async def on_cancel(request: Request) -> None:
    pending = await request.rt.pending.get(request.value or "")
    if pending is None:
        raise UserError(t("common.pending_unknown"))
    if pending.user_id != request.user_id:
        raise UserError(t("common.pending_not_yours", owner=pending.user_id))
    if not await request.rt.pending.cancel(pending.id):
        raise UserError(truth(await request.rt.pending.get(pending.id)))
    await request.reply(t("common.pending_cancelled"), replace_original=True)


def code_error(result: CheckResult, rt: Runtime) -> str:
    if result.outcome is Check.locked:
        return t("gate.locked", until=format_time(rt, result.locked_until))
    if result.outcome is Check.blocked:
        return t("gate.blocked")
    if result.outcome is Check.replayed:
        return t("gate.code_replayed")
    if result.outcome is Check.malformed:
        return t("gate.code_malformed")
    if result.outcome in (Check.not_enrolled, Check.not_confirmed):
        return t("gate.not_enrolled")
    if result.next_lock_needs_reset:
        return t("gate.code_wrong_reset", left=result.failures_left)
    return t("gate.code_wrong", left=result.failures_left)


def register(app: AsyncApp, rt: Runtime) -> None:
    register_action(app, rt, "pending_confirm", on_confirm)
    register_action(app, rt, "pending_cancel", on_cancel)

    @app.view(views.CODE_CALLBACK_ID)
    async def on_code(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        request = replace(await interaction_request(rt, body, client, None), value=view.get("private_metadata", ""))
        try:
            pending, action = await _usable(request)
            request = await _allowed(request, pending, action)
        except UserError as exc:
            await ack(response_action="update", view=request.view(views.result_modal(str(exc))))
            return
        result = await rt.mfa.verify(request.user_id, views.code_from(view))
        if not result.ok:
            async with request.audited(pending.action, pending.summary) as entry:
                entry.end("refused", f"MFA code {result.outcome.value}")
            await ack(response_action="errors", errors={views.CODE_BLOCK_ID: code_error(result, rt)})
            return
        if not await rt.pending.claim(pending.id, rt.worker_id, view_id=view["id"]):
            taken = truth(await rt.pending.get(pending.id))
            await ack(response_action="update", view=request.view(views.result_modal(taken)))
            return
        await ack(response_action="update", view=request.view(views.result_modal(t("gate.running_modal"))))
        outcome = await jobs.run(request, pending)
        await client.views_update(view_id=view["id"], view=request.view(
            views.result_modal(outcome.summary, title=t("gate.done_title"))))
