"""/alerts and the alert cards: Event Handler rules set up from Slack, each event one card with fix-it buttons.

The buttons reuse the /sim paths: Slow down is `/sim speed` on one SIM, Suspend goes through the gate as
`/sim suspend` does (preview, Confirm, code), Slow down all is the bulk `/sim speed` with its preview.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t, term
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services import alert_rules, alerts, sims, speed_classes, targets
from bot.services.alert_intake import GroupCommit, Taken
from bot.services.alerts import AlertSpec, AlertStore, Event
from bot.services.groups import find_group
from bot.services.language import writing_in
from handlers import jobs, sim as sim_handlers
from handlers.common import (Request, Subcommand, UserError, in_background, parse_channel, register_action,
                             register_command)
from handlers.views import alerts as views
from handlers.views.common import message_text, traffic_mib, with_marker

log = logging.getLogger(__name__)

SUSPEND = sims.Change(sims.Action.suspend)


def store(rt: Runtime) -> AlertStore:
    return AlertStore(rt.db)


# Events in


class Intake(asyncio.Semaphore):
    """Cards being made at once (per bot: `rt.state(Intake)`): each reads its SIM from SORACOM first."""

    def __init__(self) -> None:
        super().__init__(2)


async def deliver(rt: Runtime, client: AsyncWebClient, event: Event) -> str:
    """One event from SORACOM: a card, folded into its rule's storm, or nothing (repeated, muted, no channel).
    Returns which, once its row is committed (and its card posted). Cards are the channel's: written in BOT_LANG."""
    with writing_in(rt.settings.BOT_LANG):
        now = rt.clock()
        await _purge_now_and_then(rt, now)
        taken = await rt.state(GroupCommit).take(rt.db, event, now, rt.settings.BOT_ALERT_STORM_PER_MINUTE)
        if taken.outcome == "unrouted":
            log.warning("an alert (%s) arrived but no alert channel is set: /alerts channel CHANNEL", event.rule)
        elif taken.outcome == "folded":
            _summarise(rt, client, taken, event)  # on the summary's own pace: the delivery does not wait for Slack
        elif taken.outcome == "card":
            async with rt.state(Intake):
                return await _post_card(rt, client, event, taken, now)
        return taken.outcome


async def _post_card(rt: Runtime, client: AsyncWebClient, event: Event, taken: Taken, now: datetime) -> str:
    kept, channel = store(rt), taken.channel_id or ""
    card = await _card(rt, event, now)
    await kept.set_state(taken.id, "carded", channel_id=channel, detail=card.to_json())
    try:
        ts = await _post(rt, client, channel, views.card_text(card), views.card_blocks(card, taken.id))
    except SlackApiError as exc:
        log.warning("could not post an alert card to %s: %s", channel, exc.response.get("error"))
        await kept.set_state(taken.id, "failed")  # a retry of this delivery may post it
        return "failed"
    await kept.set_state(taken.id, "carded", message_ts=ts)
    return "carded"


class Purges:
    """When this bot next forgets old alert rows (per bot: `rt.state(Purges)`)."""

    EVERY = timedelta(hours=1)

    def __init__(self) -> None:
        self.next: datetime | None = None


async def _purge_now_and_then(rt: Runtime, now: datetime) -> None:
    """Hourly, in a task of its own: the delivery that finds it due does not wait for it."""
    purges = rt.state(Purges)
    if purges.next is not None and now < purges.next:
        return
    purges.next = now + Purges.EVERY
    in_background(rt, _purge(rt, now), "alert-purge")


async def _purge(rt: Runtime, now: datetime) -> None:
    try:
        removed = await store(rt).purge(now)
    except Exception:  # noqa: BLE001 - the next hour's purge takes what this one left
        log.exception("could not forget old alert rows")
        return
    if removed:
        log.info("forgot %d alert rows older than %d days", removed, alerts.KEEP_EVENTS.days)


class StormRefreshes(dict[int, bool]):
    """Storm id → whether another refresh was asked for while its summary's task ran: a storm's deliveries share
    one task, one chat.update at a time (per bot: `rt.state(StormRefreshes)`)."""


class StormUpdates(dict[int, float]):
    """Storm id → the event loop's time of its summary's last chat.update (per bot: `rt.state(StormUpdates)`)."""


def _summarise(rt: Runtime, client: AsyncWebClient, taken: Taken, event: Event) -> None:
    """The storm's summary posted (by the delivery that started it) or brought up to date, in a task of its own:
    the deliveries folded while it waits are counted by its next edit."""
    refreshing = rt.state(StormRefreshes)
    if taken.storm_id in refreshing:
        refreshing[taken.storm_id] = True
        return
    refreshing[taken.storm_id] = False
    in_background(rt, _show_storm(rt, client, taken, event), f"storm-summary-{taken.storm_id}")


async def post_unposted_summaries(rt: Runtime, client: AsyncWebClient) -> None:
    """A sweep's pass: the summaries of storms that went quiet unposted (their poster died, or Slack refused it)."""
    unposted = await store(rt).unposted_storms(rt.clock())
    with writing_in(rt.settings.BOT_LANG):  # the summaries' tasks take the channel's language with them
        for storm in unposted:
            _summarise(rt, client, Taken("folded", channel_id=storm.channel_id, storm_id=storm.storm_id),
                       Event(alert=storm.rule, rule=storm.rule, imsi="", limit_mib=storm.limit_mib))


async def _show_storm(rt: Runtime, client: AsyncWebClient, taken: Taken, event: Event) -> None:
    storm_id, kept = taken.storm_id, store(rt)
    try:
        posted = None if taken.starts else await kept.storm_message(storm_id)
        if posted is None:
            # Posted by the delivery that started the storm; or taken over from a process that died posting it,
            # or gave it back when Slack refused it. Else it is being posted (here or by another replica), and
            # that one refreshes the count.
            if not taken.starts and not await kept.take_over_storm(storm_id, rt.clock()):
                return
            count = await kept.storm_count(storm_id)
            try:
                ts = await _post(rt, client, taken.channel_id or "",
                                 views.storm_text(event.rule, count, event.limit_mib),
                                 views.storm_blocks(event.rule, count, event.limit_mib, storm_id, []))
            except Exception as exc:
                error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
                log.error("could not post storm summary %s (%s); the storm's next delivery in %d s or later tries "
                          "again", storm_id, error, alerts.POST_AGAIN_AFTER.seconds)
                await kept.give_back_storm(storm_id, rt.clock())
                return
            await kept.set_storm_message(storm_id, taken.channel_id or "", ts)
            rt.state(StormUpdates)[storm_id] = asyncio.get_running_loop().time()
            where, shown = (taken.channel_id or "", ts), count
        else:
            where, shown = posted, -1
        await _refresh_storm(rt, client, storm_id, where, event, shown)
    except Exception:
        log.exception("storm summary %s", storm_id)
    finally:
        rt.state(StormRefreshes).pop(storm_id, None)


async def _refresh_storm(rt: Runtime, client: AsyncWebClient, storm_id: int, where: tuple[str, str],
                         event: Event, shown: int) -> None:
    refreshing = rt.state(StormRefreshes)
    updated, loop = rt.state(StormUpdates), asyncio.get_running_loop()
    refused = 0  # edits Slack refused in a row: one refused in passing is made again, so that the card ends true
    try:
        while True:
            # At most one edit per interval: the events folded meanwhile are counted by the next one.
            wait = updated.get(storm_id, -math.inf) + rt.settings.BOT_ALERT_STORM_UPDATE_SECONDS - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            refreshing[storm_id] = False
            count = await store(rt).storm_count(storm_id)  # the newest count, whichever event comes last
            if count != shown:
                try:
                    await client.chat_update(channel=where[0], ts=where[1],
                                             text=message_text(views.storm_text(event.rule, count, event.limit_mib)),
                                             blocks=with_marker([b.to_dict() for b in views.storm_blocks(
                                                 event.rule, count, event.limit_mib, storm_id, [])], rt.sandbox))
                except SlackApiError as exc:
                    error = exc.response.get("error")
                    refused += 1
                    again = error in PASSING_REFUSALS and refused < SUMMARY_ATTEMPTS
                    log.warning("could not update storm summary %s: %s%s", storm_id, error,
                                "; trying again" if again else "")
                    if again:
                        pause = _retry_after(exc) - rt.settings.BOT_ALERT_STORM_UPDATE_SECONDS
                        updated[storm_id] = loop.time() + max(0.0, pause)
                        continue
                refused = 0
                updated[storm_id] = loop.time()  # once Slack has it: the next edit reaches Slack a whole interval later
                shown = count
            if not refreshing[storm_id]:
                return
    finally:
        stale = loop.time() - rt.settings.BOT_ALERT_STORM_UPDATE_SECONDS
        for done in [key for key, at in updated.items() if at < stale]:
            del updated[done]


# Slack's refusals that pass: a summary edit refused so is made again after the interval (or Slack's Retry-After).
PASSING_REFUSALS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
SUMMARY_ATTEMPTS = 5


def _retry_after(exc: SlackApiError) -> float:
    try:
        return float(exc.response.headers.get("Retry-After", 0))
    except (TypeError, ValueError):
        return 0.0


async def _post(rt: Runtime, client: AsyncWebClient, channel: str, text: str, blocks: Sequence[Block]) -> str:
    response = await client.chat_postMessage(channel=channel, text=message_text(text),
                                             blocks=with_marker([b.to_dict() for b in blocks], rt.sandbox))
    return response["ts"]


async def _card(rt: Runtime, event: Event, now: datetime) -> views.Card:
    """The SIM by name and group, and its traffic for a traffic rule, as SORACOM has them now; an IMSI alone if
    SORACOM cannot say (the card still goes out)."""
    when = now.astimezone(rt.settings.timezone).strftime("%Y-%m-%d %H:%M %Z")
    card = views.Card(rule=event.rule, imsi=event.imsi, name=None, group=None, limit_mib=event.limit_mib,
                      value_bytes=None, when=when, old_status=event.old_status, new_status=event.new_status)
    facts = await alert_rules.sim_facts(rt.soracom, event.imsi, event.rule, now)
    card.name, card.group, card.value_bytes = facts.name, facts.group, facts.value_bytes
    return card


# Buttons


async def _pressed(request: Request, action: str, role: Role) -> tuple[Request, int, views.Card]:
    """The press as the command it stands for (audited so), the card's event, after the role check (a refusal is
    audited, as for the slash commands)."""
    event_id = int(request.value or "0") if (request.value or "").isdigit() else 0
    row = await store(request.rt).event(event_id)
    if row is None or row.state != "carded":
        raise UserError(t("alerts.card_unknown"))
    request = replace(request, command="/alerts", text=f"{action} {row.imsi}", required=role)
    await request.recheck(f"alerts.{action}", row.imsi)
    return request, event_id, views.Card.from_json(json.loads(row.detail_json))


async def _note_on_card(request: Request, event_id: int, card: views.Card, message_id: str, **values: object) -> None:
    """Who did what, on the card: in the card's language (BOT_LANG), never in the presser's."""
    card.history.append(request.for_channel(t, message_id, user=request.user_id, **values))
    await store(request.rt).set_state(event_id, "carded", detail=card.to_json())
    ts = (request.body.get("message") or {}).get("ts")
    if ts and request.channel_id:
        await request.update(ts, request.for_channel(views.card_text, card),
                             request.for_channel(views.card_blocks, card, event_id))


def _slow_down_to(speed: str) -> sims.Change:
    return sims.Change(sims.Action.speed, {"speed_class": speed})


def _one_class(found: Sequence[targets.SimInfo]) -> str:
    plans = sorted({sim.plan or "" for sim in found})
    return t("speed.one_class", plan=", ".join(plans), sims=", ".join(sim.name or sim.imsi for sim in found))


async def slow_down(request: Request) -> None:
    """To the slowest class the SIM's own plan offers (s1.minimum, u1.slow on plan-DU; none on plan-KM1)."""
    request, event_id, card = await _pressed(request, "slow-down", Role.operator)
    sim = await targets.find_by_imsi(request.rt.soracom, card.imsi)
    speed = speed_classes.slowest(sim.plan)
    if speed is None:
        raise UserError(_one_class([sim]))
    await sim_handlers.change_one(request, _slow_down_to(speed), sim)
    await _note_on_card(request, event_id, card, "alerts.did_slow", speed=speed)


async def suspend(request: Request) -> None:
    request, event_id, card = await _pressed(request, "suspend", Role.operator)
    async with request.audited("alerts.suspend", card.imsi, failures_only=True):  # the gate's refusal, as for /sim
        await sim_handlers.change_sims(request, SUSPEND, [card.imsi])
    await _note_on_card(request, event_id, card, "alerts.did_ask_suspend")


async def show(request: Request) -> None:
    request, _, card = await _pressed(request, "show", Role.viewer)
    await sim_handlers.show_sim(replace(request, args=[card.imsi]))


async def mute_sim(request: Request) -> None:
    request, event_id, card = await _pressed(request, "mute", Role.operator)
    now = request.rt.clock()
    async with request.audited("alerts.mute", card.imsi):
        await store(request.rt).mute(f"imsi:{card.imsi}", now + alerts.DEFAULT_MUTE, request.user_id, now)
    await _note_on_card(request, event_id, card, "alerts.did_mute", until=_time(request.rt, now + alerts.DEFAULT_MUTE))


async def slow_down_all(request: Request) -> None:
    storm_id = int(request.value or "0") if (request.value or "").isdigit() else 0
    imsis = await store(request.rt).storm_imsis(storm_id)
    if not imsis:
        raise UserError(t("alerts.card_unknown"))
    request = replace(request, command="/alerts", text=f"slow-down-all storm {storm_id}", required=Role.operator)
    await request.recheck("alerts.slow-down-all", f"{len(imsis)} SIMs")
    async with request.audited("alerts.slow-down-all", f"{len(imsis)} SIMs", failures_only=True):
        by_speed: dict[str | None, list[targets.SimInfo]] = {}
        for sim in await targets.resolve(request.rt.soracom, targets.parse_targets(imsis)):
            by_speed.setdefault(speed_classes.slowest(sim.plan), []).append(sim)
        unchangeable = by_speed.pop(None, [])
        if unchangeable:
            await request.reply(_one_class(unchangeable))
        for speed, group in sorted(by_speed.items(), key=lambda item: str(item[0])):  # one preview per class
            await sim_handlers.change_sims(request, _slow_down_to(str(speed)), [sim.imsi for sim in group])


# /alerts


async def set_channel(request: Request) -> None:
    if len(request.args) != 1:
        raise UserError(t("alerts.usage_channel"))
    channel = parse_channel(request.args[0])
    async with request.audited("alerts.channel", channel):
        await store(request.rt).set_channel(channel, request.user_id, request.rt.clock())
    await request.reply(t("alerts.channel_set", channel=channel))


async def setup(request: Request) -> None:
    token = request.rt.settings.BOT_EVENTS_TOKEN
    if not token:
        raise UserError(t("alerts.no_token"))
    url = alert_rules.events_url(request.rt.settings.BOT_PUBLIC_URL, sandbox=request.rt.sandbox)
    spec = await _spec(request)
    async with request.audited("alerts.setup", spec.key):
        handler_id, created = await alert_rules.install(request.rt.soracom, spec, token=token, events_url=url)
    done = "alerts.setup_created" if created else "alerts.setup_updated"
    channel = await store(request.rt).channel()
    await request.reply(t(done, rule=spec.rule.name, id=handler_id or "?", what=_what(spec),
                          channel=t("alerts.channel_ref", channel=channel) if channel else t("alerts.no_channel")))


async def _spec(request: Request) -> AlertSpec:
    args = list(request.args)
    if not args:
        raise UserError(t("alerts.usage_setup", rules=", ".join(alerts.RULES)))
    rule = alerts.parse_rule(args.pop(0))
    group = None
    for token in list(args):
        if token.lower().startswith("group:"):
            group = await find_group(request.rt.soracom, token.split(":", 1)[1])
            args.remove(token)
    limit = None
    if rule.has_limit:
        if len(args) != 1:
            raise UserError(t("alerts.usage_limit", rule=rule.name))
        limit = alerts.parse_limit(args[0])
    elif args:
        raise UserError(t("alerts.no_limit_taken", rule=rule.name, extra=" ".join(args)))
    return AlertSpec(rule, limit, group.id if group else None, group.name if group else None)


def _what(spec: AlertSpec) -> str:
    return t("alerts.spec", rule=spec.rule.name, limit=f" > {traffic_mib(spec.limit_mib)}" if spec.limit_mib else "",
             scope=t("alerts.scope_group", group=spec.group_name) if spec.group_name else t("alerts.scope_all"))


async def list_alerts(request: Request) -> None:
    now = request.rt.clock()
    channel = await store(request.rt).channel()
    lines = [t("alerts.list_channel", channel=channel) if channel else t("alerts.no_channel")]
    lines += [t("alerts.list_line", key=rule.key, status=term("alerts.rule_status", rule.status), rule=rule.rule_type,
                limit=traffic_mib(int(rule.limit)) if str(rule.limit or "").isdigit() else rule.limit or "-")
              for rule in await alert_rules.installed(request.rt.soracom)] or [t("alerts.list_none")]
    lines += [t("alerts.list_mute", target=m.target, until=_time(request.rt, m.until))
              for m in await store(request.rt).mutes(now)]
    await request.reply("\n".join(lines))


async def off(request: Request) -> None:
    if len(request.args) not in (1, 2):
        raise UserError(t("alerts.usage_off"))
    rule = alerts.parse_rule(request.args[0])
    group_id = None
    if len(request.args) == 2:
        if not request.args[1].lower().startswith("group:"):
            raise UserError(t("alerts.usage_off"))
        group_id = (await find_group(request.rt.soracom, request.args[1].split(":", 1)[1])).id
    wanted = rule.name + (f"@{group_id}" if group_id else "")
    gone = [r for r in await alert_rules.installed(request.rt.soracom)
            if r.key == wanted or (group_id is None and r.key.split("@")[0] == rule.name)]
    if not gone:
        raise UserError(t("alerts.off_none", rule=wanted))
    async with request.audited("alerts.off", wanted):
        await alert_rules.remove(request.rt.soracom, gone)
    await request.reply(t("alerts.off_done", rule=wanted, count=len(gone)))


async def _mute_target(request: Request, token: str) -> str:
    if token.lower() in alerts.RULES:
        return f"rule:{token.lower()}"
    sim = await targets.find_sim(request.rt.soracom, token)
    return f"imsi:{sim.imsi}"


async def mute(request: Request) -> None:
    if len(request.args) not in (1, 2):
        raise UserError(t("alerts.usage_mute"))
    span = alerts.parse_duration(request.args[1] if len(request.args) == 2 else None)
    target = await _mute_target(request, request.args[0])
    now = request.rt.clock()
    async with request.audited("alerts.mute", target):
        await store(request.rt).mute(target, now + span, request.user_id, now)
    await request.reply(t("alerts.muted", target=target, until=_time(request.rt, now + span)))


async def unmute(request: Request) -> None:
    if len(request.args) != 1:
        raise UserError(t("alerts.usage_unmute"))
    target = await _mute_target(request, request.args[0])
    async with request.audited("alerts.unmute", target):
        if not await store(request.rt).unmute(target):
            raise UserError(t("alerts.not_muted", target=target))
    await request.reply(t("alerts.unmuted", target=target))


def _time(rt: Runtime, when: datetime) -> str:
    return when.astimezone(rt.settings.timezone).strftime("%Y-%m-%d %H:%M %Z")


def register(app: AsyncApp, rt: Runtime) -> None:
    # Roles are checked inside (read again, refusals audited); the viewer floor only lets the press through.
    for action_id, run in ((views.SLOW_ACTION, slow_down), (views.SUSPEND_ACTION, suspend),
                           (views.SHOW_ACTION, show), (views.MUTE_ACTION, mute_sim),
                           (views.STORM_SLOW_ACTION, slow_down_all)):
        register_action(app, rt, action_id, run)
    register_command(app, rt, "/alerts", [
        Subcommand("channel", set_channel, role=Role.admin, mutating=True),
        Subcommand("setup", setup, role=Role.admin, mutating=True),
        Subcommand("list", list_alerts),
        Subcommand("off", off, role=Role.admin, mutating=True),
        Subcommand("mute", mute, role=Role.operator, mutating=True),
        Subcommand("unmute", unmute, role=Role.operator, mutating=True),
    ], usage_id="alerts.usage")
    passes = rt.state(jobs.SweepPasses)
    if post_unposted_summaries not in passes:
        passes.append(post_unposted_summaries)

