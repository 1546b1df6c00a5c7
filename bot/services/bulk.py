"""Running one piece of work over many items with bounded concurrency, progress reports and per-item reasons.

Concurrency adapts to rate limits: when a call still answers 429 after the client's own waits
(`RateLimited`), the runner halves how many calls run at once, pauses every worker for the wait the API
asked for, and tries that item again; each round of successes (as many as the current limit) then lets
one more call run, up to the bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.services.errors import service
from bot.soracom import RateLimited

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
PROGRESS_INTERVAL = 0.5  # seconds between progress reports, whatever the pace of the work
RATE_LIMIT_ATTEMPTS = 6  # tries per item while the API keeps answering 429
RATE_LIMIT_PAUSE = 1.0  # seconds, when a 429 names no wait


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed

    @property
    def fraction(self) -> float:
        return (self.done + self.failed) / self.total if self.total else 1.0


@dataclass(frozen=True)
class Failure:
    item: str
    reason: str


@dataclass
class BulkResult:
    total: int
    done: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    peak_concurrency: int = 0
    rate_limited: int = 0  # 429s that reached the runner

    @property
    def progress(self) -> Progress:
        return Progress(self.total, len(self.done), len(self.failures))


Work = Callable[[str], Awaitable[object]]
OnItem = Callable[[str, str | None], Awaitable[None]]  # item, failure reason (None: done)
OnProgress = Callable[[Progress], Awaitable[None]]
Describe = Callable[[BaseException], str]


class Limiter:
    """How many calls may run at once: halved on a rate limit, one more after each round of successes.

    Callers wait in turn (while a rate limit holds the limit below the bound); a slot freed goes straight to the
    first of them (a wake-up for all, each checking again, cost more CPU than the rest of the runner)."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.limit = bound
        self.running = 0
        self.peak = 0
        self._successes = 0  # since the limit last changed
        self._resume_at = 0.0
        self._waiting: deque[asyncio.Future[None]] = deque()  # each resolved once it holds a slot
        self._timer: asyncio.TimerHandle | None = None  # hands slots on when a pause ends

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _take(self) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)

    async def acquire(self) -> None:
        if not self._waiting and self.running < self.limit and self._now() >= self._resume_at:
            self._take()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._hand_on()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot as it was cancelled: passed on
                self.running -= 1
                self._hand_on()
            elif waiter in self._waiting:
                self._waiting.remove(waiter)
            raise

    def _hand_on(self) -> None:
        """Free slots to the first callers waiting; during a pause, once it ends."""
        while self._waiting and self.running < self.limit:
            pause = self._resume_at - self._now()
            if pause > 0:
                if self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(pause, self._resume)
                return
            waiter = self._waiting.popleft()
            if not waiter.done():  # else cancelled while waiting
                self._take()
                waiter.set_result(None)

    def _resume(self) -> None:
        self._timer = None
        self._hand_on()  # a pause extended meanwhile sets the timer again

    async def release(self, *, succeeded: bool) -> None:
        self.running -= 1
        if succeeded and self.limit < self.bound:
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0
        self._hand_on()

    async def back_off(self, seconds: float) -> None:
        if self._now() >= self._resume_at:  # 429s of calls sent before the pause halve the limit once
            self.limit = max(1, self.limit // 2)
            self._successes = 0
        self._resume_at = max(self._resume_at, self._now() + seconds)


@service
async def run_bulk(
    items: Sequence[str],
    work: Work,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    describe: Describe = str,
    on_item: OnItem | None = None,
    on_progress: OnProgress | None = None,
    progress_interval: float = PROGRESS_INTERVAL,
) -> BulkResult:
    """Runs `work` once per item; a failure is recorded with `describe(exc)` and never stops the others.

    `on_item` is called once per item as it ends; `on_progress` at most every `progress_interval` seconds
    while something changed (the caller reports the end itself, from the result). At most `concurrency` calls of
    `work` run at once, each by a worker of its own. A worker awaits an item's `on_item` (a database write) once it
    has done its next item's work: the write overlaps the next call, and at most twice `concurrency` items are done
    and not yet recorded.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = BulkResult(total=len(items))
    limiter = Limiter(max(1, concurrency))
    queue = list(reversed(items))

    async def attempt(item: str) -> None:
        for tries in range(1, RATE_LIMIT_ATTEMPTS + 1):
            await limiter.acquire()
            try:
                await work(item)
            except RateLimited as exc:
                await limiter.release(succeeded=False)
                result.rate_limited += 1
                if tries == RATE_LIMIT_ATTEMPTS:
                    raise
                await limiter.back_off(exc.retry_after or RATE_LIMIT_PAUSE)
                continue
            except BaseException:
                await limiter.release(succeeded=False)
                raise
            await limiter.release(succeeded=True)
            return

    async def worker() -> None:
        # As many workers as calls at once: a slot freed is taken again by its own worker, with no hand-over.
        recording: asyncio.Future[None] | None = None  # the previous item's on_item
        while queue:
            item = queue.pop()
            reason: str | None = None
            try:
                await attempt(item)
            except Exception as exc:  # noqa: BLE001 - one item's failure is reported, the others go on
                reason = describe(exc)
                result.failures.append(Failure(item, reason))
            else:
                result.done.append(item)
            await _recorded(recording)
            recording = _record(on_item, item, reason)
        await _recorded(recording)

    finished = asyncio.Event()
    reporter = loop.create_task(_report(result, on_progress, progress_interval, finished)) if on_progress else None
    try:
        await asyncio.gather(*(worker() for _ in range(min(max(1, concurrency), len(items)))))
    finally:
        finished.set()
        if reporter is not None:
            await reporter
    result.seconds = loop.time() - started
    result.peak_concurrency = limiter.peak
    return result


def _record(on_item: OnItem | None, item: str, reason: str | None) -> asyncio.Future[None] | None:
    if on_item is None:
        return None
    try:
        return asyncio.ensure_future(on_item(item, reason))
    except Exception:  # noqa: BLE001 - bookkeeping must not stop the work
        log.exception("bulk: recording the end of %s failed", item)
        return None


async def _recorded(recording: asyncio.Future[None] | None) -> None:
    if recording is None:
        return
    try:
        await recording
    except Exception:  # noqa: BLE001 - bookkeeping must not stop the work
        log.exception("bulk: recording the end of an item failed")


async def _report(result: BulkResult, on_progress: OnProgress, interval: float, finished: asyncio.Event) -> None:
    last = result.progress
    while not finished.is_set():
        try:
            await asyncio.wait_for(finished.wait(), timeout=interval)
        except TimeoutError:
            pass
        now = result.progress
        if finished.is_set() or now == last:
            continue
        last = now
        try:
            await on_progress(now)
        except Exception:  # noqa: BLE001 - a failed progress report must not stop the work
            log.warning("bulk: a progress report failed", exc_info=True)
