"""The sweeper, one per process: takes over jobs whose worker died (lease lapsed), writes audit rows the outbox kept,
reads back writes a dead process was making, tells the users of requests a dead worker had taken, and runs the bot's
other sweep passes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.jobs.engine import JobEngine, Outcome
from bot.jobs.notifier import Notifier
from bot.jobs.rows import Pending
from bot.messages import t
from bot.security import replay
from bot.services import audit, intents
from bot.services.language import speak

log = logging.getLogger(__name__)

SweepPass = Callable[[], Awaitable[None]]


class Sweeper:
    """`passes`: the bot's other periodic work, done by every process in each sweep and decided among processes
    through the database (the close of expired remote access)."""

    def __init__(self, engine: JobEngine, notifier: Notifier, *, passes: Sequence[SweepPass] = (),
                 every: float | None = None) -> None:
        self.engine, self.notifier, self.passes = engine, notifier, list(passes)
        self.every = every if every is not None else engine.store.lease.total_seconds() / 3
        self.loop: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[Outcome]] = set()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop().create_task(self._loop(), name="job-sweeper")

    async def stop(self) -> None:
        if self.loop is not None:
            self.loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.loop
        # Jobs still running keep their rows `running`: their leases lapse and the next worker takes them over.
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)

    async def sweep(self) -> list[str]:
        """One pass; returns the ids of the jobs taken over (started in tasks of their own)."""
        engine = self.engine
        try:
            await audit.write_kept(engine.db)
        except Exception as exc:  # noqa: BLE001 - the rows stay kept for the next pass; takeovers must not wait
            log.warning("could not write the rows kept in the outbox (%s); trying again next pass",
                        type(exc).__name__)
        try:
            await audit.beat(engine.db, engine.worker_id)
            await self.end_orphaned_intents()
            await self.tell_unfinished()
        except Exception as exc:  # noqa: BLE001 - the next pass tries again; taking jobs over must not wait
            log.warning("could not read back the writes of a stopped process (%s); trying again next pass",
                        type(exc).__name__)
        taken: list[str] = []
        while (job := await engine.store.take_over(engine.worker_id)) is not None:
            taken.append(job.id)
            task = asyncio.get_running_loop().create_task(self.resume(job), name=f"job:{job.id}")
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
        for extra in self.passes:
            try:
                await extra()
            except Exception:  # noqa: BLE001 - one pass failing must not stop the others, nor the next sweep
                log.warning("sweep pass %s failed", getattr(extra, "__name__", extra), exc_info=True)
        return taken

    async def end_orphaned_intents(self) -> None:
        """Writes a process that died was making: read back, recorded, and the person who asked told."""
        engine = self.engine
        ended = await intents.resolve(engine.db, engine.read_backs, engine.worker_id, engine.store.lease)
        for intent, verdict in ended:
            speak(await self.notifier.language(intent.user_id))
            await self.notifier.tell(intent.user_id, intent.channel_id,
                                     t(f"record.resolved_{verdict.name}", command=intent.command))

    async def tell_unfinished(self) -> None:
        """Commands and presses acked, taken by a worker that died before its listener ended: each user is told
        (a change begun at SORACOM has its own read-back message, sent before this one)."""
        engine = self.engine
        for taken in await replay.take_unfinished(engine.db, engine.worker_id, engine.store.lease):
            if not taken.user_id:
                continue
            speak(await self.notifier.language(taken.user_id))
            text = (t("record.request_lost", command=taken.command) if taken.command
                    else t("record.press_lost"))
            log.info("told %s that a request taken by a stopped worker may not have run", taken.user_id)
            await self.notifier.tell(taken.user_id, taken.channel_id, text)

    async def resume(self, job: Pending) -> Outcome:
        log.info("taking over job %s (%s, attempt %d)", job.id, job.action, job.attempts)
        lang = await self.notifier.language(job.user_id)
        speak(lang)
        context = await self.engine.context_for(job, lang)
        outcome = await self.engine.run(context, job)
        await self.notifier.job_resumed(context, job, outcome)
        return outcome

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the database may be down for a while; the next pass tries again
                log.warning("job sweep failed", exc_info=True)
            await asyncio.sleep(self.every)
