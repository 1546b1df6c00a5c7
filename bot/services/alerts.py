"""SORACOM Event Handler alerts: the rules the bot sets up, the events they send back, and what the bot keeps of them
(the alert channel, one row per delivery, storms, mutes). No Slack types here."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, func, select, update

from bot.services.errors import InputError
from bot.store import Database, off_loop
from bot.store.tables import AlertEvent, AlertMute, AlertSetting, AlertStorm, as_utc

CHANNEL_SETTING = "alerts.channel"
HANDLER_PREFIX = "slackbot:"  # names of the Event Handler rules this bot made (and may list, update, delete)
TOKEN_HEADER = "X-Soracom-Bot-Token"
MAX_EVENT_BYTES = 64 * 1024
STORM_WINDOW = timedelta(minutes=1)
DEFAULT_MUTE = timedelta(hours=24)
MAX_MUTE = timedelta(days=90)
MAX_LIMIT_MIB = 2147483647
SLOW_SPEED_CLASS = "s1.minimum"
STATUSES = ("ready", "active", "inactive", "standby", "suspended", "terminated")
CARDED = ("new", "carded")  # an event whose card is posted, or on its way
_IMSI = re.compile(r"^\d{15}$")
_ALERT_KEY = re.compile(r"^[a-z-]+(@[A-Za-z0-9_.:-]{1,64})?$")
_SIZE = re.compile(r"^(\d{1,10})\s*(MB|MIB|M|GB|GIB|G)?$", re.IGNORECASE)  # MB, GB: read as MiB, GiB
_DURATION = re.compile(r"^(\d{1,4})([mhd])$")


@dataclass(frozen=True)
class RuleKind:
    """One `/alerts setup` rule and the Event Handler RuleConfig it becomes."""

    name: str
    soracom_type: str
    reevaluate: str  # inactiveTimeoutDateConst
    period: str | None = None  # traffic rules: the period the limit counts ("day", "month")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_limit(self) -> bool:
        return self.period is not None


RULES: dict[str, RuleKind] = {rule.name: rule for rule in (
    RuleKind("daily-traffic", "SubscriberDailyTrafficRule", "BEGINNING_OF_NEXT_DAY", "day"),
    RuleKind("monthly-traffic", "SubscriberMonthlyTrafficRule", "BEGINNING_OF_NEXT_MONTH", "month"),
    RuleKind("status-change", "SubscriberStatusAttributeRule", "IMMEDIATELY"),
    RuleKind("session-disconnect", "SubscriberSessionStatusRule", "IMMEDIATELY", extra={"sessionStatus": "Deleted"}),
    RuleKind("expiry", "SubscriberExpiredRule", "IMMEDIATELY"),
)}
RULE_BY_TYPE = {rule.soracom_type: rule for rule in RULES.values()}


# Setting up rules at SORACOM


@dataclass(frozen=True)
class AlertSpec:
    rule: RuleKind
    limit_mib: int | None
    group_id: str | None
    group_name: str | None

    @property
    def key(self) -> str:
        """The alert's name in events and at SORACOM: the rule, and the group it watches, if any."""
        return self.rule.name + (f"@{self.group_id}" if self.group_id else "")


def parse_rule(name: str) -> RuleKind:
    rule = RULES.get(name.lower())
    if rule is None:
        raise InputError("alerts.unknown_rule", rule=name, rules=", ".join(RULES))
    return rule


def parse_limit(value: str) -> int:
    """100MiB, 100MB, 100, 2GiB, 2GB → MiB, SORACOM's unit: the bot counts traffic in binary units only, so MB
    and GB typed are read as MiB and GiB."""
    match = _SIZE.match(value.strip())
    if not match:
        raise InputError("alerts.bad_limit", value=value)
    amount = int(match.group(1)) * (1024 if (match.group(2) or "M").upper().startswith("G") else 1)
    if not 1 <= amount <= MAX_LIMIT_MIB:
        raise InputError("alerts.bad_limit", value=value)
    return amount


def parse_duration(value: str | None) -> timedelta:
    if value is None:
        return DEFAULT_MUTE
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise InputError("alerts.bad_duration", value=value)
    amount = int(match.group(1))
    span = {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[match.group(2)]
    if not timedelta(minutes=1) <= span <= MAX_MUTE:
        raise InputError("alerts.bad_duration", value=value)
    return span


def handler_request(spec: AlertSpec, *, operator_id: str, events_url: str, token: str) -> dict[str, Any]:
    """CreateEventHandlerRequest: the rule, and one ExecuteWebRequestAction that posts the event to the bot."""
    properties: dict[str, Any] = {"inactiveTimeoutDateConst": spec.rule.reevaluate, **spec.rule.extra}
    if spec.limit_mib is not None:
        properties["limitTotalTrafficMegaByte"] = str(spec.limit_mib)
    body: dict[str, Any] = {"alert": spec.key, "rule": spec.rule.name, "imsi": "${imsi}",
                            "operatorId": "${operatorId}"}
    if spec.limit_mib is not None:
        body["limitMiB"] = spec.limit_mib
    if spec.rule.name == "status-change":
        body.update({"oldStatus": "${oldStatus}", "newStatus": "${newStatus}"})
    target = {"targetGroupId": spec.group_id} if spec.group_id else {"targetOperatorId": operator_id}
    return {
        "name": HANDLER_PREFIX + spec.key,
        "description": f"Slack alerts: {spec.rule.name}"
                       + (f" over {spec.limit_mib} MiB" if spec.limit_mib else "")
                       + (f" in group {spec.group_name}" if spec.group_name else ""),
        "status": "active",
        "ruleConfig": {"type": spec.rule.soracom_type, "properties": properties},
        "actionConfigList": [{"type": "ExecuteWebRequestAction", "properties": {
            "executionDateTimeConst": "IMMEDIATELY",
            "url": events_url,
            "httpMethod": "POST",
            "contentType": "application/json",
            "headers": {TOKEN_HEADER: token},
            "body": json.dumps(body, separators=(",", ":")),
        }}],
        **target,
    }


def is_ours(handler: dict[str, Any]) -> bool:
    return str(handler.get("name") or "").startswith(HANDLER_PREFIX)


def alert_key_of(handler: dict[str, Any]) -> str:
    return str(handler.get("name") or "").removeprefix(HANDLER_PREFIX)


# Events the rules send


@dataclass(frozen=True)
class Event:
    alert: str
    rule: str
    imsi: str
    limit_mib: int | None = None
    old_status: str | None = None
    new_status: str | None = None
    time: int | None = None  # ms; when absent the rule's period (or the minute it arrived) stands for it

    def dedup_key(self, received: datetime) -> str:
        """Rule, SIM and period (a status change: the change too): the same event delivered twice has the same key.
        The body's `time` and the alert's group suffix take no part: whoever holds the token could vary them to
        make every delivery new."""
        rule = RULES[self.rule]
        change = f"|{self.old_status}>{self.new_status}" if rule.name == "status-change" else ""
        return hashlib.sha256(f"{rule.name}|{self.imsi}|{_period_of(rule, received)}{change}".encode()).hexdigest()


def _period_of(rule: RuleKind, moment: datetime) -> str:
    # SORACOM evaluates daily and monthly traffic in UTC; a traffic rule fires once per SIM and period, the others
    # once per SIM and minute.
    fmt = {"day": "%Y%m%d", "month": "%Y%m"}.get(rule.period or "", "%Y%m%d%H%M")
    return moment.astimezone(timezone.utc).strftime(fmt)


class BadEvent(ValueError):
    """The body is not an event this bot's rules send; the reason is safe to return to the sender."""


def parse_event(raw: bytes) -> Event:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadEvent("the body is not JSON") from None
    except RecursionError:  # nested deeper than the parser goes: no event of a rule is
        raise BadEvent("the body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    rule, imsi, alert = body.get("rule"), body.get("imsi"), body.get("alert", body.get("rule"))
    if rule not in RULES:
        raise BadEvent(f"rule must be one of {', '.join(RULES)}")
    if not isinstance(imsi, str) or not _IMSI.match(imsi):
        raise BadEvent("imsi must be 15 digits")
    if not isinstance(alert, str) or not _ALERT_KEY.match(alert) or alert.split("@")[0] != rule:
        raise BadEvent("alert must name the rule (and its group)")
    return Event(alert=alert, rule=rule, imsi=imsi, limit_mib=_optional_int(body, "limitMiB"),
                 old_status=_optional_status(body, "oldStatus"), new_status=_optional_status(body, "newStatus"),
                 time=_optional_int(body, "time"))


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53:
        raise BadEvent(f"{name} must be a non-negative integer")
    return value


def _optional_status(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in STATUSES:
        raise BadEvent(f"{name} must be a SIM status")
    return value


# What the bot keeps


@dataclass(frozen=True)
class Recorded:
    id: int
    new: bool  # False: a repeated delivery


@dataclass(frozen=True)
class OpenAlert:
    alert: str
    imsi: str
    at: datetime
    channel_id: str | None


OPEN_ALERTS_SINCE = timedelta(hours=24)
KEEP_EVENTS = timedelta(days=90)
# A delivery still unfinished this long after it arrived was being handled by a process that died.
UNFINISHED_AFTER = timedelta(minutes=1)
# A storm's summary still unposted this long after a process took it on: that process died (a post takes a second
# or two, Slack's client gives up after 30 s), and the storm's next delivery (or the next sweep) takes it over.
POSTER_PATIENCE = timedelta(seconds=45)
# After Slack refused a summary, the storm's next delivery this much later posts it again (or the next sweep).
POST_AGAIN_AFTER = timedelta(seconds=10)
# A storm quiet this long whose summary Slack kept refusing (a channel gone, the bot removed) is no longer tried.
SWEPT_SUMMARIES = timedelta(minutes=10)
PURGE_CHUNK = 2000  # rows a purge transaction deletes: the write lock is held a moment, never for a whole day's storm


@dataclass(frozen=True)
class UnpostedStorm:
    storm_id: int
    rule: str
    limit_mib: int | None
    channel_id: str


def _unposted_and_free(now: datetime) -> list[Any]:
    """A storm whose summary is unposted and that no process is posting: the one that took it on did so
    POSTER_PATIENCE ago (it died), or gave it back (Slack refused it)."""
    return [col(AlertStorm.message_ts).is_(None),
            col(AlertStorm.posting_at).is_(None) | (col(AlertStorm.posting_at) < now - POSTER_PATIENCE)]


class AlertStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @off_loop
    def open_alerts(self, now: datetime, limit: int = 5) -> tuple[list[OpenAlert], int]:
        """Alerts posted in the last day (as cards, or folded into a storm's card), newest first, and their count."""
        where = (col(AlertEvent.received_at) > now - OPEN_ALERTS_SINCE, col(AlertEvent.state).in_(["carded", "folded"]))
        with self.db.session() as session:
            count = session.exec(select(func.count()).select_from(AlertEvent).where(*where)).one()
            rows = session.exec(select(AlertEvent).where(*where).order_by(col(AlertEvent.received_at).desc())
                                .limit(limit)).all()
        return [OpenAlert(r.alert, r.imsi, as_utc(r.received_at) or now, r.channel_id) for r in rows], count

    @off_loop
    def channel(self) -> str | None:
        with self.db.session() as session:
            row = session.get(AlertSetting, CHANNEL_SETTING)
            return row.value if row else None

    @off_loop
    def set_channel(self, channel_id: str, user_id: str, now: datetime) -> None:
        with self.db.session() as session:
            row = session.get(AlertSetting, CHANNEL_SETTING) or AlertSetting(name=CHANNEL_SETTING, value=channel_id,
                                                                             updated_by=user_id)
            row.value, row.updated_by, row.updated_at = channel_id, user_id, now
            session.add(row)
            session.commit()

    @off_loop
    def record(self, event: Event, now: datetime) -> Recorded:
        """Inserts the delivery; the unique key makes a repeated one (on any replica) `new=False`."""
        row = AlertEvent(dedup_key=event.dedup_key(now), alert=event.alert, rule=event.rule, imsi=event.imsi,
                         limit_mib=event.limit_mib, received_at=now)
        with self.db.session() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.exec(select(AlertEvent).where(AlertEvent.dedup_key == row.dedup_key)).one()
                # Taken again by exactly one retry: a delivery whose card Slack refused, or one left unfinished
                # (no card posted) by a process that died while handling it.
                unfinished = (col(AlertEvent.state) == "new") | (
                    (col(AlertEvent.state) == "carded") & col(AlertEvent.message_ts).is_(None))
                retried = session.exec(update(AlertEvent).where(
                    col(AlertEvent.id) == existing.id,
                    (col(AlertEvent.state) == "failed")
                    | (unfinished & (col(AlertEvent.received_at) < now - UNFINISHED_AFTER)),
                ).values(state="new", received_at=now).execution_options(synchronize_session=False))
                session.commit()
                return Recorded(existing.id or 0, bool(retried.rowcount))
            return Recorded(row.id or 0, True)

    @off_loop
    def set_state(self, event_id: int, state: str, *, channel_id: str | None = None, message_ts: str | None = None,
                  detail: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"state": state}
        if channel_id is not None:
            values["channel_id"] = channel_id
        if message_ts is not None:
            values["message_ts"] = message_ts
        if detail is not None:
            values["detail_json"] = json.dumps(detail)
        with self.db.session() as session:
            session.exec(update(AlertEvent).where(col(AlertEvent.id) == event_id).values(**values))
            session.commit()

    @off_loop
    def event(self, event_id: int) -> AlertEvent | None:
        with self.db.session() as session:
            return session.get(AlertEvent, event_id)

    @off_loop
    def muted(self, imsi: str, rule: str, now: datetime) -> bool:
        with self.db.session() as session:
            rows = session.exec(select(AlertMute).where(col(AlertMute.target).in_([f"imsi:{imsi}", f"rule:{rule}"])))
            return any((as_utc(row.until) or now) > now for row in rows)

    @off_loop
    def mute(self, target: str, until: datetime, user_id: str, now: datetime) -> None:
        with self.db.session() as session:
            row = session.get(AlertMute, target) or AlertMute(target=target, until=until, muted_by=user_id)
            row.until, row.muted_by, row.muted_at = until, user_id, now
            session.add(row)
            session.commit()

    @off_loop
    def unmute(self, target: str) -> bool:
        with self.db.session() as session:
            removed = session.exec(delete(AlertMute).where(col(AlertMute.target) == target))
            session.commit()
            return bool(removed.rowcount)

    @off_loop
    def mutes(self, now: datetime) -> list[AlertMute]:
        with self.db.session() as session:
            rows = session.exec(select(AlertMute).order_by(col(AlertMute.target))).all()
            return [row for row in rows if (as_utc(row.until) or now) > now]

    async def purge(self, now: datetime) -> int:
        """Forgets deliveries and storms older than KEEP_EVENTS; returns how many rows went. In transactions of
        PURGE_CHUNK rows: a day's storm is 100,000 rows, and the intake's batches and the users' writes go between."""
        cutoff, removed = now - KEEP_EVENTS, 0
        for table, moment in ((AlertEvent, AlertEvent.received_at), (AlertStorm, AlertStorm.last_at)):
            while True:
                went = await self.db.run(self._purge_chunk, table, moment, cutoff)
                removed += went
                if went < PURGE_CHUNK:
                    break
        return removed

    def _purge_chunk(self, table: Any, moment: Any, cutoff: datetime) -> int:
        with self.db.session() as session:
            oldest = select(table.id).where(col(moment) < cutoff).order_by(col(table.id)).limit(PURGE_CHUNK)
            went = session.exec(delete(table).where(col(table.id).in_(oldest.scalar_subquery())))
            session.commit()
            return went.rowcount or 0

    @off_loop
    def set_storm_message(self, storm_id: int, channel_id: str, message_ts: str) -> None:
        with self.db.session() as session:
            session.exec(update(AlertStorm).where(col(AlertStorm.id) == storm_id)
                         .values(channel_id=channel_id, message_ts=message_ts, posting_at=None))
            session.commit()

    @off_loop
    def take_over_storm(self, storm_id: int, now: datetime) -> bool:
        """Whether this process is now the one to post the storm's summary (`_unposted_and_free`)."""
        with self.db.session() as session:
            taken = session.exec(update(AlertStorm).where(col(AlertStorm.id) == storm_id, *_unposted_and_free(now))
                                 .values(posting_at=now).execution_options(synchronize_session=False))
            session.commit()
            return bool(taken.rowcount)

    @off_loop
    def unposted_storms(self, now: datetime) -> list[UnpostedStorm]:
        """Storms of the last SWEPT_SUMMARIES that `take_over_storm` would take (`_unposted_and_free`), no delivery
        of theirs having come since."""
        with self.db.session() as session:
            setting = session.get(AlertSetting, CHANNEL_SETTING)
            if setting is None:
                return []
            storms = session.exec(select(AlertStorm.id).where(col(AlertStorm.last_at) > now - SWEPT_SUMMARIES,
                                                              *_unposted_and_free(now))).all()
            found = []
            for storm_id in storms:
                first = session.exec(select(AlertEvent.rule, AlertEvent.limit_mib)
                                     .where(col(AlertEvent.storm_id) == storm_id).limit(1)).first()
                if first is not None:
                    found.append(UnpostedStorm(storm_id or 0, first[0], first[1], setting.value))
            return found

    @off_loop
    def give_back_storm(self, storm_id: int, now: datetime) -> None:
        """The summary's post failed: the storm's next delivery POST_AGAIN_AFTER from now takes it over."""
        with self.db.session() as session:
            session.exec(update(AlertStorm).where(col(AlertStorm.id) == storm_id, col(AlertStorm.message_ts).is_(None))
                         .values(posting_at=now - POSTER_PATIENCE + POST_AGAIN_AFTER))
            session.commit()

    @off_loop
    def storm_message(self, storm_id: int) -> tuple[str, str] | None:
        """Where the storm's summary was posted (channel, ts); None while it is being posted."""
        with self.db.session() as session:
            storm = session.get(AlertStorm, storm_id)
            if storm is None or storm.channel_id is None or storm.message_ts is None:
                return None
            return storm.channel_id, storm.message_ts

    @off_loop
    def storm_imsis(self, storm_id: int) -> list[str]:
        with self.db.session() as session:
            rows = session.exec(select(AlertEvent.imsi).where(AlertEvent.storm_id == storm_id)
                                .order_by(col(AlertEvent.id))).all()
            return list(dict.fromkeys(rows))

    @off_loop
    def storm_count(self, storm_id: int) -> int:
        with self.db.session() as session:
            return session.exec(select(func.count(func.distinct(AlertEvent.imsi))).where(
                AlertEvent.storm_id == storm_id)).one()
