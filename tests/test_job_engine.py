"""The job engine stands alone: jobs run through bot.jobs with a plain Python executor and a recording notifier, no
Slack anywhere, on SQLite and PostgreSQL: run under a lease, items and outcome recorded, taken over by another
worker once the first stopped and its lease lapsed, and writes and requests a dead process left told through the
notifier."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.jobs.context import JobContext
from bot.jobs.engine import Executors, JobEngine, Outcome
from bot.jobs.items import ItemLog
from bot.jobs.rows import Pending
from bot.jobs.states import ItemState, JobState
from bot.jobs.store import PendingActions
from bot.jobs.sweeper import Sweeper
from bot.security import replay
from bot.security.roles import Role
from bot.services import audit, roles
from bot.services.intents import ReadBacks
from bot.store import Database
from tests.clock import Clock

OWNER, ADMIN = "U_OWNER", "U_ADMIN"
ACTION = "demo.tag"
LEASE = timedelta(seconds=30)


@dataclass
class RecordingNotifier:
    """A Notifier (bot.jobs.notifier) that keeps what the engine would have said."""

    languages: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    told: list[tuple[str, str | None, str]] = field(default_factory=list)
    resumed: list[tuple[JobContext, Pending, Outcome]] = field(default_factory=list)
    any_resumed: asyncio.Event = field(default_factory=asyncio.Event)

    async def language(self, user_id: str) -> str:
        self.asked.append(user_id)
        return self.languages.get(user_id, "en")

    async def tell(self, user_id: str, channel_id: str | None, text: str) -> None:
        self.told.append((user_id, channel_id, text))

    async def job_resumed(self, context: JobContext, job: Pending, outcome: Outcome) -> None:
        self.resumed.append((context, job, outcome))
        self.any_resumed.set()


@dataclass
class TagExecutor:
    """A plain executor: ends each item still to do through the item log, the role read in its context."""

    store: PendingActions
    seen: list[JobContext] = field(default_factory=list)
    stop_after: int | None = None  # ends this many items, then waits: the process "dies" there
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, context: JobContext, job: Pending) -> Outcome:
        self.seen.append(context)
        if not context.reading.role.allows(Role.operator):
            return Outcome(False, f"refused: {context.reading.role.name}")
        todo = [item for item in await self.store.items(job.id) if item.state == ItemState.todo]
        async with ItemLog(self.store, job.id, job.action, actor=audit.Actor(context.user_id, context.team_id,
                                                                               context.channel_id),
                           command=context.command) as item_log:
            for n, item in enumerate(todo):
                if self.stop_after is not None and n == self.stop_after:
                    self.stopped.set()
                    await asyncio.Event().wait()
                await item_log.end(item.item, None)
        return Outcome(True, f"tagged {len(todo)} of {len(await self.store.items(job.id))}")


def engine(store: PendingActions, db: Database, worker: str, executor: TagExecutor,
           read_backs: ReadBacks | None = None) -> JobEngine:
    return JobEngine(store=store, db=db, worker_id=worker, admins=frozenset({ADMIN}),
                     executors=Executors({ACTION: executor}), read_backs=read_backs or ReadBacks())


async def new_job(store: PendingActions, items: int) -> Pending:
    return await store.create(user_id=OWNER, team_id="T1", channel_id="C1", action=ACTION, args={"tag": "x"},
                              requires_code=False, command="/demo tag x", summary=f"tag {items}",
                              items=[(f"item-{n}", f"name {n}") for n in range(items)])


def item_rows(entries: list[audit.AuditEntry]) -> list[tuple[str | None, str, str, str]]:
    return sorted((e.target, e.result, e.user_id, e.command) for e in entries if e.action == ACTION)


async def test_a_job_runs_through_the_engine_with_a_plain_executor(db: Database) -> None:
    clock = Clock()
    store = PendingActions(db, clock=clock, lease=LEASE)
    await roles.set_role(db, OWNER, Role.operator, granted_by=ADMIN)
    executor = TagExecutor(store)
    jobs = engine(store, db, "worker-a", executor)
    job = await new_job(store, 3)
    assert await store.claim(job.id, "worker-a")

    context = await jobs.context_for(job, "ja")
    outcome = await jobs.run(context, job)

    assert outcome == Outcome(True, "tagged 3 of 3")
    [seen] = executor.seen
    assert (seen.job_id, seen.user_id, seen.team_id, seen.channel_id, seen.lang, seen.command) == (
        job.id, OWNER, "T1", "C1", "ja", "/demo tag x")
    assert seen.reading.role is Role.operator
    ended = await store.get(job.id)
    assert ended is not None and ended.state == JobState.done and ended.result == {"summary": "tagged 3 of 3"}
    assert {item.state for item in await store.items(job.id)} == {ItemState.done}
    assert item_rows(await audit.latest(db, 20)) == [
        (f"item-{n}", "ok", OWNER, "/demo tag x") for n in range(3)]


async def test_the_last_ends_of_a_job_are_written_at_once_with_nothing_left_to_gather(db: Database) -> None:
    store = PendingActions(db, clock=Clock(), lease=LEASE)
    job = await new_job(store, 3)
    async with ItemLog(store, job.id, job.action, actor=audit.Actor(OWNER, "T1", "C1"), command=job.command,
                       expected=3) as item_log:
        item_log.GATHER = 3600.0  # ends wait for others this long while more are to come
        first = asyncio.gather(item_log.end("item-0", None), item_log.end("item-1", None))
        await asyncio.sleep(0.1)
        assert not first.done()
        await asyncio.wait_for(asyncio.gather(first, item_log.end("item-2", None)), timeout=30)
    assert {item.state for item in await store.items(job.id)} == {ItemState.done}
    assert len(item_rows(await audit.latest(db, 20))) == 3


async def test_a_role_taken_away_is_what_the_executor_reads(db: Database) -> None:
    store = PendingActions(db, clock=Clock(), lease=LEASE)
    await roles.set_role(db, OWNER, Role.viewer, granted_by=ADMIN)
    executor = TagExecutor(store)
    jobs = engine(store, db, "worker-a", executor)
    job = await new_job(store, 2)
    assert await store.claim(job.id, "worker-a")
    outcome = await jobs.run(await jobs.context_for(job, "en"), job)
    assert outcome == Outcome(False, "refused: viewer")
    ended = await store.get(job.id)
    assert ended is not None and ended.state == JobState.failed
    assert {item.state for item in await store.items(job.id)} == {ItemState.todo}
    assert not item_rows(await audit.latest(db, 20))


async def test_a_job_whose_worker_stopped_is_taken_over_after_its_lease_lapsed(db: Database) -> None:
    clock = Clock()
    store = PendingActions(db, clock=clock, lease=LEASE)
    await roles.set_role(db, OWNER, Role.operator, granted_by=ADMIN)
    job = await new_job(store, 4)

    # Worker A ends two items, then stops where it stands (its task cancelled, as a process killed leaves it).
    first = TagExecutor(store, stop_after=2)
    assert await store.claim(job.id, "worker-a")
    running = asyncio.get_running_loop().create_task(
        engine(store, db, "worker-a", first).run(await engine(store, db, "worker-a", first).context_for(job, "en"),
                                                  job))
    await asyncio.wait_for(first.stopped.wait(), 10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert (await store.get(job.id)).state == JobState.running  # type: ignore[union-attr]

    # Worker B's sweeper: nothing to take while A's lease holds; the job once it lapsed.
    second = TagExecutor(store)
    notifier = RecordingNotifier(languages={OWNER: "ja"})
    sweeper = Sweeper(engine(store, db, "worker-b", second), notifier)
    assert await sweeper.sweep() == []
    await roles.set_role(db, OWNER, Role.admin, granted_by=ADMIN)  # the takeover reads the role again
    clock.advance(LEASE.total_seconds() + 1)
    assert await sweeper.sweep() == [job.id]
    await asyncio.wait_for(notifier.any_resumed.wait(), 10)

    [context] = second.seen
    assert context.reading.role is Role.admin and context.lang == "ja" and context.channel_id == "C1"
    assert notifier.asked == [OWNER]
    [(told_context, told_job, outcome)] = notifier.resumed
    assert told_context == context and told_job.id == job.id and told_job.attempts == 2
    assert outcome == Outcome(True, "tagged 2 of 4")  # the two A left
    ended = await store.get(job.id)
    assert ended is not None and ended.state == JobState.done and ended.attempts == 2
    assert {item.state for item in await store.items(job.id)} == {ItemState.done}
    # Every item recorded once: A's two and B's two, none done twice.
    assert item_rows(await audit.latest(db, 20)) == [
        (f"item-{n}", "ok", OWNER, "/demo tag x") for n in range(4)]
    await sweeper.stop()


async def test_a_worker_whose_lease_was_taken_over_stops(db: Database) -> None:
    clock = Clock()
    store = PendingActions(db, clock=clock, lease=timedelta(seconds=0.3))  # renewed every 0.1 s
    await roles.set_role(db, OWNER, Role.operator, granted_by=ADMIN)
    job = await new_job(store, 2)
    slow = TagExecutor(store, stop_after=0)
    jobs = engine(store, db, "worker-a", slow)
    assert await store.claim(job.id, "worker-a")
    running = asyncio.get_running_loop().create_task(jobs.run(await jobs.context_for(job, "en"), job))
    await asyncio.wait_for(slow.stopped.wait(), 10)
    while (taken := await store.take_over("worker-b")) is None:  # A hung past its lease: B takes the job over
        clock.advance(1)
    assert taken.id == job.id
    outcome = await asyncio.wait_for(running, 10)  # A's next renewal finds the lease gone, and A stops
    assert outcome.unknown and not outcome.ok
    assert (await store.get(job.id)).state == JobState.running  # type: ignore[union-attr]  # B's to end


async def test_writes_and_requests_a_dead_process_left_are_told_through_the_notifier(db: Database) -> None:
    clock = Clock()
    # A lease of nothing: the dead worker, which never beat, is silent at once (the intents' ages are the bot's).
    store = PendingActions(db, clock=clock, lease=timedelta(0))
    actor = audit.Actor("U_ONE", "T1", "C1")
    await audit.open_intent(db, actor, command="/demo tag item-9", action=ACTION, target="item-9",
                            owner="dead-worker", readback={"item": "item-9"})
    assert await replay.remember(db, "request-1", clock.now + timedelta(hours=1),
                                 replay.Taken("dead-worker", "U_TWO", None, "/demo list"))
    checked: list[dict[str, object]] = []

    async def shows(args: dict[str, object]) -> bool:
        checked.append(args)
        return True

    notifier = RecordingNotifier(languages={"U_TWO": "ja"})
    await asyncio.sleep(0.01)
    sweeper = Sweeper(engine(store, db, "worker-b", TagExecutor(store), ReadBacks({ACTION: shows})), notifier)
    assert await sweeper.sweep() == []

    assert checked == [{"item": "item-9"}]
    assert notifier.asked == ["U_ONE", "U_TWO"]
    [(one, one_channel, one_text), (two, two_channel, two_text)] = notifier.told
    assert (one, one_channel, two, two_channel) == ("U_ONE", "C1", "U_TWO", None)
    assert "/demo tag item-9" in one_text and "SORACOM" in one_text  # read back: done
    assert "/demo list" in two_text and "再起動" in two_text  # in the user's language
    intents = [e for e in await audit.latest(db, 10) if e.target == "item-9"]
    assert [e.result for e in intents] == ["ok"]
    assert await sweeper.sweep() == [] and len(notifier.told) == 2  # told once


def test_the_engine_loads_no_slack() -> None:
    """bot.jobs imported alone brings no Slack library in (import-linter checks the source; this the run)."""
    import subprocess

    code = ("import sys, bot.jobs.engine, bot.jobs.sweeper, bot.jobs.items, bot.jobs.notifier; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('slack_sdk', 'slack_bolt', 'handlers')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
