"""/sim diagnose, ping, reconnect and sms, and the buttons that act on a diagnosis (plus *Diagnose* on alert cards
and Home).

Writes follow `/sim activate IMSI`: the role is read when the command (or button press) arrives and again for a
press, the write runs inside one `request.audited` scope, a success is announced to the channel, SORACOM's refusal
is told privately and audited `failed`, no answer is audited `unknown`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services import devices, sims, targets
from bot.services import sms as sms_service
from bot.services.devices import Diagnosis
from bot.services.errors import InputError, ServiceError
from bot.services.targets import SimInfo
from handlers.common import (
    Failed,
    Request,
    Subcommand,
    UserError,
    interaction_request,
    register_action,
    report_failure,
)
from handlers.views import devices as views
from handlers.views.common import message_text
from handlers.views.sim import sim_label

log = logging.getLogger(__name__)

RESTORE_SPEED = sims.Change(sims.Action.speed, {"speed_class": devices.RESTORED_SPEED_CLASS})
ACTIVATE = sims.Change(sims.Action.activate)


async def _one_sim(request: Request, sub: str, count: int = 1) -> SimInfo:
    """The one SIM the command names (an IMSI or a name; a selector is refused), after `count` arguments."""
    if len(request.args) != count:
        raise UserError(t(f"devices.usage_{sub}"))
    if targets.parse_targets(request.args[:1]).is_bulk:
        raise UserError(t("devices.one_sim", sub=sub))
    return await targets.find_sim(request.rt.soracom, request.args[0])


async def _pressed_sim(request: Request) -> SimInfo:
    imsi = request.value or ""
    if not targets.IMSI.match(imsi):
        raise UserError(t("sim.not_found", imsi=imsi))
    return await targets.find_by_imsi(request.rt.soracom, imsi)


# Diagnose


Show = Callable[[Diagnosis], Awaitable[None]]


async def diagnose(request: Request) -> None:
    await show_diagnosis(request, await _one_sim(request, "diagnose"))


async def show_diagnosis(request: Request, sim: SimInfo, *, direct: bool = False) -> None:
    """The first answer as soon as the reads are in, then the same message with SORACOM's diagnosis.

    `direct`: in the user's conversation with the bot (a button on a channel message, whose own response_url would
    replace that message), else privately where the command was typed.
    """
    rt = request.rt
    first = await devices.first_look(rt.soracom, rt.db, sim, rt.clock())
    show = await (_in_direct_message(request, first) if direct else _in_reply(request, first))
    if first.state == "pending":
        await show(await devices.finish(rt.soracom, first))


def _render(request: Request, diagnosis: Diagnosis) -> tuple[str, list[dict[str, Any]]]:
    blocks = views.diagnosis_blocks(diagnosis, request.rt.clock(), request.rt.settings.timezone)
    text = views.diagnosis_text(diagnosis)
    return text, request.blocks(text, blocks)


async def _in_reply(request: Request, first: Diagnosis) -> Show:
    text, blocks = _render(request, first)
    await request.reply(text, blocks)

    async def show(diagnosis: Diagnosis) -> None:
        text, blocks = _render(request, diagnosis)
        await request.reply(text, blocks, replace_original=True)

    return show


async def _in_direct_message(request: Request, first: Diagnosis) -> Show:
    text, blocks = _render(request, first)
    posted = await request.client.chat_postMessage(channel=request.user_id, text=message_text(text), blocks=blocks)
    channel, ts = posted["channel"], posted["ts"]

    async def show(diagnosis: Diagnosis) -> None:
        text, blocks = _render(request, diagnosis)
        await request.client.chat_update(channel=channel, ts=ts, text=message_text(text), blocks=blocks)

    return show


async def diagnose_pressed(request: Request) -> None:
    """*Diagnose* on an alert card or on Home: the diagnosis goes to the presser alone."""
    await show_diagnosis(request, await _pressed_sim(request), direct=True)


# Ping


async def ping(request: Request) -> None:
    await _ping(request, await _one_sim(request, "ping"))


async def _ping(request: Request, sim: SimInfo) -> None:
    result = await devices.ping(request.rt.soracom, sim.imsi)
    await request.reply(views.ping_text(result, sim.imsi, sim.name))


async def ping_pressed(request: Request) -> None:
    await _ping(request, await _pressed_sim(request))


# Reconnect


async def reconnect(request: Request) -> None:
    await reconnect_one(request, await _one_sim(request, "reconnect"))


async def reconnect_one(request: Request, sim: SimInfo) -> None:
    async with request.audited("sim.reconnect", sim.imsi):
        try:
            await devices.reconnect(request.rt.soracom, sim.imsi)
        except ServiceError as exc:
            raise Failed(t("devices.reconnect_failed", sim=sim_label(sim.imsi, sim.name),
                           reason=sims.failure_reason(exc))) from None
    await request.announce(views.reconnected_text(sim.imsi, sim.name, request.user_id))


async def _as_command(request: Request, sub: str, role: Role) -> tuple[Request, SimInfo]:
    """A press as the command it stands for (audited so), after reading the role again."""
    sim = await _pressed_sim(request)
    request = replace(request, command="/sim", text=f"{sub} {sim.imsi}", required=role)
    await request.recheck(f"sim.{sub}", sim.imsi)
    return request, sim


async def reconnect_pressed(request: Request) -> None:
    request, sim = await _as_command(request, "reconnect", Role.operator)
    await reconnect_one(request, sim)


async def activate_pressed(request: Request) -> None:
    from handlers import sim as sim_handlers  # /sim's own path for one SIM (that module registers this one's)

    request, sim = await _as_command(request, "activate", Role.operator)
    await sim_handlers.change_one(request, ACTIVATE, sim)


async def restore_pressed(request: Request) -> None:
    from handlers import sim as sim_handlers

    request, sim = await _as_command(request, "speed", Role.operator)
    await sim_handlers.change_one(request, RESTORE_SPEED, sim)


# SMS


async def sms(request: Request) -> None:
    if len(request.args) < 2:
        raise UserError(t("devices.usage_sms"))
    message = sms_service.check_sms(request.args[1].strip())
    sim = await _one_sim(replace(request, args=request.args[:1]), "sms")
    await send_sms(request, sim, message)


async def send_sms(request: Request, sim: SimInfo, message: sms_service.Sms) -> None:
    async with request.audited("sim.sms", sim.imsi) as entry:
        # The text itself is never kept: its length, encoding and digest say which message it was.
        entry.detail = f"{message.length} characters, encodingType {message.encoding}, sha256 {message.digest}"
        try:
            await sms_service.send_sms(request.rt.soracom, sim.imsi, message)
        except ServiceError as exc:
            raise Failed(t("devices.sms_failed", sim=sim_label(sim.imsi, sim.name),
                           reason=sims.failure_reason(exc))) from None
    await request.announce(views.sms_sent_text(message, sim.imsi, sim.name, request.user_id))


async def sms_pressed(request: Request) -> None:
    """*Send SMS* under a diagnosis: a modal asks for the text (the SIM and channel ride in its metadata)."""
    imsi = request.value or ""
    if not targets.IMSI.match(imsi):
        raise UserError(t("sim.not_found", imsi=imsi))
    await request.open_view(views.sms_modal(imsi, request.channel_id))


async def sms_submitted(rt: Runtime, ack: Callable[..., Awaitable[None]], body: dict[str, Any],
                        client: AsyncWebClient) -> None:
    imsi, channel, text = views.sms_submission(body["view"])
    request = replace(await interaction_request(rt, body, client, None), channel_id=channel,
                      command="/sim", text=f"sms {imsi} {text}", public_args=1, required=Role.operator)
    try:
        message = sms_service.check_sms(text.strip())
    except InputError as exc:
        await ack(response_action="errors", errors={views.SMS_BLOCK_ID: t(exc.message_id, **exc.values)})
        return
    await ack()
    try:
        await request.recheck("sim.sms", imsi)  # the role now, not when the button was shown (audited if refused)
        await send_sms(request, await targets.find_by_imsi(rt.soracom, imsi), message)
    except Exception as exc:  # noqa: BLE001 - every failure is told to the user, privately
        await report_failure(request, exc)


def subcommands() -> list[Subcommand]:
    return [
        Subcommand("diagnose", diagnose),
        Subcommand("ping", ping),
        Subcommand("reconnect", reconnect, role=Role.operator, mutating=True),
        Subcommand("sms", sms, role=Role.operator, mutating=True, public_args=1),
    ]


def register(app: AsyncApp, rt: Runtime) -> None:
    # Roles of the writes are read again inside (refusals audited); the viewer floor only lets the press through.
    for action_id, run in ((views.DIAGNOSE_ACTION, diagnose_pressed), (views.PING_ACTION, ping_pressed),
                           (views.RECONNECT_ACTION, reconnect_pressed), (views.ACTIVATE_ACTION, activate_pressed),
                           (views.RESTORE_ACTION, restore_pressed)):
        register_action(app, rt, action_id, run)
    register_action(app, rt, views.SMS_ACTION, sms_pressed, role=Role.operator)

    @app.view(views.SMS_CALLBACK_ID)
    async def on_sms(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient) -> None:
        await sms_submitted(rt, ack, body, client)
