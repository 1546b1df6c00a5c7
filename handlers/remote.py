"""/sim remote: SORACOM Napter remote access to a device, behind the code gate and a clock.

Open: a preview (SIM, port, duration, sources, TLS) → Confirm → MFA code → a job that writes the durable row, opens
the access at SORACOM, posts who/what/until to the channel and gives the endpoint to the opener alone. Close: by
`/sim remote close`, or by the sweep every bot process runs when the access expires; a claim on the row makes it
happen once, whatever the number of processes, restarts or SIGKILLs.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import in_language, t
from bot.runtime import Runtime
from bot.jobs.rows import Pending
from bot.security.roles import Role
from bot.services import audit, remote, targets
from bot.services.errors import ServiceError, WriteUnconfirmed
from bot.services.remote import Access, Accesses, Endpoint, Opening
from bot.services.roles import role_of
from handlers import gate, jobs
from handlers.common import Failed, Refused, Request, RoleReading, UserError, failure_text, user_language
from handlers.views import remote as views
from handlers.views.times import local_time

log = logging.getLogger(__name__)

OPEN_ACTION = "sim.remote"
OPEN_WIDE_ACTION = "sim.remote.wide"  # a source range wider than /16: the same, for admins only
CLOSE_ACTION = "sim.remote.close"
EXPIRE_ACTION = "sim.remote.expire"
EXPIRY_COMMAND = "(remote access expired)"


def accesses(rt: Runtime) -> Accesses:
    return Accesses(rt.db, rt.clock)


async def command(request: Request) -> None:
    """`/sim remote …`: list, close, or open (the rest)."""
    first = request.args[0].lower() if request.args else ""
    if first == "list" and len(request.args) == 1:
        await list_open(request)
    elif first == "close":
        await close_command(replace(request, args=request.args[1:]))
    else:
        await ask_open(request)


# Open


async def ask_open(request: Request) -> None:
    if not request.role.allows(Role.operator):
        raise UserError(t("common.refused_role", role=request.role.name, command=request.command, sub="remote",
                          required=Role.operator.name, user=request.user_id))
    ask = remote.parse_ask(request.args, request.rt.settings)
    if ask.wide and not request.role.allows(Role.admin):
        widest = min(ask.sources, key=lambda s: int(s.split("/")[1]))
        raise UserError(t("remote.wide_needs_admin", source=widest, role=request.role.name))
    sim = await _one_sim(request, ask.target)
    for access in await accesses(request.rt).live(sim.imsi):
        if access.device_port == ask.port:
            raise UserError(t("remote.already_open", name=sim.name or sim.imsi, port=ask.port, imsi=sim.imsi,
                              until=local_time(access.expires_at, request.rt.settings.timezone)))
    opening = Opening(sim.imsi, sim.name, ask.port, ask.duration, ask.sources, ask.tls)
    await gate.ask(request, OPEN_WIDE_ACTION if ask.wide else OPEN_ACTION, {"opening": opening.to_args()},
                   views.preview_blocks(opening, default_sources=ask.default_sources), views.preview_text(opening))


async def _one_sim(request: Request, token: str) -> targets.SimInfo:
    found = await targets.resolve(request.rt.soracom, targets.parse_targets([token]))
    if len(found) != 1:
        raise UserError(t("remote.one_sim", target=token, count=len(found)))
    return found[0]


async def run_open(request: Request, job: Pending) -> jobs.Outcome:
    """The confirmed job (role read again just before by the job runner). Taken over after a crash, it finds its row
    and, where SORACOM may have opened the access already, adopts that one instead of opening another."""
    rt, zone = request.rt, request.rt.settings.timezone
    opening = Opening.from_args(job.args["opening"])
    store = accesses(rt)
    access = await store.begin(job.id, opening, user_id=request.user_id, team_id=request.team_id,
                               channel_id=request.channel_id)
    endpoint: Endpoint | None = None
    if access.state == "opening":
        async with request.audited(OPEN_ACTION, opening.imsi):
            try:
                key, endpoint = await remote.open_mapping(rt.soracom, rt.mfa.box, access, duration=opening.duration,
                                                          adopt=job.resumed)
            except (ServiceError, WriteUnconfirmed) as exc:
                refused = isinstance(exc, ServiceError) and not exc.ambiguous
                if refused or (isinstance(exc, WriteUnconfirmed) and exc.changed is False):
                    await store.failed(access.id)  # surely nothing open; else the sweep closes what may be
                if refused:
                    raise Failed(t("remote.open_failed", name=opening.sim_name or opening.imsi, port=opening.port,
                                   reason=str(exc))) from None
                raise
            await store.opened(access.id, key, rt.clock() + opening.duration)
    fresh = await store.get(access.id)
    assert fresh is not None
    access = fresh
    if access.state != "open":
        return jobs.Outcome(False, jobs.truth(job))
    if endpoint is None:
        endpoint = await remote.find_endpoint(rt.soracom, rt.mfa.box, access)
    if access.message_ts is None:
        await _post_notice(request, access)
    delivered = endpoint is not None and await _tell_privately(request, views.endpoint_text(access, endpoint, zone))
    summary = views.opened_summary(access, zone)
    return jobs.Outcome(True, summary if delivered else f"{summary}\n{t('remote.endpoint_undelivered')}")


async def _post_notice(request: Request, access: Access) -> None:
    """Who opened which SIM and port, from where, until when: in the channel, in the workspace's language."""
    with in_language(request.rt.settings.BOT_LANG):
        notice = views.notice_text(access, request.rt.settings.timezone)
    try:
        ts = await request.post(notice)
    except SlackApiError as exc:
        problem = failure_text(exc, request.command_line)
        with contextlib.suppress(SlackApiError):
            await request.reply(t("common.announce_failed", problem=problem, text=notice))
        return
    await accesses(request.rt).set_message(access.id, ts)


async def _tell_privately(request: Request, text: str) -> bool:
    """To the user alone: ephemeral in the channel, else a direct message. Never logged."""
    try:
        await request.reply(text)
        return True
    except SlackApiError:
        pass
    try:
        await request.client.chat_postMessage(channel=request.user_id, text=text,
                                              blocks=request.blocks(text, None))
        return True
    except SlackApiError as exc:
        log.warning("could not give %s the endpoint of a remote access privately: %s", request.user_id,
                    exc.response.get("error"))
        return False


# List


async def list_open(request: Request) -> None:
    rt = request.rt
    now = rt.clock()
    rows: list[tuple[Access, Endpoint | None]] = []
    for access in await accesses(rt).live():
        if access.state != "open" or access.expires_at <= now:
            continue
        mine = access.opened_by == request.user_id
        rows.append((access, await remote.find_endpoint(rt.soracom, rt.mfa.box, access) if mine else None))
    await request.reply(t("remote.list_title"), views.list_blocks(rows, request.user_id, rt.settings.timezone))


# Close


async def close_command(request: Request) -> None:
    if len(request.args) != 1:
        raise UserError(t("remote.usage_close"))
    sim = await _one_sim(request, request.args[0])
    store = accesses(request.rt)
    live = await store.live(sim.imsi)
    if not live:
        raise UserError(t("remote.none_open", target=request.args[0]))
    for access in live:
        async with request.audited(CLOSE_ACTION, access.imsi, failures_only=True):
            # The role as it is now, right before the SORACOM write: the opener, or an operator or admin.
            role = await role_of(request.rt.db, request.user_id, request.rt.settings.admins)
            if access.opened_by != request.user_id and not role.allows(Role.operator):
                raise Refused(t("remote.not_yours", name=access.sim_name or access.imsi, port=access.device_port,
                                opener=access.opened_by, role=role.name))
            claimed = await store.claim(access, request.rt.worker_id, closer=request.user_id)
            if claimed is None:
                raise UserError(t("remote.closing_elsewhere", name=access.sim_name or access.imsi,
                                  port=access.device_port))
            ended = await finish(request.rt, request.client, claimed, actor=request)
        if ended is not None:
            await request.reply(t("remote.closed_reply", name=ended.sim_name or ended.imsi, imsi=ended.imsi,
                                  port=ended.device_port))


async def finish(rt: Runtime, client: AsyncWebClient, access: Access, *, actor: Request | None = None) -> Access | None:
    """Ends an access this process claimed: deleted at SORACOM if still there, recorded with its audit row, then the
    channel notice edited and the opener told. A failure leaves the claim to lapse: another sweep does it again."""
    store = accesses(rt)
    if access.state == "closing":
        request = actor or await _request_of(rt, client, access, access.closed_by or access.opened_by)
        closing_action = CLOSE_ACTION if access.closed_by else EXPIRE_ACTION
        async with request.audited(closing_action, access.imsi, failures_only=True):
            await remote.close_mapping(rt.soracom, rt.mfa.box, access)
            state = "closed" if access.closed_by else "expired"
            event = audit.values(request.actor, command=request.command_line or EXPIRY_COMMAND,
                                 action=closing_action, target=access.imsi, result="ok")
            if not await store.ended(access, rt.worker_id, state, event):
                return None  # another process took it over meanwhile (this one was too slow): it finishes it
        ended = await store.get(access.id)
        assert ended is not None
        access = ended
    await _tell_ended(rt, client, access)
    await store.told(access.id, rt.worker_id)
    return access


async def _request_of(rt: Runtime, client: AsyncWebClient, access: Access, user_id: str) -> Request:
    """Who a close is recorded under when no request of theirs is at hand (a sweep): the closer, or for an expiry
    the opener; in the channel the access was opened in."""
    return Request(rt=rt, client=client, respond=None, user_id=user_id, team_id=access.team_id,
                   channel_id=access.channel_id, trigger_id=None,
                   reading=RoleReading(await role_of(rt.db, user_id, rt.settings.admins)))


async def _tell_ended(rt: Runtime, client: AsyncWebClient, access: Access) -> None:
    zone = rt.settings.timezone
    request = await _request_of(rt, client, access, access.opened_by)
    if access.message_ts and access.channel_id:
        with in_language(rt.settings.BOT_LANG):
            notice = views.ended_notice_text(access, zone)
        try:
            await request.update(access.message_ts, notice, channel=access.channel_id)
        except SlackApiError as exc:
            log.warning("could not edit the notice of remote access %s: %s", access.id, exc.response.get("error"))
    if access.closed_by == access.opened_by:
        return  # they closed it themselves, and were answered
    with in_language(await user_language(rt, client, access.opened_by)):  # theirs, not the closer's
        told = views.told_text(access, zone)
    try:
        await client.chat_postMessage(channel=access.opened_by, text=told, blocks=request.blocks(told, None))
    except SlackApiError as exc:
        log.warning("could not tell %s that remote access %s ended: %s", access.opened_by, access.id,
                    exc.response.get("error"))


# The sweep: every process, every few seconds


async def sweep(rt: Runtime, client: AsyncWebClient) -> None:
    """Closes what expired and finishes closes whose process died; the claim lets one process do each."""
    store = accesses(rt)
    for access in await store.due():
        claimed = await store.claim(access, rt.worker_id, closer=access.closed_by)
        if claimed is None:
            continue
        try:
            await finish(rt, client, claimed)
        except Exception as exc:  # noqa: BLE001 - left claimed: the lease lapses and a later sweep tries again
            log.warning("could not close remote access %s (%s); trying again later", access.id, type(exc).__name__)


def register(app: AsyncApp, rt: Runtime) -> None:
    jobs.define(rt, jobs.GatedAction(OPEN_ACTION, run_open, role=Role.operator, requires_code=True))
    jobs.define(rt, jobs.GatedAction(OPEN_WIDE_ACTION, run_open, role=Role.admin, requires_code=True))
    passes = rt.state(jobs.SweepPasses)
    if sweep not in passes:
        passes.append(sweep)
