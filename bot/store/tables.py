"""The bot's own state: roles, audit, MFA, pending actions, schedule claims."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _when(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"
    slack_user_id: str = Field(primary_key=True, max_length=32)
    role: str = Field(max_length=16)
    granted_by: str = Field(max_length=32)
    granted_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_when())
    slack_user_id: str = Field(max_length=32, index=True)
    team_id: str | None = Field(default=None, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    # Whole, however long: a reply cut to Slack's limits keeps its full text here.
    command: str = Field(sa_column=Column(Text, nullable=False))
    action: str = Field(max_length=64, index=True)
    target: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    result: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Given when the row is made: a row written again (a retry after a commit whose answer was lost, the outbox
    # flushed twice) is the same row, and the second write does nothing.
    record_key: str | None = Field(default=None, max_length=32, unique=True, index=True)
    # An intent: written `started` before a SORACOM write, by `owner` (a worker_id), ended by the same row. Set
    # while it is open, so the sweeper finds the open ones by index; a process that dies leaves it to be read back.
    owner: str | None = Field(default=None, max_length=64, index=True)
    job_id: str | None = Field(default=None, max_length=32)  # a job's intents are the job's takeover's to end
    readback_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WorkerBeat(SQLModel, table=True):
    """Each process that writes intents says it is alive here, every few seconds: an open intent of a process
    silent for longer than a lease was left by a process that died."""

    __tablename__ = "worker_beat"
    worker_id: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(sa_column=_when())


class MfaEnrollment(SQLModel, table=True):
    __tablename__ = "mfa_enrollment"
    slack_user_id: str = Field(primary_key=True, max_length=32)
    secret_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    confirmed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    locked_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    # Too many wrong codes in a day (RFC 4226 §7.3): locked until an admin resets the enrollment.
    blocked_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class MfaUsedCode(SQLModel, table=True):
    """(user, time step) of every accepted code: RFC 6238 §5.2, one use per code."""

    __tablename__ = "mfa_used_code"
    slack_user_id: str = Field(primary_key=True, max_length=32)
    time_step: int = Field(primary_key=True)
    used_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class MfaFailure(SQLModel, table=True):
    __tablename__ = "mfa_failure"
    id: int | None = Field(default=None, primary_key=True)
    slack_user_id: str = Field(max_length=32, index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_when())


class MfaEnrollToken(SQLModel, table=True):
    """A one-time link to the enrollment page (QR code); single use, short-lived."""

    __tablename__ = "mfa_enroll_token"
    token_hash: str = Field(primary_key=True, max_length=64)
    slack_user_id: str = Field(max_length=32)
    expires_at: datetime = Field(sa_column=_when())
    used: bool = False


class PendingAction(SQLModel, table=True):
    """A confirmed-later action: runs once, when its owner confirms (and gives a code, where gated)."""

    __tablename__ = "pending_action"
    id: str = Field(primary_key=True, max_length=32)
    slack_user_id: str = Field(max_length=32, index=True)
    team_id: str | None = Field(default=None, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=64)
    args_json: str = Field(sa_column=Column(Text, nullable=False))
    command: str = Field(default="", max_length=200)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    requires_code: bool = False
    state: str = Field(default="pending", max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    expires_at: datetime = Field(sa_column=_when())
    finished_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    result_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Once confirmed it is a job: the worker holding the lease runs it, and another takes over when the lease lapses.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    attempts: int = 0
    view_id: str | None = Field(default=None, max_length=32)  # the code modal that waits for the outcome
    message_ts: str | None = Field(default=None, max_length=32)  # the channel message that shows progress


class JobItem(SQLModel, table=True):
    """One SIM (or other item) of a job: written before the first SORACOM call, ended with its audit row."""

    __tablename__ = "job_item"
    job_id: str = Field(primary_key=True, max_length=32)
    item: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200)
    state: str = Field(default="todo", max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class ScheduleSetting(SQLModel, table=True):
    """An admin's override of the bill summary schedule; survives restarts."""

    __tablename__ = "schedule_setting"
    name: str = Field(primary_key=True, max_length=64)
    channel_id: str | None = Field(default=None, max_length=32)
    cron: str | None = Field(default=None, max_length=100)
    enabled: bool = True
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class ScheduleClaim(SQLModel, table=True):
    """Taken before a scheduled post; the unique key makes the post happen once per (job, period, channel)."""

    __tablename__ = "schedule_claim"
    __table_args__ = (UniqueConstraint("job", "period", "channel_id", name="uq_schedule_claim"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    period: str = Field(max_length=16)
    channel_id: str = Field(max_length=32)
    owner: str = Field(max_length=64)
    state: str = Field(default="claimed", max_length=16)
    claimed_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    posted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SeenRequest(SQLModel, table=True):
    """A signed Slack request (or an Events API event_id) already taken, kept while a copy could still verify.

    The primary key is the atomic check: a second bot process inserting the same key gets a conflict."""

    __tablename__ = "seen_request"
    key: str = Field(primary_key=True, max_length=128)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    # A command or press a worker took after serve's process had acked it: `owner` (its worker_id) until the
    # listener ends. One left by a worker that died was acked and may never have run: its user is told.
    owner: str | None = Field(default=None, max_length=64, index=True)
    user_id: str | None = Field(default=None, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    command: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AlertSetting(SQLModel, table=True):
    """Alert settings an admin chose in Slack (the alert channel); survive restarts."""

    __tablename__ = "alert_setting"
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class BudgetSetting(SQLModel, table=True):
    """The monthly budget the month-end forecast is checked against, and where its warnings go; one row."""

    __tablename__ = "budget_setting"
    name: str = Field(primary_key=True, max_length=64)
    amount: float
    channel_id: str = Field(max_length=32)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class AlertEvent(SQLModel, table=True):
    """One Event Handler delivery; the unique key makes a repeated delivery a no-op on every replica."""

    __tablename__ = "alert_event"
    # A storm is counted per rule over the last minute; the purge and Home read by age.
    __table_args__ = (Index("ix_alert_event_rule_received_at", "rule", "received_at"),
                      Index("ix_alert_event_received_at", "received_at"))
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    alert: str = Field(max_length=100, index=True)
    rule: str = Field(max_length=32)
    imsi: str = Field(max_length=32)
    limit_mib: int | None = None  # a traffic rule's limit: a storm folds one rule's deliveries of one limit
    received_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    state: str = Field(default="new", max_length=16)  # new, carded, folded, muted, unrouted, failed
    storm_id: int | None = Field(default=None, index=True)
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    detail_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class AlertStorm(SQLModel, table=True):
    """Events of one rule and limit folded into one summary card; unique per rule, limit and starting minute. `alert`
    holds the rule and its limit (bot.services.alert_intake.storm_key): storms fold per rule, whatever group each
    alert watches, and apart per limit (a summary says which limit its SIMs crossed)."""

    __tablename__ = "alert_storm"
    __table_args__ = (UniqueConstraint("alert", "minute", name="uq_alert_storm"),)
    id: int | None = Field(default=None, primary_key=True)
    alert: str = Field(max_length=100)
    minute: str = Field(max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    last_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    # When a process took on posting the summary (the storm's first, or one taking over from a process that died
    # or whose post Slack refused); None once posted.
    posting_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class AlertMute(SQLModel, table=True):
    """A SIM (imsi:…) or a rule (rule:…) whose alerts post nothing until `until`."""

    __tablename__ = "alert_mute"
    target: str = Field(primary_key=True, max_length=100)
    until: datetime = Field(sa_column=_when())
    muted_by: str = Field(max_length=32)
    muted_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class FleetSnapshot(SQLModel, table=True):
    """The fleet as last read from SORACOM (with this month's bill figures), and the lease of its refresh: one
    row, so one refresh at a time across replicas."""

    __tablename__ = "fleet_snapshot"
    name: str = Field(primary_key=True, max_length=32)
    refreshed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    generation: str | None = Field(default=None, max_length=32)  # the refresh whose SIM rows are current
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    sim_count: int = 0
    bill_month: str | None = Field(default=None, max_length=6)
    bill_currency: str | None = Field(default=None, max_length=8)
    bill_amount: float | None = None
    bill_forecast: float | None = None
    bill_last_month: float | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The snapshot's counts (by status, online, traffic read), summed once when its refresh made it current.
    figures_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class FleetSim(SQLModel, table=True):
    """One SIM of one snapshot generation. A refresh writes its own generation beside the current one, page by page,
    and makes it current in one transaction: readers see the whole previous snapshot until then, and a refresh that
    fails leaves it whole. Traffic is read for a bounded number of SIMs per refresh, oldest reading first; a new
    generation carries the readings over."""

    __tablename__ = "fleet_sim"
    __table_args__ = (
        Index("ix_fleet_sim_name", "generation", "name"),  # `tag:name=…`
        Index("ix_fleet_sim_status", "generation", "status", "imsi"),  # `status:` pages
        Index("ix_fleet_sim_group", "generation", "group_id", "status", "imsi"),  # `group:` counts and pages
        Index("ix_fleet_sim_seen", "generation", "last_seen_at"),  # seen lately, went offline lately
        Index("ix_fleet_sim_traffic", "generation", "traffic_month", "traffic_bytes",  # top traffic: the SIMs
              sqlite_where=text("traffic_bytes IS NOT NULL"),  # whose traffic was read, not the whole fleet
              postgresql_where=text("traffic_bytes IS NOT NULL")),
    )
    generation: str = Field(primary_key=True, max_length=32)
    imsi: str = Field(primary_key=True, max_length=32)
    sim_id: str | None = Field(default=None, max_length=32, index=True)  # how the billing API names the SIM
    name: str = Field(default="", max_length=200)
    status: str = Field(default="unknown", max_length=16)
    online: bool | None = None
    last_seen_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    group_id: str | None = Field(default=None, max_length=64)
    speed_class: str = Field(default="", max_length=32)
    tags_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
    traffic_month: str | None = Field(default=None, max_length=6)
    traffic_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    traffic_read_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class FleetSimTag(SQLModel, table=True):
    """The tags of a snapshot's SIMs but their name (FleetSim.name), one row each, so `/sim list tag:KEY=VALUE` is an
    index lookup. Keys and values longer than the columns are left out (a selector naming one is read from SORACOM
    instead)."""

    __tablename__ = "fleet_sim_tag"
    __table_args__ = (Index("ix_fleet_sim_tag_value", "generation", "key", "value", "imsi"),)
    generation: str = Field(primary_key=True, max_length=32)
    imsi: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=200)
    value: str = Field(max_length=200)


class RemoteAccess(SQLModel, table=True):
    """A Napter remote access the bot opened, from before the SORACOM call until it is closed and its opener told.

    `state`: opening (the call may or may not have been made), open, closing (claimed under a lease), closed or
    expired (done at SORACOM; `told_at` None until the channel notice is edited and the opener told), failed. The
    endpoint itself is never stored: `mapping_key` is a keyed hash of it, enough to find it again at SORACOM.
    """

    __tablename__ = "remote_access"
    id: str = Field(primary_key=True, max_length=32)
    job_id: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    imsi: str = Field(max_length=32, index=True)
    sim_name: str = Field(default="", max_length=200)
    device_port: int
    sources: str = Field(sa_column=Column(Text, nullable=False))  # comma-separated CIDRs
    tls: bool = False
    opened_by: str = Field(max_length=32, index=True)
    team_id: str | None = Field(default=None, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    state: str = Field(default="opening", max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    opened_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    mapping_key: str | None = Field(default=None, max_length=64)
    message_ts: str | None = Field(default=None, max_length=32)  # the channel notice
    closed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    closed_by: str | None = Field(default=None, max_length=32)  # None with state expired: the clock closed it
    told_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    attempts: int = 0
