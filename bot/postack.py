"""`serve` answers Slack in one process and does the bot's work in another.

Slack waits at most 3 s for the HTTP answer. On one event loop the replies' work (SORACOM calls, rendering, Slack
posts) queues with the acks, and a thread of its own would still share the interpreter lock with them: under 50
commands in flight either way the acks waited for it. So the server's process only checks each request's signature
and answers; the bot itself (bolt's dispatch, every listener, the SORACOM client, the scheduler, the job sweeper,
Socket Mode) is the same single-loop server as before, run by a worker process on a loopback port, and each request
is relayed to it as Slack sent it (bolt there checks the signature again).

A slash command or a button press is always acked empty by this bot's listeners (register_command,
register_action, the stale-button catch-all), so those are answered at once and relayed after (each user's in the
order they came, kept while the worker restarts); any other request
(modal submissions, whose ack carries the listener's answer) is answered with what the worker answers.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Set as AbstractSet
from pathlib import Path
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings
from bot.net import DEADLINE_HEADER, Connection, free_port, post

log = logging.getLogger(__name__)

ACKED_EMPTY = frozenset({"block_actions"})  # payload types whose every listener acks before anything else
HOP_BY_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding"})
# When both want the CPU, the acks go first: the replies can take longer, Slack's 3 s cannot.
WORKER_NICENESS = 10
START_TIMEOUT = 120.0
WATCH_EVERY = 1.0
STOP_GRACE = 10.0
MODAL_PATIENCE = 2.0  # Slack gives a modal submission's answer 3 s, counted from its side: a second is for the way
DEADLINE_MARGIN = 1.0  # the worker refuses a copy this long before serve's process gives up on it
HEALTH_PATIENCE = 2.0  # a worker that does not answer its /healthz in this long is hung
PR_SET_PDEATHSIG = 1  # linux/prctl.h


# Builds the worker's ASGI app from the settings (bot.serve passes its build_server: the relay does not reach back up
# for it). A module-level function, so that the spawned process receives it by name.
BuildWorker = Callable[[Settings], Any]


def run_worker(build: BuildWorker, settings: Settings, port: int, log_level: int, parent: int) -> None:
    """The worker process: the bot as a single-loop server on a loopback port."""
    import uvicorn

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    die_with_parent(parent)
    os.nice(WORKER_NICENESS)
    # Kept-alive relay connections stay open between bursts of commands.
    uvicorn.run(build(settings), host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=3600)


def die_with_parent(parent: int) -> None:
    """The worker is half of `serve`: when the server's process dies, even by SIGKILL, so does the worker (Linux's
    parent-death signal), as both would in a container. Its jobs are then taken over by the next worker."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        log.warning("the worker could not be tied to the server's process (errno %d)", ctypes.get_errno())
    if os.getppid() != parent:  # the parent died before the tie was made (in a container it may be pid 1)
        os._exit(1)


Tell = Callable[[Mapping[str, Any]], Awaitable[None]]


class WorkerProcess:
    """Starts the worker process, restarts it when it dies, and relays requests to it.

    What waits for it is bounded, in count (BOT_RELAY_MAX_WAITING) and age (BOT_RELAY_PATIENCE_SECONDS): a request
    past either is told to its user (`tell`: "the bot is restarting; nothing was done") and logged, and the worker
    refuses its copy if it comes later (a deadline travels with each relayed request)."""

    def __init__(self, settings: Settings, build: BuildWorker, tell: Tell | None = None) -> None:
        self.settings = settings
        self.build = build
        self.tell = tell
        self.patience = settings.BOT_RELAY_PATIENCE_SECONDS
        self.max_waiting = settings.BOT_RELAY_MAX_WAITING
        self._probe: asyncio.Future[bool] | None = None
        self._probed_at = 0.0
        self._alive_at = 0.0  # when the worker last answered anything
        self.process: multiprocessing.process.BaseProcess | None = None
        self.port = 0
        self._idle: list[Connection] = []
        self._relayed: set[asyncio.Task[Any]] = set()
        self._last_of: dict[str, asyncio.Task[Any]] = {}  # each user's latest relay, which their next one follows
        self._watch: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.is_alive() and self.port != 0

    async def start(self) -> None:
        port = free_port()
        self.process = multiprocessing.get_context("spawn").Process(
            target=run_worker, args=(self.build, self.settings, port, logging.getLogger().level, os.getpid()),
            name="bot-worker",
            daemon=True)
        self.process.start()
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if not self.process.is_alive() or asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError("the bot's worker process did not start; see its log above") from None
                await asyncio.sleep(0.05)
        self.port, self._idle = port, []
        self._alive_at = time.monotonic()
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_process(), name="worker-watch")

    async def _watch_process(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if self.process is not None and not self.process.is_alive():
                log.error("the bot's worker process exited (code %s); starting another", self.process.exitcode)
                self.port = 0
                try:
                    await self.start()
                except RuntimeError:
                    log.exception("could not start the bot's worker process again")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self._relayed and self.running:
            await asyncio.wait(self._relayed, timeout=STOP_GRACE)
        for task in list(self._relayed):  # what no worker took by now is lost with this process (logged)
            task.cancel()
        for _, writer in self._idle:
            writer.close()
        if self.process is not None and self.process.is_alive():
            self.process.terminate()  # uvicorn's graceful shutdown: the worker's lifespan closes what it opened
            await asyncio.get_running_loop().run_in_executor(None, self.process.join, 30)
            if self.process.is_alive():
                self.process.kill()

    def relay_later(self, request: AsyncBoltRequest) -> None:
        """Hands an acked request to the worker, after the same user's earlier ones (in the order Slack sent them),
        waiting for a worker that is restarting."""
        user = _user_of(request.body)
        if len(self._relayed) >= self.max_waiting:
            log.error("%d requests already wait for the bot's worker process; this one is refused and its user told",
                      len(self._relayed))
            self._tell_later(request)
            return
        deadline = time.time() + self.patience
        task = asyncio.get_running_loop().create_task(self._deliver(request, self._last_of.get(user), deadline))
        self._last_of[user] = task
        self._relayed.add(task)
        task.add_done_callback(functools.partial(self._relay_done, user))

    async def _deliver(self, request: AsyncBoltRequest, after: asyncio.Task[Any] | None, deadline: float) -> None:
        try:
            if after is not None:
                await asyncio.wait([after])
                if await self.busy():
                    # Its turn came after this user's earlier requests, which a working worker took: a busy
                    # worker's queue does not eat into this one's patience.
                    deadline = max(deadline, time.time() + self.patience)
            while True:
                try:
                    answer = await asyncio.wait_for(self.relay(request, deadline - DEADLINE_MARGIN),
                                                    max(0.0, deadline - time.time()))
                    if answer.status != 503 or "relay deadline" not in answer.body:
                        return
                    raise TimeoutError  # read after its deadline, and refused: not run
                except TimeoutError:  # before OSError, of which it is a subclass
                    if not await self.busy():
                        raise
                    # Busy, not down or hung: a new copy with a new deadline (the late one is refused, or, if it
                    # was taken after all, this one is a replay and dropped).
                    deadline = time.time() + self.patience
                except (OSError, asyncio.IncompleteReadError):
                    # The worker died or is starting again. Sending again is safe even if this copy reached it: the
                    # worker takes each request once (its database replay check).
                    if time.time() > deadline:
                        if not self.working():
                            raise TimeoutError from None
                        deadline = time.time() + self.patience
                    await asyncio.sleep(WATCH_EVERY / 4)
        except TimeoutError:
            # Down or hung past the deadline: the worker refuses this copy if it ever reads it, so nothing was done.
            log.error("the bot's worker process did not take a request within %.0f s; its user is told to try again",
                      self.patience)
            await self._tell(request)

    def _tell_later(self, request: AsyncBoltRequest) -> None:
        task = asyncio.get_running_loop().create_task(self._tell(request))
        self._relayed.add(task)
        task.add_done_callback(self._relayed.discard)

    async def _tell(self, request: AsyncBoltRequest) -> None:
        if self.tell is None:
            return
        try:
            await self.tell(request.body)
        except Exception:  # noqa: BLE001 - Slack refused too: the log line above is all that is left
            log.exception("could not tell the user that their request was not run")

    def working(self) -> bool:
        """Running and not stopped (SIGSTOP). A busy worker (thousands of commands at once take it minutes) is
        working, and what waits for it keeps waiting; one whose loop stopped answering is not `busy`."""
        return self.running and self.process is not None and not _stopped(self.process.pid)

    async def busy(self) -> bool:
        """Slow to take a request, but neither stopped nor hung: its loop still answers (a loop blocked by a stuck
        call does not, though the process runs)."""
        return self.working() and await self.responsive()

    async def responsive(self) -> bool:
        """The worker is running and its event loop answers (a stopped or hung one does not, a busy one does);
        one probe at a time, its answer shared for a second."""
        if not self.running or self.process is None or _stopped(self.process.pid):
            return False
        if time.monotonic() - self._alive_at < HEALTH_PATIENCE:
            return True  # it answered a relay just now
        now = time.monotonic()
        if self._probe is None or (self._probe.done() and now - self._probed_at > 1.0):
            self._probed_at = now
            self._probe = asyncio.ensure_future(self._answers())
        return await asyncio.shield(self._probe)

    async def _answers(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), HEALTH_PATIENCE)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"GET /livez HTTP/1.1\r\nHost: bot-worker\r\nConnection: close\r\n\r\n")
            await writer.drain()
            status = await asyncio.wait_for(reader.readuntil(b"\r\n"), HEALTH_PATIENCE)
            if status.split()[1:2] != [b"200"]:
                return False
            self._alive_at = time.monotonic()
            return True
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False
        finally:
            writer.close()

    def _relay_done(self, user: str, task: asyncio.Task[Any]) -> None:
        self._relayed.discard(task)
        if self._last_of.get(user) is task:
            del self._last_of[user]
        if not task.cancelled() and task.exception() is not None:
            log.error("could not hand a request to the worker process", exc_info=task.exception())

    async def relay(self, request: AsyncBoltRequest, deadline: float | None = None) -> BoltResponse:
        """Sends the request to the worker as Slack sent it; returns the worker's answer. `deadline` (epoch
        seconds): the worker refuses it after then."""
        headers = {name: values[0] for name, values in request.headers.items() if name not in HOP_BY_HOP and values}
        if deadline is not None:
            headers[DEADLINE_HEADER] = f"{deadline:.3f}"
        body = request.raw_body.encode()
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else await asyncio.open_connection("127.0.0.1", self.port)
        try:
            status, answer_headers, content = await post(connection, "/slack/events", body, headers)
        except asyncio.CancelledError:
            connection[1].close()  # mid-exchange: never to be used again
            raise
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            connection[1].close()
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            # A kept-alive connection the worker closed (it restarted): the request never reached it.
            connection = await asyncio.open_connection("127.0.0.1", self.port)
            status, answer_headers, content = await post(connection, "/slack/events", body, headers)
        self._idle.append(connection)
        self._alive_at = time.monotonic()
        # a new dict of bolt's value type (str | Sequence[str]): a dict[str, str] is not one, dicts being invariant
        return BoltResponse(status=status, body=content.decode(), headers={
            name: value for name, value in answer_headers.items()
            if name not in HOP_BY_HOP and name not in ("date", "server")})


def _stopped(pid: int | None) -> bool:
    """Stopped by a signal (SIGSTOP, a debugger): Linux's process state T or t."""
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("T", "t")


def _user_of(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    return str(body.get("user_id") or (user.get("id") if isinstance(user, Mapping) else "") or "")


def acked_at_once(body: Mapping[str, Any], commands: AbstractSet[str]) -> bool:
    """A slash command (of `commands`, the bot's) or a button press: the kinds this bot's listeners ack empty
    before doing anything else."""
    return not body.get("ssl_check") and (body.get("command") in commands or body.get("type") in ACKED_EMPTY)


class Dispatcher:
    """Answers Slack's HTTP requests in the server's process and has the worker process run the bot."""

    def __init__(self, app: AsyncApp, worker: WorkerProcess, signing_secret: str, commands: frozenset[str], *,
                 busy_answer: Callable[[Mapping[str, Any]], BoltResponse] | None = None) -> None:
        self.app, self.worker, self.commands = app, worker, commands
        self.busy_answer = busy_answer  # a modal submission's answer when the worker cannot answer in time
        self._verifier = SignatureVerifier(signing_secret)

    async def dispatch(self, request: AsyncBoltRequest) -> BoltResponse:
        if self.worker.process is None:  # served without its lifespan (an ASGI test transport): in this process
            return await self.app.async_dispatch(request)
        if self.acked_empty(request):
            # Kept for a worker that is restarting, after the same user's earlier requests; the worker's listener
            # acks it again, and that answer goes nowhere.
            self.worker.relay_later(request)
            return BoltResponse(status=200, body="")
        if not self.worker.running:  # a modal's answer cannot wait for the worker to restart
            return await self.app.async_dispatch(request)
        if not self.worker.working():  # stopped (SIGSTOP): waiting cannot help
            log.error("the bot's worker process is stopped; a %s was answered that nothing was done",
                      request.body.get("type"))
            return self._busy(request)
        deadline = time.time() + MODAL_PATIENCE
        try:
            return await asyncio.wait_for(self.worker.relay(request, deadline - DEADLINE_MARGIN / 2), MODAL_PATIENCE)
        except TimeoutError:
            # Hung: Slack stops waiting at 3 s. The worker refuses this copy if it reads it later.
            log.error("the bot's worker process did not answer a %s within %.1f s; answered that nothing was done",
                      request.body.get("type"), MODAL_PATIENCE)
            return self._busy(request)

    def _busy(self, request: AsyncBoltRequest) -> BoltResponse:
        if self.busy_answer is None:
            return BoltResponse(status=200, body="")
        return self.busy_answer(request.body)

    def acked_empty(self, request: AsyncBoltRequest) -> bool:
        """A signed command or button press that this bot's listeners ack empty before doing anything else."""
        if not acked_at_once(request.body, self.commands):
            return False
        # Only a signed request is acked here; anything else goes to the worker's bolt, which refuses it (401).
        return self._verifier.is_valid(request.raw_body, request.headers.get("x-slack-request-timestamp", [""])[0],
                                       request.headers.get("x-slack-signature", [""])[0])
