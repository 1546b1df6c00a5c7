"""/mfa: enrollment, verification, status and reset of step-up MFA."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t
from bot.runtime import Runtime
from bot.security.mfa import Check
from bot.jobs.rows import Pending
from bot.security.roles import Role
from handlers import gate, jobs
from handlers.common import Request, Subcommand, UserError, interaction_request, parse_user, register_command
from handlers.views import mfa as views
from handlers.views.common import text
from handlers.views.gate import result_modal


async def enroll(request: Request) -> None:
    rt = request.rt
    new = await rt.mfa.enroll(request.user_id)
    if new is None:
        since = gate.format_time(rt, (await rt.mfa.status(request.user_id)).confirmed_at)
        raise UserError(t("mfa.enroll_already", since=since))
    async with request.audited("mfa.enroll", request.user_id):
        page_url = f"{rt.settings.public_url}/mfa/enroll/{await rt.mfa.issue_enroll_link(request.user_id)}"
        await request.open_view(views.enroll_modal(new.secret, new.uri, page_url))


async def verify(request: Request) -> None:
    if not request.args:
        raise UserError(t("mfa.verify_usage"))
    # "123 456", as some apps show the code, arrives as two words; the store reads what remains.
    await request.reply(await confirm_text(request, "".join(request.args)))


async def confirm_text(request: Request, code: str) -> str:
    """Confirms a pending enrollment; the reply (or the error) as text."""
    status = await request.rt.mfa.status(request.user_id)
    if status.enrolled:
        raise UserError(t("mfa.verify_already"))
    result = await request.rt.mfa.confirm(request.user_id, code)
    if result.outcome is Check.not_enrolled:
        raise UserError(t("mfa.verify_none"))
    async with request.audited("mfa.verify", request.user_id):
        if not result.ok:
            raise UserError(gate.code_error(result, request.rt))
    return t("mfa.enroll_done")


async def status(request: Request) -> None:
    rt = request.rt
    state = await rt.mfa.status(request.user_id)
    if state.created_at is None:
        await request.reply(t("mfa.status_none"))
        return
    if not state.enrolled:
        await request.reply(t("mfa.status_pending"))
        return
    if state.blocked:
        locked = t("mfa.status_blocked")
    elif state.locked_until:
        locked = t("mfa.status_locked", until=gate.format_time(rt, state.locked_until))
    else:
        locked = t("mfa.status_unlocked")
    last = gate.format_time(rt, state.last_used_at) if state.last_used_at else t("mfa.never")
    await request.reply(t("mfa.status", user=request.user_id, since=gate.format_time(rt, state.confirmed_at),
                          last=last, locked=locked))


async def ask_reset(request: Request) -> None:
    if len(request.args) != 1:
        raise UserError(t("mfa.reset_usage"))
    user = parse_user(request.args[0])
    summary = t("mfa.reset_preview", user=user)
    await gate.ask(request, "mfa.reset", {"user": user}, [text(summary)], summary)


async def run_reset(request: Request, pending: Pending) -> jobs.Outcome:
    user = pending.args["user"]
    async with request.audited("mfa.reset", user) as entry:
        if not await request.rt.mfa.reset(user):
            entry.end("failed", t("mfa.reset_none", user=user))
    if entry.result != "ok":
        return jobs.Outcome(False, entry.detail or "")
    done = t("mfa.reset_done", user=user, by=request.user_id)
    await request.announce(request.for_channel(t, "mfa.reset_done", user=user, by=request.user_id))
    return jobs.Outcome(True, done)


def register(app: AsyncApp, rt: Runtime) -> None:
    jobs.define(rt, jobs.GatedAction("mfa.reset", run_reset, role=Role.admin, requires_code=True, danger=True))
    register_command(
        app,
        rt,
        "/mfa",
        [
            Subcommand("enroll", enroll),
            Subcommand("verify", verify),
            Subcommand("status", status),
            Subcommand("reset", ask_reset, role=Role.admin, mutating=True),
        ],
        usage_id="mfa.usage",
    )

    @app.view(views.ENROLL_CALLBACK_ID)
    async def on_enroll_code(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient) -> None:
        request = replace(await interaction_request(rt, body, client, None), command="/mfa enroll")
        code = body["view"]["state"]["values"][views.ENROLL_BLOCK_ID][views.ENROLL_ACTION_ID].get("value") or ""
        try:
            done = await confirm_text(request, code)
        except UserError as exc:
            await ack(response_action="errors", errors={views.ENROLL_BLOCK_ID: str(exc)})
            return
        await ack(response_action="update", view=request.view(result_modal(done, title=t("gate.done_title"))))
