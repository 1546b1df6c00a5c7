"""Fault knobs, mutable at runtime: latency, random 500s, rate limits, token lifetime, concurrency cap,
scripted failures."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RateLimit:
    path_prefix: str
    limit: int
    per_seconds: float = 1.0
    method: str | None = None
    window_start: float = 0.0
    used: int = 0

    def applies(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and (self.method is None or self.method == method)

    def take(self, now: float) -> "RateDecision":
        """Counts one request in a fixed window; over the limit the request is refused and not counted."""
        if now - self.window_start >= self.per_seconds:
            self.window_start, self.used = now, 0
        allowed = self.used < self.limit
        if allowed:
            self.used += 1
        refresh = max(0.0, self.window_start + self.per_seconds - now)
        return RateDecision(allowed, self.limit, self.limit - self.used, math.ceil(refresh))


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    seconds_before_refresh: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Soracom-Ratelimit-Limit": str(self.limit),
            "X-Soracom-Ratelimit-Remaining": str(self.remaining),
            "X-Soracom-Ratelimit-Seconds-Before-Refresh": str(self.seconds_before_refresh),
        }


@dataclass
class ScriptedFailure:
    method: str | None
    path_regex: str
    status: int = 500
    times: int = 1
    body: Any = None  # dict/list → JSON; str/bytes → sent as is (for error-parsing tests); None → default error
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and re.search(self.path_regex, path) is not None


@dataclass
class ScriptedDelay:
    """The next `times` matching requests wait `seconds` before they are handled: a write in flight, for crash tests."""

    method: str | None
    path_regex: str
    seconds: float
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and re.search(self.path_regex, path) is not None


@dataclass
class Faults:
    latency: float = 0.0
    error_rate: float = 0.0
    token_lifetime: float | None = None  # seconds; overrides every token's tokenTimeoutSeconds while set
    max_concurrency: int | None = None
    concurrency_status: int = 429
    seed: int = 0
    rate_limits: list[RateLimit] = field(default_factory=list)
    scripted: list[ScriptedFailure] = field(default_factory=list)
    delays: list[ScriptedDelay] = field(default_factory=list)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._random = random.Random(seed)

    def rate_limit(self, path_prefix: str, limit: int, per_seconds: float = 1.0,
                   method: str | None = None) -> RateLimit:
        """Limits requests whose path (with /v1) starts with path_prefix; beyond it the emulator answers 429."""
        rule = RateLimit(path_prefix, limit, per_seconds, method.upper() if method else None, window_start=-math.inf)
        self.rate_limits.append(rule)
        return rule

    def fail_next(self, method: str | None, path_regex: str, status: int = 500, times: int = 1, body: Any = None,
                  headers: dict[str, str] | None = None) -> ScriptedFailure:
        """The next `times` requests matching method (None: any) and path_regex (searched in the path with /v1)
        fail."""
        failure = ScriptedFailure(method, path_regex, status, times, body, dict(headers or {}))
        self.scripted.append(failure)
        return failure

    def delay_next(self, method: str | None, path_regex: str, seconds: float, times: int = 1) -> ScriptedDelay:
        delay = ScriptedDelay(method, path_regex, seconds, times)
        self.delays.append(delay)
        return delay

    def take_delay(self, method: str, path: str) -> float:
        for delay in self.delays:
            if delay.times > 0 and delay.matches(method, path):
                delay.times -= 1
                if delay.times == 0:
                    self.delays.remove(delay)
                return delay.seconds
        return 0.0

    def take_scripted(self, method: str, path: str) -> ScriptedFailure | None:
        for failure in self.scripted:
            if failure.times > 0 and failure.matches(method, path):
                failure.times -= 1
                if failure.times == 0:
                    self.scripted.remove(failure)
                return failure
        return None

    def check_rate_limits(self, method: str, path: str, now: float) -> RateDecision | None:
        """The decision of the first matching rule, or None when no rule applies."""
        for rule in self.rate_limits:
            if rule.applies(method, path):
                return rule.take(now)
        return None

    def random_error(self) -> bool:
        return self.error_rate > 0 and self._random.random() < self.error_rate

    def clear(self) -> None:
        self.latency = 0.0
        self.error_rate = 0.0
        self.token_lifetime = None
        self.max_concurrency = None
        self.concurrency_status = 429
        self.rate_limits.clear()
        self.scripted.clear()
        self.reseed(self.seed)
        self.delays.clear()

    def summary(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "error_rate": self.error_rate,
            "token_lifetime": self.token_lifetime,
            "max_concurrency": self.max_concurrency,
            "concurrency_status": self.concurrency_status,
            "seed": self.seed,
            "rate_limits": [
                {"path_prefix": r.path_prefix, "limit": r.limit, "per_seconds": r.per_seconds, "method": r.method}
                for r in self.rate_limits
            ],
            "scripted": [
                {"method": s.method, "path_regex": s.path_regex, "status": s.status, "times": s.times}
                for s in self.scripted
            ],
        }
