"""The emulator's state: plain dicts in the API's shape that tests read and change directly."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sortedcontainers import SortedDict

from bot.emulator import seed
from bot.emulator.faults import Faults

Clock = Callable[[], datetime]


@dataclass
class OperatorData:
    """What one operator (its root user and its SAM users) sees; no call reaches another operator's data."""

    # Kept in IMSI order (a SortedDict; see sorted_subscribers): listSubscribers pages by IMSI, and a page after a
    # last_evaluated_key is found by bisection, not by sorting the whole fleet on every call.
    subscribers: dict[str, dict[str, Any]] = field(default_factory=lambda: SortedDict())  # type: ignore[arg-type,return-value]
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    quotation_created_at: dict[str, datetime] = field(default_factory=dict)
    shipping_addresses: dict[str, dict[str, Any]] = field(default_factory=dict)
    payer_information: dict[str, Any] | None = None
    bills: dict[str, dict[str, Any]] = field(default_factory=dict)
    # yyyyMM → the whole month's expected amount, for the month still running (its bill grows day by day)
    month_estimates: dict[str, int] = field(default_factory=dict)
    billing_imsis: list[str] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)  # file name (without .csv) or exportedFileId → yyyyMM
    air_stats: dict[str, dict[int, dict[str, dict[str, int]]]] = field(default_factory=dict)  # imsi → t → class
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_handlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (handlerId, imsi) → the period (day, month) a traffic rule last fired in: once per SIM and period
    event_handler_fired: dict[tuple[str, str], str] = field(default_factory=dict)
    port_mappings: dict[str, dict[str, Any]] = field(default_factory=dict)  # "ipAddress:port" → PortMapping

    def sorted_subscribers(self) -> SortedDict[str, dict[str, Any]]:
        """The subscribers in IMSI order, made so once if a plain dict was assigned or loaded."""
        held: Any = self.subscribers
        if not isinstance(held, SortedDict):
            held = self.subscribers = SortedDict(held)
        return held


def _demo_field(name: str) -> property:
    """state.<name> is the demo operator's, as before data was kept per operator (tests read it directly)."""
    return property(lambda self: getattr(self.demo, name), lambda self, value: setattr(self.demo, name, value))


@dataclass(frozen=True)
class Identity:
    """Who called: the root user of an operator, or one of its SAM users."""

    operator_id: str
    user_name: str | None = None

    @property
    def is_root(self) -> bool:
        return self.user_name is None

    def __str__(self) -> str:
        return self.operator_id if self.is_root else f"{self.operator_id}/{self.user_name}"


@dataclass
class Session:
    api_key: str
    token: str
    identity: Identity
    issued_at: datetime
    timeout_seconds: int

    def expired(self, now: datetime, lifetime_override: float | None) -> bool:
        lifetime = self.timeout_seconds if lifetime_override is None else lifetime_override
        return now >= self.issued_at + timedelta(seconds=lifetime)


SECRET_FIELDS = frozenset({"authKey", "password", "mfaOTPCode", "token", "X-Soracom-Bot-Token"})


def _masked(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: "***" if k in SECRET_FIELDS and v else _masked(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_masked(item) for item in body]
    return body


@dataclass
class RecordedRequest:
    """One API request. `path` is the URL path as sent, with the /v1 prefix."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int
    operation_id: str | None
    identity: Identity | None
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_json(self) -> dict[str, Any]:
        """For the control API: secrets in bodies (authKey, password, …) are masked."""
        return {"method": self.method, "path": self.path, "query": self.query, "json": _masked(self.json),
                "status": self.status, "operationId": self.operation_id,
                "identity": str(self.identity) if self.identity else None, "at": self.at.isoformat()}


class EmulatorState:
    """Seeded demo data, sessions, fault knobs and the request log of one emulator.

    `now` is an optional callable returning a timezone-aware datetime; `advance()` moves the clock on top of it.
    Data is kept per operator (`data[operator_id]`); `subscribers`, `groups`, … are the demo operator's.
    """

    subscribers = _demo_field("subscribers")
    groups = _demo_field("groups")
    orders = _demo_field("orders")
    quotation_created_at = _demo_field("quotation_created_at")
    shipping_addresses = _demo_field("shipping_addresses")
    payer_information = _demo_field("payer_information")
    bills = _demo_field("bills")
    month_estimates = _demo_field("month_estimates")
    billing_imsis = _demo_field("billing_imsis")
    exports = _demo_field("exports")
    air_stats = _demo_field("air_stats")
    users = _demo_field("users")
    event_handlers = _demo_field("event_handlers")

    def __init__(self, now: Clock | None = None, seed_value: int = 0) -> None:
        self._clock = now
        self._seed_value = seed_value
        self.clock_offset = timedelta(0)
        self.faults = Faults(seed=seed_value)
        self.requests: list[RecordedRequest] = []
        # Event Handler web requests: where they go (None: plain httpx) and what was sent, with its answer.
        self.web_transport: Any = None
        self.web_requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_concurrency = 0
        self.reset()

    def reset(self) -> None:
        """Back to the seed: data, sessions, fault knobs and the request log (the clock keeps its offset)."""
        self.rng = random.Random(self._seed_value)
        self.operators: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, Session] = {}
        self.data: dict[str, OperatorData] = {seed.DEMO_OPERATOR_ID: OperatorData()}
        self.products: dict[str, dict[str, Any]] = {}
        self.operator_mfa: dict[str, dict[str, Any]] = {}
        self.password_reset_tokens: dict[str, str] = {}  # email → token
        self.password_reset_expiry: dict[str, datetime] = {}  # token → expiry
        self.signup_tokens: dict[str, str] = {}  # email → token
        self.devices: dict[str, Any] = {}  # imsi → devices.Device: the device behind each SIM
        self.diagnostics: dict[str, dict[str, Any]] = {}  # diagnosticId → SORACOM's diagnosis of a SIM
        self.diagnosis_polls = 1  # getDiagnostic answers `diagnosing` this many times before `done`
        self.faults.clear()
        self.requests.clear()
        self.web_requests.clear()
        self.in_flight = 0
        self.peak_concurrency = 0
        seed.populate(self)

    @property
    def demo(self) -> OperatorData:
        return self.data[seed.DEMO_OPERATOR_ID]

    def data_of(self, operator_id: str) -> OperatorData:
        """The data of an operator, empty until something is added (a sandbox operator starts so)."""
        return self.data.setdefault(operator_id, OperatorData())

    def all_subscribers(self) -> list[dict[str, Any]]:
        return [sub for data in self.data.values() for sub in data.subscribers.values()]

    # Clock

    def now(self) -> datetime:
        base = self._clock() if self._clock else datetime.now(timezone.utc)
        return base + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def advance(self, seconds: float) -> None:
        self.clock_offset += timedelta(seconds=seconds)

    # Identifiers

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    # Helpers for tests and benchmarks

    def add_subscribers(self, n: int, **fields: Any) -> list[dict[str, Any]]:
        """Creates n SIMs of fields["operatorId"] (the demo operator by default) after the highest IMSI of any
        operator (name tags "bulk-0001"…); fields override any key."""
        start = max((int(sub["imsi"][len(seed.SEED_IMSI_PREFIX):]) for sub in self.all_subscribers()), default=0) + 1
        created_at = self.now_ms()
        subscription = fields.pop("subscription", "plan01s")
        tags = fields.pop("tags", None)
        operator_id = fields.pop("operatorId", seed.DEMO_OPERATOR_ID)
        subscribers = self.data_of(operator_id).subscribers
        added = []
        for number in range(start, start + n):
            sub = seed.new_subscriber(number, operator_id=operator_id,
                                      created_at=created_at, subscription=subscription,
                                      name=f"bulk-{number - start + 1:04d}", **fields)
            if tags is not None:
                sub["tags"] = dict(tags)
            subscribers[sub["imsi"]] = sub
            added.append(sub)
        return added

    def add_user(self, user_name: str, *, permission: str | None = None, password: str | None = None,
                 description: str = "", operator_id: str = seed.DEMO_OPERATOR_ID) -> dict[str, Any]:
        """A SAM user (of the demo operator by default). permission is SORACOM's JSON string; None allows nothing."""
        moment = int(self.now().timestamp())
        user: dict[str, Any] = {"userName": user_name, "description": description, "permission": permission,
                                "password": password, "authKeys": {},
                                "createDateTime": moment, "updateDateTime": moment}
        self.data_of(operator_id).users[user_name] = user
        return user

    def add_user_auth_key(self, user_name: str, operator_id: str = seed.DEMO_OPERATOR_ID) -> tuple[str, str]:
        key_id = f"keyId-{self.new_hex(32)}"
        secret = f"secret-{secrets.token_urlsafe(48)}"
        self.data_of(operator_id).users[user_name]["authKeys"][key_id] = {
            "authKey": secret, "createDateTime": int(self.now().timestamp()), "lastUsedDateTime": None}
        return key_id, secret

    def open_session(self, identity: Identity, timeout_seconds: int) -> Session:
        session = Session(api_key=f"api-{uuid.uuid4()}", token=secrets.token_urlsafe(96), identity=identity,
                          issued_at=self.now(), timeout_seconds=timeout_seconds)
        self.sessions[session.token] = session
        return session

    def operator_by_email(self, email: str) -> dict[str, Any] | None:
        return next((op for op in self.operators.values() if op["email"] == email), None)

    def record(self, request: RecordedRequest) -> None:
        self.requests.append(request)
