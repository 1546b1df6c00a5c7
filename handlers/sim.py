"""/sim: list, show, lifecycle, tags, group, IMEI lock, speed class; one SIM directly, many through the gate."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.messages import t
from bot.runtime import Runtime
from bot.jobs.items import ItemLog
from bot.jobs.lease import hold_lease
from bot.jobs.rows import Item, Pending
from bot.jobs.states import ItemState
from bot.security.roles import Role
from bot.services import fleet, intents, sims, targets
from bot.services.bulk import BulkResult, Failure, Progress, run_bulk
from bot.services.errors import InputError, ServiceError, WriteUnconfirmed
from bot.services.sims import Action, Change
from bot.services.targets import SimInfo
from handlers import devices as device_handlers
from handlers import gate, jobs, remote
from handlers.common import (
    Failed,
    Refused,
    Request,
    Subcommand,
    UserError,
    register_action,
    register_command,
    split_args,
)
from handlers.views import sim as views

log = logging.getLogger(__name__)

SNAPSHOT_CURSOR = "snapshot"  # a listing's cursor that pages through the snapshot, not SORACOM
BULK_ACTION = "sim.bulk"
BULK_CONCURRENCY = 8
ROLE_FRESHNESS = 0.02  # seconds
# A worker's SIM's end is written (the item log gathers ends for up to 10 ms, ItemLog.GATHER) while it calls
# SORACOM for its next, which it ends only once the first is written. So a crash leaves at most this many SIMs done
# but unrecorded, to be done again.
BULK_UNRECORDED = 2 * BULK_CONCURRENCY


# Reading


async def list_sims(request: Request) -> None:
    if not all(targets.is_selector(token) for token in request.args):
        raise UserError(t("sim.list_selector_only"))
    selector = targets.parse_selector(request.args)
    query = await targets.prepare(request.rt.soracom, selector)
    if await _from_snapshot(request, views.ListState(selector.text(), 0, {}), query):
        return
    await _read_soracom(request, selector, query)


async def _read_soracom(request: Request, selector: targets.Selector, query: targets.Query,
                        replace: bool = False) -> None:
    counts = await sims.count_by_status(request.rt.soracom, query)
    await _show_page(request, views.ListState(selector.text(), 0, counts), query, replace=replace)


async def refresh_list(request: Request) -> None:
    """The Refresh under a listing from the snapshot: the same selection, read from SORACOM."""
    selector = targets.parse_selector(split_args(request.value or ""))
    await _read_soracom(request, selector, await targets.prepare(request.rt.soracom, selector), replace=True)


async def turn_page(request: Request) -> None:
    state = views.ListState.decode(request.value or "")
    selector = targets.parse_selector(split_args(state.selector))
    query = await targets.prepare(request.rt.soracom, selector)
    if state.cursor.key == SNAPSHOT_CURSOR and await _from_snapshot(request, state, query, replace=True):
        return
    await _show_page(request, state, query, replace=True)


async def _from_snapshot(request: Request, state: views.ListState, query: targets.Query,
                         replace: bool = False) -> bool:
    """Answers from a fresh fleet snapshot (a later page from the snapshot its first page came from); False
    when there is none, and SORACOM is read instead."""
    rt = request.rt
    offset = state.cursor.offset if state.cursor.key == SNAPSHOT_CURSOR else 0
    page = await fleet.snapshot_page(rt.db, query, offset, sims.LIST_PAGE_SIZE)
    now = rt.clock()
    if page is None or (state.page == 0 and now - page.refreshed_at >= fleet.FRESH):
        return False
    state = views.ListState(state.selector, state.page, page.counts, state.cursors)
    shown = offset + len(page.rows)
    following = sims.Cursor(SNAPSHOT_CURSOR, shown) if shown < page.total else None
    blocks = [*views.list_blocks(state, await fleet.page_rows(rt.soracom, page.rows), following,
                                 sims.LIST_PAGE_SIZE),
              *views.snapshot_blocks(max(now - page.refreshed_at, timedelta(0)), state.selector)]
    await request.reply(views.list_title(state), blocks, replace_original=replace)
    return True


async def _show_page(request: Request, state: views.ListState, query: targets.Query, replace: bool = False) -> None:
    page = await sims.list_page(request.rt.soracom, query, state.cursor)
    blocks = views.list_blocks(state, page.rows, page.next, sims.LIST_PAGE_SIZE)
    await request.reply(views.list_title(state), blocks, replace_original=replace)


async def show_sim(request: Request) -> None:
    found = await targets.resolve(request.rt.soracom, targets.parse_targets(request.args))
    if len(found) != 1:
        raise UserError(t("sim.show_one", count=len(found)))
    detail = await sims.sim_detail(request.rt.soracom, found[0], request.rt.clock())
    await request.reply(t("sim.show_title", name=found[0].name or t("sim.unnamed"), imsi=found[0].imsi),
                        views.detail_blocks(detail, request.rt.settings.timezone))


# Changes: parse, then one SIM directly or the gate


def plain_change(action: Action) -> Callable[[Request], Awaitable[None]]:
    async def run(request: Request) -> None:
        await change_sims(request, Change(action), request.args)

    return run


async def tag(request: Request) -> None:
    args = request.args
    split = next((i for i, token in enumerate(args) if "=" in token and not targets.is_selector(token)), len(args))
    if split == 0 or len(args) < 2:
        raise UserError(t("sim.usage_tag"))
    if split == len(args):
        raise InputError("sim.bad_tag", token=args[-1])
    tags = sims.parse_tags(args[split:])
    await change_sims(request, Change(Action.tag, {"tags": tags}), args[:split])


async def untag(request: Request) -> None:
    args = request.args
    count = next((i for i, token in enumerate(args) if not targets.is_selector(token)), len(args)) or 1
    keys = args[count:]
    if not keys:
        raise UserError(t("sim.usage_untag"))
    await change_sims(request, Change(Action.untag, {"keys": list(dict.fromkeys(keys))}), args[:count])


async def group(request: Request) -> None:
    if len(request.args) < 2:
        raise UserError(t("sim.usage_group"))
    targets.parse_targets(request.args[:-1])  # bad targets are told before the group is looked up
    change = await sims.group_change(request.rt.soracom, request.args[-1])
    await change_sims(request, change, request.args[:-1])


async def imei_lock(request: Request) -> None:
    if len(request.args) < 2:
        raise UserError(t("sim.usage_imei_lock"))
    change = Change(Action.imei_lock, {"imei": sims.check_imei(request.args[-1])})
    await change_sims(request, change, request.args[:-1], one_only=True)


async def speed(request: Request) -> None:
    if len(request.args) < 2:
        raise UserError(t("sim.usage_speed"))
    change = Change(Action.speed, {"speed_class": sims.check_speed_class(request.args[-1])})
    await change_sims(request, change, request.args[:-1])


async def change_sims(request: Request, change: Change, tokens: list[str], *, one_only: bool = False) -> None:
    """Finds the SIMs (nothing is changed on bad input); one SIM is changed at once, the rest go to the gate."""
    wanted = targets.parse_targets(tokens)
    found = await targets.resolve(request.rt.soracom, wanted)
    if one_only and len(found) != 1:
        raise UserError(t("sim.one_sim_only", what=views.what(change), count=len(found)))
    if not wanted.is_bulk and change.action not in sims.GATED:
        await change_one(request, change, found[0])
        return
    preview = sims.preview(change, found)
    selection = wanted.text()
    args = {"change": change.to_args(), "bulk": wanted.is_bulk}
    name = f"sim.{change.action.value}" if change.action in sims.GATED else BULK_ACTION
    items = [(sim.imsi, sim.name) for sim in found]
    await gate.ask(request, name, args, views.preview_blocks(preview, selection),
                   views.preview_text(preview, selection), items=items)


async def change_one(request: Request, change: Change, sim: SimInfo, *, resumed: bool = False) -> jobs.Outcome:
    """Changes one SIM; a success goes to the channel, a failure privately (through the router).

    `resumed`: a job taken over after its process died; the SIM as read now says whether the change was made.
    """
    async with request.audited(f"sim.{change.action.value}", sim.imsi,
                               readback={"imsi": sim.imsi, "change": change.to_args()}):
        try:
            if not (resumed and sims.shows(sim, change)):
                await sims.apply(request.rt.soracom, change, sim.imsi)
        except (ServiceError, sims.ProtectionNotRestored, WriteUnconfirmed) as exc:
            if isinstance(exc, WriteUnconfirmed) and exc.changed is None:
                raise  # audited `unknown`
            raise Failed(views.failed_text(change, sim, sims.failure_reason(exc))) from None
    done = views.done_text(change, sim, request.user_id)
    await request.announce(request.for_channel(views.done_text, change, sim, request.user_id))
    return jobs.Outcome(True, done)


# Confirmed changes


async def run_change(request: Request, job: Pending) -> jobs.Outcome:
    change, items = await _change_and_items(request, job)
    if not job.args.get("bulk"):
        sim = await targets.find_by_imsi(request.rt.soracom, items[0].item)
        return await change_one(request, change, sim, resumed=job.resumed)
    return await run_many(request, job, change, items)


async def _change_and_items(request: Request, job: Pending) -> tuple[Change, list[Item]]:
    """What the job changes, and on which SIMs. A confirmation an older version made kept its SIMs in its
    arguments (`sims`: [[imsi, name], …]) and has no items: they are written now, so it runs as it would have.
    One this version cannot read is refused, nothing done: never "all 0 SIMs done"."""
    try:
        change = Change.from_args(job.args["change"])
    except (KeyError, TypeError, ValueError):
        raise UserError(t("record.older_version", command=job.command)) from None
    items = await request.rt.pending.items(job.id)
    if not items:
        older = job.args.get("sims")
        if not isinstance(older, list) or not older or not all(
                isinstance(sim, list | tuple) and len(sim) == 2 for sim in older):
            raise UserError(t("record.older_version", command=job.command))
        items = await request.rt.pending.add_items(job.id, [(str(imsi), str(name or "")) for imsi, name in older])
    return change, items


async def run_many(request: Request, job: Pending, change: Change, items: list[Item]) -> jobs.Outcome:
    """One channel message, updated as SIMs are done; one audit record per SIM; a final report of failures.

    The role is read again before each SIM. A job taken over skips the SIMs already ended, repeats the others
    where that is harmless, and reads the SIM first where it is not (terminate).
    """
    action = f"sim.{change.action.value}"
    names = {item.item: item.name for item in items}
    before = BulkResult(total=len(items), done=[i.item for i in items if i.state == ItemState.done],
                        failures=[Failure(i.item, i.reason or "") for i in items if i.state == ItemState.failed])
    left = [item.item for item in items if item.state == ItemState.todo]

    ts: str | None = job.message_ts  # the progress message's, once posted

    def overall(progress: Progress) -> Progress:
        return Progress(len(items), len(before.done) + progress.done, len(before.failures) + progress.failed)

    async def report(progress: Progress) -> None:
        if ts is not None:
            now = overall(progress)
            await request.update(ts, request.for_channel(views.progress_text, change, now, request.user_id),
                                 request.for_channel(views.progress_blocks, change, now, request.user_id))

    async def post_progress() -> None:
        nonlocal ts
        ts = await progress_message(request, job, change, before.progress)

    # The first calls go while the message is being posted: a report before it is there is left out.
    posting = asyncio.ensure_future(post_progress()) if ts is None else None
    refused: set[str] = set()

    def record(imsi: str, reason: str | None) -> asyncio.Future[None]:
        return item_log.submit(imsi, reason, refused=imsi in refused)

    async def work(imsi: str) -> None:
        await hold_lease()
        try:
            # The item's own audit row says "refused". A read at most one SORACOM call old serves: a demotion
            # stops the run within ROLE_FRESHNESS, at a tenth of the reads.
            await request.recheck(action, imsi, audit=False, within=ROLE_FRESHNESS)
        except Refused:
            refused.add(imsi)
            raise
        if job.resumed and change.action not in sims.IDEMPOTENT:
            if sims.shows(await targets.find_by_imsi(request.rt.soracom, imsi), change):
                return
        await sims.apply(request.rt.soracom, change, imsi)

    async with ItemLog(request.rt.pending, job.id, action, actor=request.actor, command=request.command_line,
                       reading=request.reading, admins=request.rt.settings.admins,
                       batch=BULK_CONCURRENCY, expected=len(left)) as item_log:
        try:
            result = await run_bulk(left, work, concurrency=BULK_CONCURRENCY, describe=describe_failure,
                                    on_item=record, on_progress=report)
        except BaseException:
            if posting is not None:
                posting.cancel()
            raise
    if posting is not None:
        await posting
    result = BulkResult(len(items), before.done + result.done, before.failures + result.failures, result.seconds,
                        result.peak_concurrency, result.rate_limited)
    summary = views.report_summary(change, result, request.user_id, names)
    try:
        if ts is not None:
            await request.update(ts, request.for_channel(views.report_text, change, result, request.user_id),
                                 request.for_channel(views.report_blocks, change, result, request.user_id, names))
    except SlackApiError as exc:  # the work is done and audited; the user still gets the summary privately
        log.warning("could not post the final report of %s: %s", action, exc.response.get("error"))
    return jobs.Outcome(not result.failures, summary)


async def progress_message(request: Request, job: Pending, change: Change, progress: Progress) -> str | None:
    """The channel message a run updates (remembered: a job taken over updates the same); None if Slack refuses
    it, and the run goes on: its report reaches the user privately."""
    try:
        ts = await request.post(request.for_channel(views.progress_text, change, progress, request.user_id),
                                request.for_channel(views.progress_blocks, change, progress, request.user_id))
    except SlackApiError as exc:
        log.warning("no progress message for job %s: %s", job.id, exc.response.get("error"))
        return None
    await request.rt.pending.set_message(job.id, ts)
    return ts


def describe_failure(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, UserError) else sims.failure_reason(exc)


def read_back_change(rt: Runtime) -> intents.ReadBack:
    """Whether SORACOM shows a change a process that died was making (its intent's `readback`)."""

    async def shows(args: dict[str, Any]) -> bool:
        return sims.shows(await targets.find_by_imsi(rt.soracom, args["imsi"]), Change.from_args(args["change"]))

    return shows


def register(app: AsyncApp, rt: Runtime) -> None:
    for action in Action:
        rt.state(intents.ReadBacks)[f"sim.{action.value}"] = read_back_change(rt)
    for action in sorted(sims.GATED):
        jobs.define(rt, jobs.GatedAction(f"sim.{action.value}", run_change, role=Role.operator, requires_code=True))
    jobs.define(rt, jobs.GatedAction(BULK_ACTION, run_change, role=Role.operator))
    register_action(app, rt, views.NEXT_ACTION, turn_page)
    register_action(app, rt, views.PREVIOUS_ACTION, turn_page)
    register_action(app, rt, views.REFRESH_ACTION, refresh_list)
    device_handlers.register(app, rt)

    def change(name: str, run: Callable[[Request], Awaitable[None]]) -> Subcommand:
        return Subcommand(name, run, role=Role.operator, mutating=True)

    register_command(
        app,
        rt,
        "/sim",
        [
            Subcommand("list", list_sims),
            Subcommand("show", show_sim),
            *(change(action.value, plain_change(action)) for action in sorted(sims.LIFECYCLE)),
            change("tag", tag),
            change("untag", untag),
            change("group", group),
            change("ungroup", plain_change(Action.ungroup)),
            change("imei-lock", imei_lock),
            change("imei-unlock", plain_change(Action.imei_unlock)),
            change("speed", speed),
            *device_handlers.subcommands(),
            # Viewers list; opening needs an operator, closing the opener, an operator or an admin (checked inside).
            Subcommand("remote", remote.command, mutating=True),
        ],
        usage_id="sim.usage",
    )
