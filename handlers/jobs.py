"""The Slack side of the job engine (bot.jobs): the gated actions behind the Confirm buttons and their executors
as the engine runs them, the notifier that speaks to users for the engine, and what a stale button says."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs.context import JobContext
from bot.jobs.engine import Executor, Executors
from bot.jobs.engine import Outcome as Outcome  # the executors' result, as handlers.jobs.Outcome
from bot.jobs.rows import Pending
from bot.jobs.states import JobState
from bot.jobs.sweeper import SweepPass
from bot.messages import Mrkdwn, current_language, t
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services.language import speak
from handlers.common import Request, failure_text, outcome_of, user_language
from handlers.views import gate as views

log = logging.getLogger(__name__)

SlackExecutor = Callable[[Request, Pending], Awaitable[Outcome]]


@dataclass(frozen=True)
class GatedAction:
    name: str
    run: SlackExecutor
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
    """The action behind a Confirm button, and its executor for the engine."""
    actions(rt)[action.name] = action
    rt.state(Executors)[action.name] = _executor(rt, action)
    return action


class _Client:
    """The bot's Slack client (the app's): what a job's executor speaks through, wherever the job runs."""

    client: AsyncWebClient | None = None


def register(app: AsyncApp, rt: Runtime) -> None:
    rt.state(_Client).client = app.client


def request_for(rt: Runtime, context: JobContext, *, required: Role = Role.viewer,
                client: AsyncWebClient | None = None) -> Request:
    """The Request an executor speaks through: no Slack payload (its replies go out as private messages), for the
    job's command in its channel, with the context's role reading; through the app's client unless given one."""
    client = client or rt.state(_Client).client
    assert client is not None, "the job engine runs a Slack action before the app was built"
    return Request(rt=rt, client=client, respond=None, user_id=context.user_id, team_id=context.team_id,
                   channel_id=context.channel_id, trigger_id=None, reading=context.reading, command=context.command,
                   required=required, job_id=context.job_id)


def _executor(rt: Runtime, action: GatedAction) -> Executor:
    async def execute(context: JobContext, job: Pending) -> Outcome:
        speak(context.lang)
        request = request_for(rt, context, required=action.role)
        try:
            # Executors record how their action ended; this records a failure none of them did (a database error).
            async with request.audited(job.action, job.summary, failures_only=True):
                await request.recheck(job.action, job.summary)
                return await action.run(request, job)
        except Exception as exc:
            return Outcome(False, failure_text(exc, job.command), unknown=outcome_of(exc) in ("unknown", "error"))

    return execute


def context_of(request: Request, job: Pending) -> JobContext:
    """The context of a job confirmed by `request`: the presser's role reading, in the language they read."""
    return JobContext(job_id=job.id, user_id=request.user_id, team_id=request.team_id,
                      channel_id=job.channel_id or request.channel_id, reading=request.reading,
                      lang=current_language(), command=job.command)


async def run(request: Request, job: Pending) -> Outcome:
    """Runs a job `request` confirmed and this process claimed (bot.jobs.engine)."""
    return await request.rt.jobs.run(context_of(request, job), job)


class SweepPasses(list[Callable[[Runtime, AsyncWebClient], Awaitable[None]]]):
    """Other periodic work of a bot that every process does in each sweep (`rt.state(SweepPasses)`), deciding
    among processes through the database: the close of expired remote access."""


def sweep_passes(rt: Runtime, client: AsyncWebClient) -> list[SweepPass]:
    """The bot's sweep passes as the sweeper runs them."""
    return [functools.wraps(extra)(functools.partial(extra, rt, client)) for extra in rt.state(SweepPasses)]


class SlackNotifier:
    """The engine's notifier (bot.jobs.notifier.Notifier) on Slack: private messages, the code modal updated."""

    def __init__(self, rt: Runtime, client: AsyncWebClient) -> None:
        self.rt, self.client = rt, client

    async def language(self, user_id: str) -> str:
        return await user_language(self.rt, self.client, user_id)

    async def tell(self, user_id: str, channel_id: str | None, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel_id or user_id, user=user_id, text=text)
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", user_id, exc.response.get("error"))

    async def job_resumed(self, context: JobContext, job: Pending, outcome: Outcome) -> None:
        """After a takeover nobody waits on the original request: the owner is told privately, and in the modal."""
        request = request_for(self.rt, context, client=self.client)
        text = t("common.job_resumed", command=job.command, summary=outcome.summary)
        try:
            await request.reply(text)
        except SlackApiError as exc:
            log.warning("could not tell %s how job %s ended: %s", job.user_id, job.id, exc.response.get("error"))
        if job.view_id:
            with contextlib.suppress(SlackApiError):
                await self.client.views_update(view_id=job.view_id, view=request.view(
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
