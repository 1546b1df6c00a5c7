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
from collections.abc import Mapping, Set as AbstractSet
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings

log = logging.getLogger(__name__)

ACKED_EMPTY = frozenset({"block_actions"})  # payload types whose every listener acks before anything else
HOP_BY_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding"})
# When both want the CPU, the acks go first: the replies can take longer, Slack's 3 s cannot.
WORKER_NICENESS = 10
START_TIMEOUT = 120.0
WATCH_EVERY = 1.0
STOP_GRACE = 10.0
RELAY_PATIENCE = 120.0  # how long an acked request waits for a worker that restarts (Slack's response_url: 30 min)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def run_worker(settings: Settings, port: int, log_level: int, parent: int) -> None:
    """The worker process: the bot as a single-loop server on a loopback port."""
    import uvicorn

    from bot.serve import build_server

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    die_with_parent(parent)
    os.nice(WORKER_NICENESS)
    # Kept-alive relay connections stay open between bursts of commands.
    uvicorn.run(build_server(settings, worker=False, relayed=True), host="127.0.0.1", port=port, log_level="warning",
                timeout_keep_alive=3600)


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


class WorkerProcess:
    """Starts the worker process, restarts it when it dies, and relays requests to it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: multiprocessing.process.BaseProcess | None = None
        self.port = 0
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._relayed: set[asyncio.Task[Any]] = set()
        self._last_of: dict[str, asyncio.Task[Any]] = {}  # each user's latest relay, which their next one follows
        self._watch: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.is_alive() and self.port != 0

    async def start(self) -> None:
        from bot.local import free_port

        port = free_port()
        self.process = multiprocessing.get_context("spawn").Process(
            target=run_worker, args=(self.settings, port, logging.getLogger().level, os.getpid()), name="bot-worker",
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
        task = asyncio.get_running_loop().create_task(self._deliver(request, self._last_of.get(user)))
        self._last_of[user] = task
        self._relayed.add(task)
        task.add_done_callback(functools.partial(self._relay_done, user))

    async def _deliver(self, request: AsyncBoltRequest, after: asyncio.Task[Any] | None) -> None:
        if after is not None:
            await asyncio.wait([after])
        deadline = asyncio.get_running_loop().time() + RELAY_PATIENCE
        while True:
            try:
                await self.relay(request)
                return
            except (OSError, asyncio.IncompleteReadError):
                # The worker died or is starting again. Sending again is safe even if this copy reached it: the
                # worker takes each request once (its database replay check).
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(WATCH_EVERY / 4)

    def _relay_done(self, user: str, task: asyncio.Task[Any]) -> None:
        self._relayed.discard(task)
        if self._last_of.get(user) is task:
            del self._last_of[user]
        if not task.cancelled() and task.exception() is not None:
            log.error("could not hand a request to the worker process within %.0f s; it is lost", RELAY_PATIENCE,
                      exc_info=task.exception())

    async def relay(self, request: AsyncBoltRequest) -> BoltResponse:
        """Sends the request to the worker as Slack sent it; returns the worker's answer."""
        headers = {name: values[0] for name, values in request.headers.items() if name not in HOP_BY_HOP and values}
        body = request.raw_body.encode()
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else await asyncio.open_connection("127.0.0.1", self.port)
        try:
            status, answer_headers, content = await _exchange(connection, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            connection[1].close()
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            # A kept-alive connection the worker closed (it restarted): the request never reached it.
            connection = await asyncio.open_connection("127.0.0.1", self.port)
            status, answer_headers, content = await _exchange(connection, body, headers)
        self._idle.append(connection)
        # a new dict of bolt's value type (str | Sequence[str]): a dict[str, str] is not one, dicts being invariant
        return BoltResponse(status=status, body=content.decode(), headers=dict(answer_headers))


async def _exchange(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], body: bytes,
                    headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One POST /slack/events in HTTP/1.1 on a kept-alive connection."""
    reader, writer = connection
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(f"POST /slack/events HTTP/1.1\r\nHost: bot-worker\r\nContent-Length: {len(body)}\r\n{head}\r\n"
                 .encode("latin-1") + body)
    await writer.drain()
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    answer: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        answer[name.strip().lower()] = value.strip()
    content = await reader.readexactly(int(answer.get("content-length", "0")))
    return status, {k: v for k, v in answer.items() if k not in HOP_BY_HOP and k not in ("date", "server")}, content


def _user_of(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    return str(body.get("user_id") or (user.get("id") if isinstance(user, Mapping) else "") or "")


def acked_at_once(body: Mapping[str, Any], commands: AbstractSet[str]) -> bool:
    """A slash command (of `commands`, the bot's) or a button press: the kinds this bot's listeners ack empty
    before doing anything else."""
    return not body.get("ssl_check") and (body.get("command") in commands or body.get("type") in ACKED_EMPTY)


class Dispatcher:
    """Answers Slack's HTTP requests in the server's process and has the worker process run the bot."""

    def __init__(self, app: AsyncApp, worker: WorkerProcess, signing_secret: str, commands: frozenset[str]) -> None:
        self.app, self.worker, self.commands = app, worker, commands
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
        return await self.worker.relay(request)

    def acked_empty(self, request: AsyncBoltRequest) -> bool:
        """A signed command or button press that this bot's listeners ack empty before doing anything else."""
        if not acked_at_once(request.body, self.commands):
            return False
        # Only a signed request is acked here; anything else goes to the worker's bolt, which refuses it (401).
        return self._verifier.is_valid(request.raw_body, request.headers.get("x-slack-request-timestamp", [""])[0],
                                       request.headers.get("x-slack-signature", [""])[0])
