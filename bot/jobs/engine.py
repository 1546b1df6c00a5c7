"""Running a job: under a lease renewed while it works, its executor given a `JobContext`, and how it ended written to
the database (retried) before anyone is told. A worker whose lease another took over stops."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.jobs import lease
from bot.jobs.context import JobContext, RoleReading
from bot.jobs.lease import Lease
from bot.jobs.rows import Pending
from bot.jobs.states import JobState
from bot.jobs.store import PendingActions
from bot.messages import t
from bot.services import intents
from bot.services.roles import role_of
from bot.store import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    summary: str
    unknown: bool = False  # SORACOM may or may not have done it, and reading back could not tell

    @property
    def state(self) -> JobState:
        return JobState.done if self.ok else JobState.unknown if self.unknown else JobState.failed


Executor = Callable[[JobContext, Pending], Awaitable[Outcome]]


class Executors(dict[str, Executor]):
    """A bot's executors, by the action name its jobs carry (`rt.state(Executors)`)."""


@dataclass(frozen=True)
class JobEngine:
    """One bot's jobs: its job store and database, this process's name as a lease owner, and what runs each action."""

    store: PendingActions
    db: Database
    worker_id: str
    admins: frozenset[str]
    executors: Executors
    read_backs: intents.ReadBacks  # how a write a dead process was making is read back (the sweeper's)

    async def context_for(self, job: Pending, lang: str) -> JobContext:
        """The context of a job taken over: its row's, with its owner's role as it is now."""
        return JobContext(job_id=job.id, user_id=job.user_id, team_id=job.team_id, channel_id=job.channel_id,
                          reading=RoleReading(await role_of(self.db, job.user_id, self.admins)), lang=lang,
                          command=job.command)

    async def run(self, context: JobContext, job: Pending) -> Outcome:
        """Runs a job this process has claimed, renewing its lease; stops if another worker took it over."""
        work = asyncio.current_task()
        assert work is not None
        held = Lease(self.store, self.worker_id, job, work)
        token = lease.current.set(held)
        keeper = asyncio.get_running_loop().create_task(held.keep(), name=f"lease:{job.id}")
        try:
            return await self._execute(context, job)
        except asyncio.CancelledError:
            if not held.lost:
                raise
            work.uncancel()
            log.warning("job %s was taken over by another run; this one stopped", job.id)
            return Outcome(False, t("common.pending_taken_over"), unknown=True)
        finally:
            lease.current.reset(token)
            keeper.cancel()

    async def _execute(self, context: JobContext, job: Pending) -> Outcome:
        try:
            # Executors say how their action ended, a failure included; this is for one that could not.
            outcome = await self.executors[job.action](context, job)
        except Exception:  # noqa: BLE001 - the job must end in its row whatever its executor did
            ref = secrets.token_hex(4)
            log.error("unexpected error, reference %s, in job %s (%s)", ref, job.id, job.action, exc_info=True)
            outcome = Outcome(False, t("common.internal_error", ref=ref), unknown=True)
        await self._finish(job, outcome)
        return outcome

    async def _finish(self, job: Pending, outcome: Outcome) -> None:
        """Writes how the job ended; retried, since SORACOM has acted and the row must say so."""
        for delay in (0.5, 2.0, 5.0, None):
            try:
                await self.store.finish(job.id, outcome.state, {"summary": outcome.summary[:2000]},
                                        owner=self.worker_id)
                return
            except Exception:  # noqa: BLE001 - after the last try the lease lapses and a takeover reconciles
                if delay is None:
                    log.error("could not record the end of job %s; it will be reconciled when taken over", job.id)
                    return
                await asyncio.sleep(delay)
