"""Confirmed actions run as jobs: under a lease, with the actor's role read again before the work, the outcome
written to the database before anyone is told, and taken over by another worker when the process running one dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Mrkdwn, t
from bot.runtime import Runtime
from bot.security import replay
from bot.security.pending import ItemEnd, JobState, Pending
from bot.security.roles import Role
from bot.services import audit, intents
from bot.services.roles import role_from, role_of
from handlers.common import Request, RoleReading, failure_text, outcome_of, speak_to
from handlers.views import gate as views

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    summary: str
    unknown: bool = False  # SORACOM may or may not have done it, and reading back could not tell

    @property
    def state(self) -> JobState:
        return JobState.done if self.ok else JobState.unknown if self.unknown else JobState.failed


Executor = Callable[[Request, Pending], Awaitable[Outcome]]


@dataclass(frozen=True)
class GatedAction:
    name: str
    run: Executor
    role: Role
    requires_code: bool = False
    confirm_label: str | None = None  # the message id of its Confirm button: told in each user's language
    dismiss_label: str | None = None  # of its Cancel button, where "Cancel" would read as the action itself
    danger: bool = False


class GatedActions(dict[str, GatedAction]):
    """The actions a bot's handlers defined, by name (`actions(rt)`)."""


def actions(rt: Runtime) -> GatedActions:
    return rt.state(GatedActions)


def define(rt: Runtime, action: GatedAction) -> GatedAction:
    actions(rt)[action.name] = action
    return action


async def run(request: Request, job: Pending) -> Outcome:
    """Runs a job this process has claimed, renewing its lease; stops if another worker took it over."""
    rt = request.rt
    work = asyncio.current_task()
    assert work is not None
    lost = asyncio.Event()
    keeper = asyncio.get_running_loop().create_task(_keep_lease(rt, job.id, work, lost), name=f"lease:{job.id}")
    try:
        return await _execute(request, job, actions(rt)[job.action])
    except asyncio.CancelledError:
        if not lost.is_set():
            raise
        work.uncancel()
        log.warning("job %s was taken over by another worker; this one stopped", job.id)
        return Outcome(False, t("common.pending_taken_over"), unknown=True)
    finally:
        keeper.cancel()


async def _keep_lease(rt: Runtime, job_id: str, work: asyncio.Task[object], lost: asyncio.Event) -> None:
    every = rt.pending.lease.total_seconds() / 3
    while True:
        await asyncio.sleep(every)
        try:
            held = await rt.pending.renew(job_id, rt.worker_id)
        except Exception:  # noqa: BLE001 - a database hiccup: try again; the lease outlives a few misses
            log.warning("could not renew the lease of job %s", job_id, exc_info=True)
            continue
        if not held:
            lost.set()
            work.cancel()
            return


async def _execute(request: Request, job: Pending, action: GatedAction) -> Outcome:
    run_request = replace(request, channel_id=job.channel_id or request.channel_id, command=job.command, text="",
                          respond=None, required=action.role, job_id=job.id)
    try:
        # Executors record how their action ended; this records a failure none of them did (a database error).
        async with run_request.audited(job.action, job.summary, failures_only=True):
            await run_request.recheck(job.action, job.summary)
            outcome = await action.run(run_request, job)
    except Exception as exc:
        outcome = Outcome(False, failure_text(exc, job.command), unknown=outcome_of(exc) in ("unknown", "error"))
    await _finish(request.rt, job, outcome)
    return outcome


async def _finish(rt: Runtime, job: Pending, outcome: Outcome) -> None:
    """Writes how the job ended; retried, since SORACOM has acted and the row must say so."""
    for delay in (0.5, 2.0, 5.0, None):
        try:
            await rt.pending.finish(job.id, outcome.state, {"summary": outcome.summary[:2000]}, owner=rt.worker_id)
            return
        except Exception:  # noqa: BLE001 - after the last try the lease lapses and a takeover reconciles
            if delay is None:
                log.error("could not record the end of job %s; it will be reconciled when taken over", job.id)
                return
            await asyncio.sleep(delay)


async def request_for(rt: Runtime, client: AsyncWebClient, job: Pending) -> Request:
    """A Request for a job taken over: no Slack payload, the owner's role as it is now, in the owner's language."""
    await speak_to(rt, client, job.user_id)
    return Request(rt=rt, client=client, respond=None, user_id=job.user_id, team_id=job.team_id,
                   channel_id=job.channel_id, trigger_id=None,
                   reading=RoleReading(await role_of(rt.db, job.user_id, rt.settings.admins)), command=job.command)


class ItemLog:
    """Ends of a bulk job's items with their audit rows, group-committed: the ends that arrive while one
    transaction is written go together in the next, and `end` returns once its own is written. A worker takes its
    next item only then, so at most the calls in flight are unrecorded when the process dies (the worker that takes
    the job over does those again, or reads them first). A database that refuses the write is tried again."""

    RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
    GATHER = 0.004  # seconds the first end waits for others: one transaction for several SIMs, not one each

    def __init__(self, request: Request, job: Pending, action: str) -> None:
        self.request, self.job, self.action = request, job, action
        self._ends: list[tuple[ItemEnd, str, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ItemLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()  # the job was stopped (its lease lost): what is unwritten is the next worker's

    async def end(self, item: str, reason: str | None, *, refused: bool = False) -> None:
        written = asyncio.get_running_loop().create_future()
        self._ends.append((ItemEnd(item, reason), "refused" if refused else "failed" if reason else "ok", written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        await written

    async def _write_all(self) -> None:
        failures = 0
        await asyncio.sleep(self.GATHER)
        while self._ends:
            batch, self._ends = self._ends, []
            actor, command = self.request.actor, self.request.command_line  # once a transaction, not once a SIM
            events = [audit.values(actor, command=command, action=self.action, target=end.item, result=result,
                                   error=end.reason)
                      for end, result, _ in batch]
            request, reading = self.request, self.request.reading
            asked_at = asyncio.get_running_loop().time()
            try:
                # The actor's role is read in the same transaction: the workers' checks before their next SORACOM
                # writes take it (Request.recheck's `within`) instead of a read of their own.
                stored = await request.rt.pending.end_items(self.job.id, [end for end, _, _ in batch], events,
                                                            role_of=request.user_id)
            except Exception:  # noqa: BLE001 - SORACOM has acted: the record must be written, so try again
                log.warning("could not record %d item(s) of job %s; trying again", len(batch), self.job.id,
                            exc_info=True)
                self._ends[:0] = batch
                await asyncio.sleep(self.RETRY_DELAYS[min(failures, len(self.RETRY_DELAYS) - 1)])
                failures += 1
                continue
            failures = 0
            if reading.read_at is None or asked_at >= reading.read_at:
                reading.role = role_from(stored, request.user_id, request.rt.settings.admins)
                reading.read_at = asked_at
            for _, _, written in batch:
                written.set_result(None)


SweepPass = Callable[[Runtime, AsyncWebClient], Awaitable[None]]


class SweepPasses(list[SweepPass]):
    """Other periodic work of a bot that every process does in each sweep (`rt.state(SweepPasses)`), deciding
    among processes through the database: the close of expired remote access."""


class Sweeper:
    """Takes over jobs whose worker died (lease lapsed), writes audit rows the outbox kept and runs the bot's other
    sweep passes; one per process."""

    def __init__(self, rt: Runtime, client: AsyncWebClient, *, every: float | None = None) -> None:
        self.rt, self.client = rt, client
        self.every = every if every is not None else rt.pending.lease.total_seconds() / 3
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
        try:
            await audit.write_kept(self.rt.db)
        except Exception as exc:  # noqa: BLE001 - the rows stay kept for the next pass; takeovers must not wait
            log.warning("could not write the rows kept in the outbox (%s); trying again next pass",
                        type(exc).__name__)
        try:
            await audit.beat(self.rt.db, self.rt.worker_id)
            await self.end_orphaned_intents()
            await self.tell_unfinished()
        except Exception as exc:  # noqa: BLE001 - the next pass tries again; taking jobs over must not wait
            log.warning("could not read back the writes of a stopped process (%s); trying again next pass",
                        type(exc).__name__)
        taken: list[str] = []
        while (job := await self.rt.pending.take_over(self.rt.worker_id)) is not None:
            taken.append(job.id)
            task = asyncio.get_running_loop().create_task(self.resume(job), name=f"job:{job.id}")
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
        for extra in self.rt.state(SweepPasses):
            try:
                await extra(self.rt, self.client)
            except Exception:  # noqa: BLE001 - one pass failing must not stop the others, nor the next sweep
                log.warning("sweep pass %s failed", getattr(extra, "__name__", extra), exc_info=True)
        return taken

    async def end_orphaned_intents(self) -> None:
        """Writes a process that died was making: read back, recorded, and the person who asked told."""
        ended = await intents.resolve(self.rt.db, self.rt.state(intents.ReadBacks), self.rt.worker_id,
                                      self.rt.pending.lease)
        for intent, verdict in ended:
            await speak_to(self.rt, self.client, intent.user_id)
            text = t(f"record.resolved_{verdict.name}", command=intent.command)
            try:
                await self.client.chat_postEphemeral(channel=intent.channel_id or intent.user_id, user=intent.user_id,
                                                     text=text)
            except SlackApiError as exc:
                log.warning("could not tell %s how %s ended: %s", intent.user_id, intent.action,
                            exc.response.get("error"))

    async def tell_unfinished(self) -> None:
        """Commands and presses acked, taken by a worker that died before its listener ended: each user is told
        (a change begun at SORACOM has its own read-back message, sent before this one)."""
        for taken in await replay.take_unfinished(self.rt.db, self.rt.worker_id, self.rt.pending.lease):
            if not taken.user_id:
                continue
            await speak_to(self.rt, self.client, taken.user_id)
            text = (t("record.request_lost", command=taken.command) if taken.command
                    else t("record.press_lost"))
            log.info("told %s that a request taken by a stopped worker may not have run", taken.user_id)
            try:
                await self.client.chat_postEphemeral(channel=taken.channel_id or taken.user_id, user=taken.user_id,
                                                     text=text)
            except SlackApiError as exc:
                log.warning("could not tell %s of a lost request: %s", taken.user_id, exc.response.get("error"))

    async def resume(self, job: Pending) -> Outcome:
        log.info("taking over job %s (%s, attempt %d)", job.id, job.action, job.attempts)
        request = await request_for(self.rt, self.client, job)
        outcome = await run(request, job)
        await tell_owner(request, job, outcome)
        return outcome

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the database may be down for a while; the next pass tries again
                log.warning("job sweep failed", exc_info=True)
            await asyncio.sleep(self.every)


async def tell_owner(request: Request, job: Pending, outcome: Outcome) -> None:
    """After a takeover nobody waits on the original request: the owner is told privately, and in the modal."""
    text = t("common.job_resumed", command=job.command, summary=outcome.summary)
    try:
        await request.reply(text)
    except SlackApiError as exc:
        log.warning("could not tell %s how job %s ended: %s", job.user_id, job.id, exc.response.get("error"))
    if job.view_id:
        with contextlib.suppress(SlackApiError):
            await request.client.views_update(view_id=job.view_id, view=request.view(
                views.result_modal(outcome.summary, title=t("gate.done_title"))))


def truth(job: Pending | None) -> str:
    """What is true of a confirmation that can no longer be confirmed."""
    if job is None:
        return t("common.pending_unknown")
    summary = Mrkdwn((job.result or {}).get("summary", ""))  # the bot's own reply, its data escaped when written
    return {
        JobState.running: t("common.pending_running"),
        JobState.done: t("common.pending_done", summary=summary),
        JobState.failed: t("common.pending_failed", summary=summary),
        JobState.unknown: t("common.pending_outcome_unknown", summary=summary),
        JobState.cancelled: t("common.pending_cancelled"),
    }.get(JobState(job.state), t("common.pending_expired"))

