"""The alert rules as SORACOM has them (Event Handlers named by the bot), and the SIM facts an alert card shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services.alerts import RULES, AlertSpec, alert_key_of, handler_request, is_ours
from bot.services.errors import InputError, service
from bot.services.groups import group_name
from bot.services.sims import sim_name
from bot.soracom import SoracomClient, SoracomError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """One of the bot's Event Handlers."""

    handler_id: str
    key: str  # the alert key in its name: rule, or rule@group
    status: str | None
    rule_type: str
    limit: Any  # limitTotalTrafficMegaByte, where the rule has one


@service
async def installed(client: SoracomClient) -> list[Rule]:
    """The bot's own Event Handlers, not the operator's others."""
    rules = []
    for handler in await client.list_event_handlers():
        body = handler.model_dump()
        if is_ours(body):
            config = handler.ruleConfig or {}
            rules.append(Rule(handler.handlerId or "", alert_key_of(body), handler.status, config.get("type", "?"),
                              config.get("properties", {}).get("limitTotalTrafficMegaByte")))
    return rules


@service
async def install(client: SoracomClient, spec: AlertSpec, *, events_url: str, token: str) -> tuple[str, bool]:
    """Creates the rule's Event Handler, or updates the one of the same key: (its id, whether it is new)."""
    operator_id = client.operator_id or (await client.auth()).operatorId or ""
    body = handler_request(spec, operator_id=operator_id, token=token, events_url=events_url)
    existing = [r for r in await installed(client) if r.key == spec.key]
    if existing and existing[0].handler_id:
        await client.update_event_handler(existing[0].handler_id, body)
        return existing[0].handler_id, False
    return (await client.create_event_handler(body)).handlerId or "", True


@service
async def remove(client: SoracomClient, rules: list[Rule]) -> None:
    for rule in rules:
        await client.delete_event_handler(rule.handler_id)


@dataclass
class SimFacts:
    name: str | None = None
    group: str | None = None
    value_bytes: int | None = None  # the traffic of the rule's period, for a traffic rule


async def sim_facts(client: SoracomClient, imsi: str, rule: str, now: datetime) -> SimFacts:
    """As much as SORACOM says now; what it cannot say stays None (a card goes out all the same)."""
    facts = SimFacts()
    try:
        sim = await client.get_subscriber(imsi)
        facts.name = sim_name(sim) or None
        if sim.groupId:
            facts.group = group_name(await client.get_group(sim.groupId))
        period = RULES[rule].period
        if period is not None:
            facts.value_bytes = await _traffic(client, imsi, now, period)
    except SoracomError as exc:
        log.warning("alert card for %s without SIM details: %s", imsi, exc.message)
    return facts


async def _traffic(client: SoracomClient, imsi: str, now: datetime, period: str) -> int:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = start.replace(day=1)
    stats = await client.get_air_stats(imsi, int(start.timestamp()), int(now.timestamp()), period)
    return sum((s.uploadByteSizeTotal or 0) + (s.downloadByteSizeTotal or 0)
               for row in stats for s in (row.dataTrafficStatsMap or {}).values())


def events_url(public_url: str | None, *, sandbox: bool) -> str:
    """Where SORACOM's Event Handler sends its web requests: the bot's public https:// URL. SORACOM cannot reach
    a default localhost, nor should an alert travel in clear; the embedded emulator (sandbox) delivers locally."""
    if not public_url:
        raise InputError("alerts.needs_public_url")
    if not (sandbox or public_url.startswith("https://")):
        raise InputError("alerts.public_url_not_https", url=public_url)
    return f"{public_url.rstrip('/')}/soracom/events"
