"""The App Home tab: published on `app_home_opened` from the fleet snapshot; Refresh reads SORACOM again."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import t
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services import audit, devices, fleet
from bot.services.alerts import AlertStore
from bot.services.roles import role_of
from handlers import bill, sim
from handlers.common import Request, in_background, register_action, speak_to
from handlers.views import devices as device_views
from handlers.views import home as views

log = logging.getLogger(__name__)

AUDIT_ENTRIES = 10
WAIT_SECONDS = 60.0  # how long a Refresh waits for another process's refresh
POLL_SECONDS = 0.5


class RefreshPresses(dict[str, datetime]):
    """User → when their last Refresh read SORACOM (per bot: `rt.state(RefreshPresses)`)."""


async def publish(rt: Runtime, client: AsyncWebClient, user_id: str, notice: str | None = None) -> fleet.Snapshot:
    """The user's Home from the database alone: no SORACOM call."""
    now = rt.clock()
    role = await role_of(rt.db, user_id, rt.settings.admins)
    own_only = not role.allows(Role.operator)  # viewers see their own actions, operators and admins everyone's
    snapshot, entries, alerts, quiet = await asyncio.gather(
        fleet.read_snapshot(rt.db, now),
        audit.latest(rt.db, AUDIT_ENTRIES, user_id if own_only else None),
        AlertStore(rt.db).open_alerts(now),
        devices.went_offline(rt.db, now),
    )
    view = views.home_view(snapshot, entries, now=now, tz=rt.settings.timezone, sandbox=rt.sandbox,
                           own_audit_only=own_only, alerts=alerts, notice=notice,
                           went_offline=device_views.went_quiet_blocks(quiet, rt.settings.timezone))
    await client.views_publish(user_id=user_id, view=view)
    return snapshot


async def refresh_and_publish(rt: Runtime, client: AsyncWebClient, user_id: str) -> bool:
    """Reads SORACOM into the snapshot (unless another refresh runs) and shows the user the result."""
    done = await fleet.refresh(rt.db, rt.soracom, owner=rt.worker_id, clock=rt.clock, zone=rt.settings.timezone)
    if not done:
        await _wait_for_other_refresh(rt)
    try:
        await publish(rt, client, user_id)
    except SlackApiError as exc:
        log.warning("Home of %s not published after a refresh: %s", user_id, exc.response.get("error"))
    return done


async def _wait_for_other_refresh(rt: Runtime) -> None:
    """Another process holds the lease: its result is shown once it is in (or after WAIT_SECONDS, as it is)."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if not (await fleet.read_snapshot(rt.db, rt.clock())).refreshing:
            return
        await asyncio.sleep(POLL_SECONDS)


async def opened(rt: Runtime, client: AsyncWebClient, event: dict[str, Any]) -> None:
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    user_id = event["user"]
    await speak_to(rt, client, user_id)  # Home is the user's own: in their Slack locale, else BOT_LANG
    snapshot = await publish(rt, client, user_id)
    if not snapshot.fresh(rt.clock()):
        # An old or missing snapshot: this page updates once it is read (here, or by the process reading it now).
        in_background(rt, refresh_and_publish(rt, client, user_id), "home-refresh")


async def refresh(request: Request) -> None:
    rt, now = request.rt, request.rt.clock()
    presses = rt.state(RefreshPresses)
    snapshot = await fleet.read_snapshot(rt.db, now)
    wait = fleet.refresh_wait(snapshot, presses.get(request.user_id), now)
    if wait > timedelta(0):  # the snapshot as it is, and when Refresh reads SORACOM again
        await publish(rt, request.client, request.user_id,
                      notice=t("home.refresh_cooldown", seconds=math.ceil(wait.total_seconds())))
        return
    presses[request.user_id] = now
    await refresh_and_publish(rt, request.client, request.user_id)


async def _in_direct_messages(request: Request) -> Request:
    """Home has no channel: the answers of its buttons go to the user's conversation with the bot."""
    opened_dm = await request.client.conversations_open(users=request.user_id)
    return replace(request, channel_id=opened_dm["channel"]["id"])


async def list_sims(request: Request) -> None:
    await sim.list_sims(await _in_direct_messages(request))


async def this_month_bill(request: Request) -> None:
    await bill.show(await _in_direct_messages(request))


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        await opened(rt, client, event)

    register_action(app, rt, views.REFRESH_ACTION, refresh)
    register_action(app, rt, views.LIST_ACTION, list_sims)
    register_action(app, rt, views.BILL_ACTION, this_month_bill)
