"""What every handler shares: parsing, role checks, private replies, channel posts, audit, error reporting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import OperationalError

from bot.jobs.context import RoleReading as RoleReading  # a Request's role reading is a job's too
from bot.messages import language_of_locale, t, unescape
from bot.messages.locales import USER_LANGUAGE_FAILURE_TTL, USER_LANGUAGE_LOOKUP_SECONDS
from bot.runtime import Runtime
from bot.security import replay
from bot.security.roles import Role
from bot.services import audit
from bot.services.language import speak, writing_in
from bot.services.roles import role_of
from bot.services.errors import InputError, NotRecorded, ServiceError, WriteUnconfirmed, database_unavailable
from handlers.views.common import message_text, with_marker
from handlers.views.common import text as section

log = logging.getLogger(__name__)
T = TypeVar("T")

# Slack IDs are upper-case letters and digits; the underscore admits the stand-in's readable IDs (U_LOCAL).
USER_REF = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9_]{2,})$")
CHANNEL_REF = re.compile(r"^<#([CGD][A-Z0-9_]+)(?:\|[^>]*)?>$|^#?([CGD][A-Z0-9_]{2,})$")


REDACTED_COMMANDS = frozenset({"/mfa"})
# Room for one 64 KB configuration value and its command; beyond it, parsing alone would take seconds.
MAX_COMMAND_TEXT = 80_000


class UserError(Exception):
    """Bad input or a refused request: the message goes privately to the user, and nothing was changed."""


class Refused(UserError):
    """The acting user's role, read again just now, no longer allows what they asked for."""


class Failed(UserError):
    """SORACOM refused or failed the change (said why, and nothing was changed): told privately, audited `failed`."""


def parse_user(value: str) -> str:
    match = USER_REF.match(value.strip())
    if not match:
        raise UserError(t("common.bad_user", value=value))
    return match.group(1) or match.group(2)


def parse_channel(value: str) -> str:
    match = CHANNEL_REF.match(value.strip())
    if not match:
        raise UserError(t("common.bad_channel", value=value))
    return match.group(1) or match.group(2)


def split_args(text: str) -> list[str]:
    if len(text) > MAX_COMMAND_TEXT:
        raise UserError(t("common.command_too_long", length=len(text), limit=MAX_COMMAND_TEXT))
    try:
        return shlex.split(text or "")
    except ValueError:
        raise UserError(t("common.bad_quotes", text=text)) from None


Blocks = Sequence[Block | dict[str, Any]]


@dataclass
class ActionAudit:
    """The audit of one action being done: `Request.audited` opens it and writes its row when the action ends."""

    action: str
    target: str | None
    result: str | None = "ok"  # what a normal end records; None: nothing (a failure is recorded all the same)
    detail: str | None = None

    def end(self, result: str | None, detail: str | None = None) -> None:
        """How the action ended when that is not an exception: `refused`, `failed` or `unknown`, with why."""
        self.result, self.detail = result, detail


@dataclass(frozen=True)
class Request:
    """One user's command or click, with what a handler needs to answer it."""

    rt: Runtime
    client: AsyncWebClient
    respond: AsyncRespond | None
    user_id: str
    team_id: str | None
    channel_id: str | None
    trigger_id: str | None
    reading: RoleReading
    command: str = ""
    text: str = ""
    args: list[str] = field(default_factory=list)
    value: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    required: Role = Role.viewer  # the role the action being run needs: read again before each SORACOM write
    public_args: int | None = None  # only these first arguments reach the audit and the log (the rest is secret)
    job_id: str | None = None  # the job this request runs: its intents keep their key when it is taken over

    @property
    def role(self) -> Role:
        return self.reading.role

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(self.user_id, self.team_id, self.channel_id)

    @property
    def command_line(self) -> str:
        if self.command in REDACTED_COMMANDS:  # their arguments are one-time codes
            return f"{self.command} {self.text.split(' ', 1)[0]}".strip()
        if self.public_args is not None:  # e.g. an SMS's text: it may carry a device command or a secret
            return " ".join([self.command, *self.text.split()[:1 + self.public_args], "…"])
        return f"{self.command} {self.text}".strip()

    def blocks(self, text: str, blocks: Blocks | None) -> list[dict[str, Any]]:
        """Blocks as Slack takes them (the text alone as a section when there are none), with the sandbox marker."""
        items = [section(text)] if blocks is None else blocks
        plain = [b.to_dict() if isinstance(b, Block) else b for b in items]
        return with_marker(plain, self.rt.sandbox)

    async def reply(self, text: str, blocks: Blocks | None = None, *, replace_original: bool = False) -> None:
        """A private answer to whoever typed the command or pressed the button."""
        rendered, text = self.blocks(text, blocks), message_text(text)
        if self.respond is not None:
            await self.respond(
                text=text, blocks=rendered, response_type="ephemeral", replace_original=replace_original
            )
            return
        await self.client.chat_postEphemeral(
            channel=self.channel_id or self.user_id, user=self.user_id, text=text, blocks=rendered
        )

    def for_channel(self, render: Callable[..., T], *args: Any, **values: Any) -> T:
        """What `render` writes, in the workspace's language (BOT_LANG): a channel's post is read by everyone, so
        it is never in the language of whoever made it."""
        with writing_in(self.rt.settings.BOT_LANG):
            return render(*args, **values)

    async def post(self, text: str, blocks: Blocks | None = None, channel: str | None = None) -> str:
        """A message everyone in the channel sees; returns its ts for later updates."""
        response = await self.client.chat_postMessage(channel=channel or self.channel_id or self.user_id,
                                                      text=message_text(text),
                                                      blocks=self.for_channel(self.blocks, text, blocks))
        return response["ts"]

    async def announce(self, text: str, blocks: Blocks | None = None) -> None:
        """An outcome the channel should see. It stands whatever Slack says: a refused post is logged and the user
        is told privately where it failed, with the text."""
        try:
            await self.post(text, blocks)
        except SlackApiError as exc:
            problem = failure_text(exc, self.command_line)  # logs it, and says how to let the bot post there
            with contextlib.suppress(SlackApiError):
                await self.reply(t("common.announce_failed", problem=problem, text=text))

    async def update(self, ts: str, text: str, blocks: Blocks | None = None, channel: str | None = None) -> None:
        await self.client.chat_update(channel=channel or self.channel_id or self.user_id, ts=ts,
                                      text=message_text(text), blocks=self.for_channel(self.blocks, text, blocks))

    async def open_view(self, view: View | dict[str, Any]) -> dict[str, Any]:
        response = await self.client.views_open(trigger_id=self.trigger_id, view=self.view(view))
        return response["view"]

    def view(self, view: View | dict[str, Any]) -> dict[str, Any]:
        plain = view.to_dict() if isinstance(view, View) else dict(view)
        plain["blocks"] = with_marker(plain.get("blocks", []), self.rt.sandbox)
        return plain

    async def recheck(self, action: str, target: str | None, *, audit: bool = True, within: float = 0.0) -> None:
        """The role as it is now, not when the button was shown: Refused (and audited) once it no longer allows.

        `within`: a read at most that many seconds old serves (a bulk run's workers share one per SORACOM call).
        """
        loop, reading = asyncio.get_running_loop(), self.reading
        now = loop.time()
        if reading.read_at is None or now - reading.read_at >= within:
            asking = reading.asking
            if asking is None or asking[1].done() or now - asking[0] >= within:
                # What the read returns is the database as it was when asked: one asked within `within` serves.
                asking = reading.asking = (now, asyncio.ensure_future(
                    role_of(self.rt.db, self.user_id, self.rt.settings.admins)))
            asked_at, read = asking
            role = await asyncio.shield(read)
            if reading.read_at is None or asked_at >= reading.read_at:  # else a read asked later is there
                reading.role, reading.read_at = role, asked_at
        if self.role.allows(self.required):
            return
        refusal = Refused(t("common.refused_now", role=self.role.name, required=self.required.name))
        if audit:
            async with self.audited(action, target):
                raise refusal
        raise refusal

    @contextlib.asynccontextmanager
    async def audited(self, action: str, target: str | None, *, failures_only: bool = False,
                      readback: dict[str, Any] | None = None) -> AsyncIterator[ActionAudit]:
        """The one way an action is audited, and the one way a SORACOM write is made: its row is committed as an
        intent (`started`) before the block runs, and ends when the block ends, `ok` (or what the block set with
        `entry.end`), or how the exception that ends it classifies (`outcome_of`, `audit_detail`). A process that
        dies inside the block leaves the intent open: another reads the change back (`readback`, the arguments
        the action's read-back takes: bot.services.intents) and says how it ended, to the user and in the row.

        A failure is recorded once, by the innermost entry it leaves. `failures_only`: no intent, and a normal end
        records nothing (the command router's entry: the handler records what it did where it does it; a preview
        records nothing).
        """
        entry = ActionAudit(action, target, result=None if failures_only else "ok")
        key = None
        if not failures_only:
            key = await audit.open_intent(self.rt.db, self.actor, command=self.command_line, action=action,
                                          target=target, owner=self.rt.worker_id, job_id=self.job_id,
                                          readback=readback)
        try:
            yield entry
        except Exception as exc:
            if not getattr(exc, _ON_RECORD, False):
                setattr(exc, _ON_RECORD, True)
                await self._record(entry.action, entry.target, outcome_of(exc), audit_detail(exc, self.command_line),
                                   key)
            elif key is not None:
                await audit.drop_intent(self.rt.db, key)
            raise
        if entry.result is not None:
            await self._record(entry.action, entry.target, entry.result, entry.detail, key)
        elif key is not None:
            await audit.drop_intent(self.rt.db, key)

    async def _record(self, action: str, target: str | None, result: str, detail: str | None,
                      key: str | None = None) -> None:
        if key is None:
            stored = await audit.record(self.rt.db, self.actor, command=self.command_line, action=action,
                                        target=target, result=result, error=detail)
        else:
            stored = await audit.close_intent(self.rt.db, self.actor, key, command=self.command_line, action=action,
                                              target=target, result=result, error=detail)
        if not stored and result in ("ok", "unknown"):  # something may have changed at SORACOM: say it is recorded
            with contextlib.suppress(SlackApiError):
                await self.reply(t("record.pending", command=self.command_line))


# Set on an exception once an audit entry recorded it, so that the entries around that one do not record it again.
_ON_RECORD = "_audit_recorded"


def outcome_of(exc: BaseException) -> str:
    """How an action that `exc` ended went: `refused` (bad input or not allowed: nothing done), `failed` (SORACOM
    said no: nothing changed), `unknown` (it may have been done) or `error` (anything else)."""
    if isinstance(exc, Failed):
        return "failed"
    if isinstance(exc, UserError | InputError | NotRecorded):
        return "refused"
    if isinstance(exc, WriteUnconfirmed):
        return "failed" if exc.changed is False else "unknown"
    if isinstance(exc, ServiceError) and not exc.ambiguous:
        return "failed"
    return "error"


def audit_detail(exc: BaseException, context: str = "") -> str:
    """What an audit row says of a failure: what the user was told of an expected one, only the type of any other
    (the log has it in full, under the reference the user was given)."""
    return expected_text(exc, context) or type(exc).__name__


Handler = Callable[[Request], Awaitable[None]]


def taken_request(body: dict[str, Any], owner: str) -> replay.Taken | None:
    """What a worker remembers of an acked command or press it takes (never an /mfa code), to tell its user if
    the worker dies before the listener ends."""
    if body.get("command"):
        command, text = str(body["command"]), str(body.get("text") or "")
        # The subcommand and its target only: what follows may be secret (an /mfa code, an SMS's text).
        words = text.split()[:1 if command in REDACTED_COMMANDS else 2]
        line = " ".join([command, *words])
        return replay.Taken(owner, str(body.get("user_id") or ""), body.get("channel_id"), line.strip()[:500])
    user = body.get("user") or {}
    if isinstance(user, dict) and user.get("id"):
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        return replay.Taken(owner, str(user["id"]), channel, "")
    return None


async def listener_ended(rt: Runtime, request: Any) -> None:
    """The request a worker took is handled (a failure was told): nobody needs telling if the worker dies now."""
    key = replay.key_of(request.headers) if request is not None else None
    if key is None:
        return
    try:
        await replay.done(rt.db, key)
    except Exception:  # noqa: BLE001 - at worst its user hears after a crash that it may not have run
        log.warning("could not mark a handled request", exc_info=True)


async def user_language(rt: Runtime, client: AsyncWebClient, user_id: str) -> str:
    """The language of the user's Slack locale, BOT_LANG when it has no catalogue or Slack does not say."""
    known = rt.languages.get(user_id)
    if known is not None:
        return known
    default = rt.settings.BOT_LANG
    try:
        # Bounded: a modal's submission runs this before its ack, inside Slack's three seconds.
        response = await asyncio.wait_for(client.users_info(user=user_id, include_locale=True),
                                          USER_LANGUAGE_LOOKUP_SECONDS)
    except Exception as exc:  # noqa: BLE001 - a reply in the default language beats no reply
        log.warning("users.info of %s failed (%s); replying in %s", user_id, _slack_error(exc), default)
        rt.languages.put(user_id, default, ttl=USER_LANGUAGE_FAILURE_TTL)
        return default
    lang = language_of_locale((response.get("user") or {}).get("locale"), default)
    rt.languages.put(user_id, lang)
    return lang


def _slack_error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "unknown")
    return type(exc).__name__


async def speak_to(rt: Runtime, client: AsyncWebClient, user_id: str) -> None:
    """Everything the current request writes from now on is in `user_id`'s language."""
    speak(await user_language(rt, client, user_id))


NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


class Background(set["asyncio.Task[Any]"]):
    """Tasks handlers started that outlive them (per bot: `rt.state(Background)`): held so that none is collected
    mid-way."""


def in_background(rt: Runtime, work: Coroutine[Any, Any, Any], name: str) -> None:
    task = asyncio.get_running_loop().create_task(work, name=name)
    running = rt.state(Background)
    running.add(task)
    task.add_done_callback(running.discard)


class SlashCommands(set[str]):
    """Every slash command a bot registered (`rt.state(SlashCommands)`): its manifest must list exactly these."""


@dataclass(frozen=True)
class Subcommand:
    name: str
    run: Handler
    role: Role = Role.viewer
    mutating: bool = False
    public_args: int | None = None  # arguments past these are never audited nor logged


def failure_text(exc: BaseException, context: str = "") -> str:
    """What to tell a user about a failure: plain, private, never a traceback (that goes to the log)."""
    known = expected_text(exc, context)
    if known is None:
        ref = secrets.token_hex(4)
        log.error("unexpected error, reference %s, in %s", ref, context, exc_info=exc)
        return t("common.internal_error", ref=ref)
    if database_busy(exc):
        log.warning("database locked past its busy timeout in %s", context)
    elif database_unavailable(exc):
        log.error("the database is unavailable in %s: %s", context, type(exc).__name__)
    elif isinstance(exc, ServiceError):
        log.warning("SORACOM error in %s: %s", context, exc)
    elif isinstance(exc, SlackApiError):
        log.warning("Slack refused a call in %s: %s", context, _slack_error(exc))
    return known


def expected_text(exc: BaseException, context: str = "") -> str | None:
    """The user's text for a failure the bot expects (bad input, a refusal, SORACOM or Slack saying no); None for
    any other."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, InputError):
        return t(exc.message_id, **exc.values)
    if isinstance(exc, NotRecorded):
        return t("record.not_started", command=context)
    if isinstance(exc, WriteUnconfirmed):
        key = "common.write_unconfirmed_not_changed" if exc.changed is False else "common.write_unconfirmed_unknown"
        return t(key, detail=exc.detail, what=exc.what)
    if database_busy(exc):
        return t("common.database_busy", command=context)
    if database_unavailable(exc):
        return t("surface.database_unavailable")
    if isinstance(exc, ServiceError):
        if exc.unavailable:
            return t("common.soracom_unavailable", message=exc.message)
        return t("common.soracom_error", message=str(exc))
    if isinstance(exc, SlackApiError):
        error = _slack_error(exc)
        return t("common.slack_not_in_channel" if error in NOT_IN_CHANNEL else "common.slack_error", error=error)
    return None


def database_busy(exc: BaseException) -> bool:
    """SQLite still locked by another connection after the busy timeout (the driver names it so, nothing else)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


async def report_failure(request: Request, exc: BaseException) -> str:
    """Tells the user privately what failed; returns that text."""
    message = failure_text(exc, request.command_line or str(request.body.get("type")))
    try:
        await request.reply(message)
    except SlackApiError as slack_exc:
        log.error("could not tell %s about a failure: %s", request.user_id, slack_exc.response.get("error"))
    return message


def register_command(
    app: AsyncApp,
    rt: Runtime,
    command: str,
    subcommands: Sequence[Subcommand],
    *,
    usage_id: str,
    default: Subcommand | None = None,
) -> None:
    """One slash command with subcommands; `help`, no text, or an unknown subcommand show its usage."""
    table = {sub.name: sub for sub in subcommands}
    rt.state(SlashCommands).add(command)

    async def on_command(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond, request: Any) -> None:
        try:
            await handle_command(ack, body, client, respond)
        finally:
            await listener_ended(rt, request)

    async def handle_command(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        await ack()
        lang, role = await asyncio.gather(user_language(rt, client, body["user_id"]),
                                          role_of(rt.db, body["user_id"], rt.settings.admins))
        speak(lang)  # here, not in a task of gather's: their context dies with them
        request = Request(
            rt=rt,
            client=client,
            respond=respond,
            user_id=body["user_id"],
            team_id=body.get("team_id"),
            channel_id=body.get("channel_id"),
            trigger_id=body.get("trigger_id"),
            reading=RoleReading(role),
            command=command,
            # Slack sends the &, < and > a user typed as entities (mentions as <@U…>): decoded once, here.
            text=unescape((body.get("text") or "").strip()),
            body=body,
        )
        try:
            args = _arguments(table, request.text)
            sub, args = _choose(table, default, args)
            if sub is None:
                await _usage(request, usage_id, unknown=args[0] if args and args[0] != "help" else None)
                return
            request = replace(request, args=args, public_args=sub.public_args)
            await _run(request, sub)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the user
            await report_failure(request, exc)

    app.command(command)(on_command)


async def _run(request: Request, sub: Subcommand) -> None:
    """A mutating subcommand's failure is audited whatever it was (bad input, a refusal, an error): its success is
    recorded by the handler, where the action is done (a preview waiting for Confirm records nothing)."""
    scope: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
    if sub.mutating:
        shown = request.args if sub.public_args is None else request.args[:sub.public_args]
        scope = request.audited(f"{request.command.lstrip('/')}.{sub.name}", " ".join(shown) or None,
                                failures_only=True)
    async with scope:
        if not request.role.allows(sub.role):
            raise UserError(t("common.refused_role", role=request.role.name, command=request.command, sub=sub.name,
                              required=sub.role.name, user=request.user_id))
        await sub.run(request)


def _arguments(table: dict[str, Subcommand], text: str) -> list[str]:
    """The words of a command; a subcommand with secret arguments keeps its last one as typed (an SMS's text:
    quotes and apostrophes are its own, not shell quoting)."""
    words = text.split(None, 1)
    sub = table.get(words[0].lower()) if words else None
    if sub is not None and sub.public_args is not None:
        if len(text) > MAX_COMMAND_TEXT:
            raise UserError(t("common.command_too_long", length=len(text), limit=MAX_COMMAND_TEXT))
        return text.split(None, 1 + sub.public_args)
    return split_args(text)


def _choose(
    table: dict[str, Subcommand], default: Subcommand | None, args: list[str]
) -> tuple[Subcommand | None, list[str]]:
    if args and args[0].lower() in table:
        return table[args[0].lower()], args[1:]
    if args and args[0].lower() == "help":
        return None, []
    if default is not None and (not args or not args[0].isalpha()):
        return default, args
    return None, args


async def _usage(request: Request, usage_id: str, unknown: str | None) -> None:
    usage = t(usage_id)
    if unknown:
        await request.reply(t("common.unknown_subcommand", command=request.command, sub=unknown, usage=usage))
    else:
        await request.reply(f"{t('common.usage_title', command=request.command)}\n{usage}")


async def interaction_request(rt: Runtime, body: dict[str, Any], client: AsyncWebClient,
                              respond: AsyncRespond | None) -> Request:
    """A Request for a button press, select or modal submission, with the user's role as it is now."""
    user_id = body["user"]["id"]
    lang, role = await asyncio.gather(user_language(rt, client, user_id), role_of(rt.db, user_id, rt.settings.admins))
    speak(lang)
    actions = body.get("actions") or [{}]
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return Request(
        rt=rt,
        client=client,
        respond=respond if body.get("response_url") or (body.get("response_urls") or []) else None,
        user_id=body["user"]["id"],
        team_id=(body.get("team") or {}).get("id") or body["user"].get("team_id"),
        channel_id=channel,
        trigger_id=body.get("trigger_id"),
        reading=RoleReading(role),
        value=actions[0].get("value") or (actions[0].get("selected_option") or {}).get("value"),
        body=body,
    )


def register_action(
    app: AsyncApp, rt: Runtime, action_id: str | re.Pattern[str], run: Handler, *, role: Role = Role.viewer
) -> None:
    """A button or select; refused privately, with nothing done, below `role`."""

    async def on_action(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient,
                        respond: AsyncRespond, request: Any) -> None:
        slack_request = request
        try:
            await ack()
            pressed = await interaction_request(rt, body, client, respond)
            try:
                if not pressed.role.allows(role):
                    raise UserError(t("common.refused_button", role=pressed.role.name, required=role.name,
                                      user=pressed.user_id))
                await run(pressed)
            except Exception as exc:  # noqa: BLE001
                await report_failure(pressed, exc)
        finally:
            await listener_ended(rt, slack_request)

    app.action(action_id)(on_action)
