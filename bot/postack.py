"""The bot's work after the ack runs on an event loop of its own, in a worker thread.

Slack waits at most 3 s for the HTTP answer. On one loop the replies' work (SORACOM calls, rendering, Slack posts)
queues with the acks: under 50 commands in flight the acks waited for it. Here the server's loop only checks each
request's signature and answers; bolt's dispatch, every listener, the SORACOM client, the scheduler and the job
sweeper run on the worker loop. A slash command or a button press is always acked empty by this bot's listeners
(register_command, register_action, the stale-button catch-all), so the server answers those at once and hands the
request on; any other request (modal submissions, whose ack carries the listener's answer) is answered with
what the listener acks, from the worker loop. Both loops share the interpreter lock, so the worker loop also
gives way: before each step it waits while the server's loop is handling events (bounded, so replies still advance).
A worker process would not share the lock, but it would need the runtime (and, in sandbox, the emulator's state)
split across processes; on this 2-core machine the thread held the ack bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import selectors
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

T = TypeVar("T")
ACKED_EMPTY = frozenset({"block_actions"})  # payload types whose every listener acks before anything else


# How long the worker loop stays out of the way while the server's loop answers requests (then it runs one step).
YIELD_AT_MOST = 0.05


class _YieldingLoop(asyncio.SelectorEventLoop):
    """Before each of its steps, waits (the GIL released) while the server's loop has requests in hand.

    Both loops share one interpreter lock: without this, every step of the replies' work could hold it while an ack
    waits. The wait is bounded, so the work still advances under a steady stream of requests.
    """

    def __init__(self, idle: threading.Event) -> None:
        super().__init__()
        self._idle = idle

    def _run_once(self) -> None:
        self._idle.wait(YIELD_AT_MOST)
        super()._run_once()  # type: ignore[misc]


class _Watched:
    """A selector that tells, through `idle`, whether its loop is waiting for events or handling them."""

    def __init__(self, selector: selectors.BaseSelector, idle: threading.Event) -> None:
        self._selector, self._idle = selector, idle

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._idle.set()
        events = self._selector.select(timeout)
        if events:
            self._idle.clear()
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selector, name)


class WorkerLoop:
    """An event loop running in a daemon thread until stopped, giving way to the server's loop."""

    def __init__(self, name: str = "post-ack") -> None:
        self.idle = threading.Event()
        self.idle.set()
        self.loop = _YieldingLoop(self.idle)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._tasks: set[concurrent.futures.Future[Any]] = set()

    def start(self) -> "WorkerLoop":
        self._thread.start()
        return self

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Marks `loop` (the server's) busy from the moment its selector reports a request until it selects again."""
        selector = getattr(loop, "_selector", None)
        if selector is not None:  # a selector loop (asyncio's default); another loop gets no priority, only its own
            loop._selector = _Watched(selector, self.idle)  # type: ignore[attr-defined]

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self.loop.is_running()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs `coro` on the worker loop and waits for its result without blocking the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Starts `coro` on the worker loop; its failure is logged, nobody waits for it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._tasks.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: concurrent.futures.Future[Any]) -> None:
        self._tasks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("work after an ack failed", exc_info=future.exception())

    def stop(self, timeout: float = 5.0) -> None:
        """Lets handed-on requests reach their listeners, cancels what still runs (as asyncio.run does at exit; a
        job's lease then lapses and another worker takes it over), and stops the loop."""
        concurrent.futures.wait(list(self._tasks), timeout=timeout)
        if self.running:
            with contextlib.suppress(concurrent.futures.TimeoutError):
                asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_all() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Dispatcher:
    """Answers Slack's HTTP requests on the server's loop and runs the bolt app on the worker loop."""

    def __init__(self, app: AsyncApp, worker: WorkerLoop, signing_secret: str, commands: frozenset[str]) -> None:
        self.app, self.worker, self.commands = app, worker, commands
        self._verifier = SignatureVerifier(signing_secret)

    async def dispatch(self, request: AsyncBoltRequest) -> BoltResponse:
        if not self.worker.running:  # served without its lifespan (an ASGI test transport): one loop, as before
            return await self.app.async_dispatch(request)
        if self.acked_empty(request):
            self.worker.submit(self.app.async_dispatch(request))  # its listener's own ack() goes nowhere
            return BoltResponse(status=200, body="")
        return await self.worker.call(self.app.async_dispatch(request))

    def acked_empty(self, request: AsyncBoltRequest) -> bool:
        """A signed command or button press that this bot's listeners ack empty before doing anything else."""
        body = request.body
        if body.get("ssl_check") or not (body.get("command") in self.commands or body.get("type") in ACKED_EMPTY):
            return False
        # Only a signed request is acked here; anything else goes to bolt, which refuses it with a 401.
        return self._verifier.is_valid(request.raw_body, request.headers.get("x-slack-request-timestamp", [""])[0],
                                       request.headers.get("x-slack-signature", [""])[0])
