"""The bot's configuration: exactly the names of the contract's configuration table, plus a few extras."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

COVERAGE_ENDPOINTS = {"jp": "https://api.soracom.io", "g": "https://g.api.soracom.io"}


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line meant for the person starting the bot."""


def _check_url(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1].strip("/")) == 0:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    SLACK_API_URL: str = "https://slack.com/api/"

    SORACOM_AUTH_KEY_ID: str | None = None
    SORACOM_AUTH_KEY: str | None = None
    SORACOM_EMAIL: str | None = None
    SORACOM_PASSWORD: str | None = None
    SORACOM_OPERATOR_ID: str | None = None
    SORACOM_USER_NAME: str | None = None
    SORACOM_COVERAGE: Literal["jp", "g"] = "jp"
    SORACOM_ENDPOINT: str | None = None
    SORACOM_LANG: Literal["en", "ja"] = "en"

    DATABASE_URL: str = "sqlite:///data/bot.db"
    HOST: str = "0.0.0.0"
    PORT: int = 3000
    BOT_PUBLIC_URL: str | None = None
    BOT_ADMINS: str = ""
    BOT_SECRET_KEY: str | None = None
    BOT_TIMEZONE: str = "Asia/Tokyo"
    BOT_LANG: Literal["en", "ja"] = "en"
    BOT_DATA_DIR: str = "data"
    BILL_SUMMARY_CHANNEL: str | None = None
    BILL_SUMMARY_CRON: str = "0 9 4 * *"
    # How long a confirmed action's worker may be silent before another takes it over (its process died). At least
    # the SORACOM client's request timeout (30 s), so that whatever the dead worker had in flight has ended.
    BOT_JOB_LEASE_SECONDS: float = Field(default=30.0, ge=1.0, le=600.0)
    # How long serve's process keeps an acked command for a worker that is down or hung before telling its user
    # "nothing was done; try again" (the worker then refuses the late copy), and how many it keeps at most.
    BOT_RELAY_PATIENCE_SECONDS: float = Field(default=10.0, ge=1.0, le=1800.0)
    BOT_RELAY_MAX_WAITING: int = Field(default=5000, ge=1, le=100_000)
    # The secret SORACOM Event Handler calls to POST /soracom/events carry; unset, that endpoint is off.
    BOT_EVENTS_TOKEN: str | None = Field(default=None, repr=False)
    # More alert cards than this in a minute for one rule become one summary card.
    BOT_ALERT_STORM_PER_MINUTE: int = Field(default=10, ge=1, le=1000)
    # A storm's summary card is edited at most once in this many seconds (Slack rate-limits chat.update).
    BOT_ALERT_STORM_UPDATE_SECONDS: float = Field(default=2.0, ge=0.0, le=60.0)
    # The longest remote access (SORACOM Napter) a user may open, and the ranges it allows when `from` is not given.
    BOT_REMOTE_MAX: str = "1h"
    BOT_REMOTE_SOURCES: str = ""

    @field_validator("SORACOM_COVERAGE", mode="before")
    @classmethod
    def _coverage(cls, value: str) -> str:
        value = (value or "jp").strip().lower()
        if value not in COVERAGE_ENDPOINTS:
            raise ValueError(f"SORACOM_COVERAGE must be 'jp' or 'g', got {value!r}")
        return value

    @field_validator("SORACOM_ENDPOINT")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        value = _check_url("SORACOM_ENDPOINT", value)
        if value is None:
            return None
        value = value.rstrip("/")
        if value.endswith("/v1"):
            raise ValueError("SORACOM_ENDPOINT is the base URL without /v1, e.g. https://api-sandbox.soracom.io")
        return value

    @field_validator("SLACK_API_URL")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        value = _check_url("SLACK_API_URL", value) or "https://slack.com/api/"
        return value if value.endswith("/") else value + "/"

    @field_validator("BOT_PUBLIC_URL")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        value = _check_url("BOT_PUBLIC_URL", value)
        return value.rstrip("/") if value else None

    @field_validator("BOT_TIMEZONE")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"BOT_TIMEZONE must be an IANA time zone such as Asia/Tokyo, got {value!r}") from None
        return value

    @field_validator("BILL_SUMMARY_CRON")
    @classmethod
    def _cron(cls, value: str) -> str:
        check_cron(value)
        return value

    @field_validator("BOT_REMOTE_MAX")
    @classmethod
    def _remote_max(cls, value: str) -> str:
        span = parse_span(value)
        if span > REMOTE_LIMIT:
            raise ValueError(f"BOT_REMOTE_MAX is at most 8h (SORACOM's limit), got {value!r}")
        return value

    @field_validator("BOT_REMOTE_SOURCES")
    @classmethod
    def _remote_sources(cls, value: str) -> str:
        parse_sources(value)
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError(f"DATABASE_URL must be a sqlite:// or postgresql:// URL, got {value.split(':', 1)[0]}://…")
        return value

    @model_validator(mode="after")
    def _credentials_complete(self) -> "Settings":
        """A credential group that is started must be complete: a typo must not turn production into the sandbox."""
        missing = missing_credential(self)
        if missing:
            raise ValueError(missing)
        return self

    # Derived values

    @property
    def soracom_endpoint(self) -> str:
        return self.SORACOM_ENDPOINT or COVERAGE_ENDPOINTS[self.SORACOM_COVERAGE]

    @property
    def uses_emulator(self) -> bool:
        """No SORACOM credential variable set at all: the bot runs against the embedded emulator."""
        return not any(getattr(self, name) for name in SORACOM_CREDENTIAL_NAMES)

    @property
    def public_url(self) -> str:
        return self.BOT_PUBLIC_URL or f"http://localhost:{self.PORT}"

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.BOT_ADMINS.split(",") if a.strip())

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.BOT_TIMEZONE)

    @property
    def data_dir(self) -> Path:
        return Path(self.BOT_DATA_DIR)

    @property
    def remote_max(self) -> timedelta:
        return parse_span(self.BOT_REMOTE_MAX)

    @property
    def remote_sources(self) -> tuple[ipaddress.IPv4Network, ...]:
        return parse_sources(self.BOT_REMOTE_SOURCES)


REMOTE_LIMIT = timedelta(hours=8)  # SORACOM Napter's longest remote access
_SPAN = re.compile(r"^(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_span(text: str) -> timedelta:
    """`30m`, `2h`, `90s`, `1h30m`: a positive duration; ValueError naming the grammar otherwise."""
    match = _SPAN.match(text.strip().lower())
    if not match or not any(match.groups()):
        raise ValueError(f"a duration is written like 30m, 2h, 90s or 1h30m, got {text!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    span = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if span <= timedelta(0):
        raise ValueError(f"a duration must be longer than zero, got {text!r}")
    return span


def parse_source(text: str) -> ipaddress.IPv4Network:
    """An IPv4 CIDR (`203.0.113.0/24`) or one address (`203.0.113.7`, i.e. /32); ValueError saying what to write."""
    try:
        return ipaddress.IPv4Network(text.strip(), strict=True)
    except ipaddress.NetmaskValueError:
        raise ValueError(f"{text!r} is not a CIDR") from None
    except ValueError:
        try:
            network = ipaddress.IPv4Network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not an IPv4 address or CIDR such as 203.0.113.0/24") from None
        raise ValueError(f"{text!r} has host bits set: the range is {network}") from None


def parse_sources(text: str) -> tuple[ipaddress.IPv4Network, ...]:
    """Comma-separated CIDRs (BOT_REMOTE_SOURCES); empty gives none."""
    return tuple(parse_source(part) for part in text.split(",") if part.strip())


SORACOM_CREDENTIAL_NAMES = ("SORACOM_AUTH_KEY_ID", "SORACOM_AUTH_KEY", "SORACOM_EMAIL", "SORACOM_PASSWORD",
                            "SORACOM_OPERATOR_ID", "SORACOM_USER_NAME")
SAM_USER = ("SORACOM_OPERATOR_ID", "SORACOM_USER_NAME", "SORACOM_PASSWORD")


def missing_credential(settings: Settings) -> str | None:
    """One line naming what an incomplete credential group lacks; None when every started group is complete."""
    given = {name for name in SORACOM_CREDENTIAL_NAMES if getattr(settings, name)}
    groups: list[tuple[str, ...]] = [("SORACOM_AUTH_KEY_ID", "SORACOM_AUTH_KEY")]
    if "SORACOM_EMAIL" in given:
        groups.append(("SORACOM_EMAIL", "SORACOM_PASSWORD"))
    if given & {"SORACOM_OPERATOR_ID", "SORACOM_USER_NAME"}:
        groups.append(SAM_USER)
    for group in groups:
        started = [name for name in group if name in given]
        lacking = [name for name in group if name not in given]
        if started and lacking:
            return (f"{' and '.join(started)} {'is' if len(started) == 1 else 'are'} set but {' and '.join(lacking)} "
                    f"{'is' if len(lacking) == 1 else 'are'} not: set {' and '.join(lacking)}, or unset every "
                    "SORACOM_ credential to run on the embedded emulator (sandbox)")
    if given == {"SORACOM_PASSWORD"}:
        return ("SORACOM_PASSWORD is set but SORACOM_EMAIL (or SORACOM_OPERATOR_ID and SORACOM_USER_NAME) is not: "
                "set the user it belongs to, or unset it to run on the embedded emulator (sandbox)")
    return None


def check_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A 5-field crontab as APScheduler reads it; ValueError with a plain message otherwise."""
    if len(expression.split()) != 5:
        raise ValueError(f"a cron expression has 5 fields (minute hour day month weekday), got {expression!r}")
    try:
        return CronTrigger.from_crontab(expression, timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"bad cron expression {expression!r}: {exc}") from None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and .env; ConfigError with one clear line when a value is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "configuration"
        message = first.get("msg", "invalid value").removeprefix("Value error, ")
        raise ConfigError(f"configuration error in {name}: {message}" if name != "configuration" else message) from None
