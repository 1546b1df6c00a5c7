"""SORACOM's deliveries, taken by serve's front process and recorded by its worker, in batches.

The front process answers Slack's commands at once; a storm's deliveries recorded there (the database's batches,
the decisions, the cards) would share its loop and its interpreter lock with those acks. So the front only checks
a delivery (token, size, shape: bot.web.events) and hands it on: the deliveries that come while earlier ones are on
their way go together as one request to the worker's BATCH_PATH, over kept-alive loopback connections. The worker
records them as it records its own (bot.services.alert_intake) and answers each; the front answers SORACOM only
then, so a 200 still means the delivery's row is committed.

A worker that dies (or restarts) with a batch on its way: the batch is sent again to the next worker, which takes
each delivery once (the rows' unique key: what the dead one committed is a repeat); deliveries wait for it at most
BOT_RELAY_PATIENCE_SECONDS, then are answered 503 (nothing recorded: SORACOM's Event Handler sends again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Protocol

from bot.net import Connection, post
from bot.services.alerts import TOKEN_HEADER, Event
from bot.web.events import BATCH_PATH, MAX_BATCH_BYTES, Answer, Take, pack

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 4  # batches on their way at once: a batch waiting for a card's Slack post does not hold the rest
MAX_BATCH = 500
ANSWER_CHUNK = 8
RETRY_EVERY = 0.25
NOT_TAKEN: Answer = (503, {"error": "the bot is restarting; nothing was done"})


class Worker(Protocol):
    port: int

    @property
    def process(self) -> object | None: ...  # None: never started (served without its lifespan: a test transport)

    @property
    def running(self) -> bool: ...


class EventRelay:
    """The front process's side: `take` is the Take of bot.web.events."""

    def __init__(self, worker: Worker, token: str, patience: float, local: Take) -> None:
        self.worker, self.patience, self.local = worker, patience, local
        self._headers = {TOKEN_HEADER: token}
        self._pending: list[tuple[bytes, asyncio.Future[Answer]]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._idle: list[Connection] = []
        self._flush_soon = False

    async def take(self, event: Event, raw: bytes) -> Answer:
        if self.worker.process is None:  # no worker: recorded here
            return await self.local(event, raw)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        self._pending.append((raw, answer))
        if not self._flush_soon:  # the deliveries of this turn of the loop go together
            self._flush_soon = True
            loop.call_soon(self._flush)
        # A sender that hangs up leaves its delivery on its way: it is recorded all the same.
        return await asyncio.shield(answer)

    def _flush(self) -> None:
        self._flush_soon = False
        while self._pending and len(self._in_flight) < MAX_IN_FLIGHT:
            count, size = 0, 0
            for raw, _ in self._pending[:MAX_BATCH]:
                if count and size + len(raw) + 4 > MAX_BATCH_BYTES:
                    break
                count, size = count + 1, size + len(raw) + 4
            batch, self._pending = self._pending[:count], self._pending[count:]
            task = asyncio.get_running_loop().create_task(self._send(batch), name="event-relay")
            self._in_flight.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("could not relay SORACOM deliveries to the worker", exc_info=task.exception())
        self._flush()

    async def _send(self, batch: list[tuple[bytes, asyncio.Future[Answer]]]) -> None:
        answers: list[Answer] = [NOT_TAKEN] * len(batch)
        try:
            body = pack([raw for raw, _ in batch])
            deadline = time.monotonic() + self.patience
            while True:
                try:
                    got = await asyncio.wait_for(self._exchange(body), max(RETRY_EVERY, deadline - time.monotonic()))
                    if len(got) != len(batch):
                        log.error("the worker answered %d of %d SORACOM deliveries", len(got), len(batch))
                        return
                    answers = got
                    # Answered a few at a time, a turn of the loop between: a batch's answers sent at once would
                    # hold a Slack command's ack that arrives meanwhile behind all of them.
                    for start in range(0, len(batch), ANSWER_CHUNK):
                        for (_, future), answer in zip(batch[start:start + ANSWER_CHUNK],
                                                       answers[start:start + ANSWER_CHUNK], strict=True):
                            if not future.done():
                                future.set_result(answer)
                        await asyncio.sleep(0)
                    return
                except TimeoutError:
                    # Hung (or stopped) with the batch: whatever it records later is a repeat of SORACOM's resend.
                    log.error("the bot's worker did not answer %d SORACOM deliveries within %.0f s; answered 503",
                              len(batch), self.patience)
                    return
                except (OSError, asyncio.IncompleteReadError, ValueError, KeyError):
                    # Down, restarting, or it died with the batch: sent again, the deliveries it committed are
                    # repeats there.
                    if time.monotonic() > deadline:
                        log.error("the bot's worker did not take %d SORACOM deliveries within %.0f s; answered 503",
                                  len(batch), self.patience)
                        return
                    await asyncio.sleep(RETRY_EVERY)
        finally:
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    async def _exchange(self, body: bytes) -> list[Answer]:
        if not self.worker.running:
            raise ConnectionError("no worker")
        connection = self._idle.pop() if self._idle else await asyncio.open_connection("127.0.0.1", self.worker.port)
        try:
            status, _, content = await post(connection, BATCH_PATH, body, self._headers)
        except BaseException:
            connection[1].close()  # mid-exchange: never used again
            raise
        self._idle.append(connection)
        if status != 200:
            raise ValueError(f"the worker answered {status}")
        return [(int(status), dict(answer)) for status, answer in json.loads(content)["answers"]]

    async def stop(self) -> None:
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self.patience)
        for _, writer in self._idle:
            writer.close()
