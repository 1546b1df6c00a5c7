"""What every handler shares: parsing, role checks, private replies, channel posts, audit, error reporting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import OperationalError

from bot.messages import language_of_locale, set_language, t, unescape
from bot.messages.locales import USER_LANGUAGE_FAILURE_TTL, USER_LANGUAGE_LOOKUP_SECONDS
from bot.runtime import Runtime
from bot.security.roles import Role
from bot.services import audit
from bot.services.roles import role_of
from bot.services.errors import InputError, ServiceError, WriteUnconfirmed
from handlers.views.common import message_text, with_marker
from handlers.views.common import text as section

log = logging.getLogger(__name__)

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
class Request:
    """One user's command or click, with what a handler needs to answer it."""

    rt: Runtime
    client: AsyncWebClient
    respond: AsyncRespond | None
    user_id: str
    team_id: str | None
    channel_id: str | None
    trigger_id: str | None
    role: Role
    command: str = ""
    text: str = ""
    args: list[str] = field(default_factory=list)
    value: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    audited: bool = False
    required: Role = Role.viewer  # the role the action being run needs: read again before each SORACOM write
    _role_read_at: float | None = field(default=None, repr=False)  # loop time of the last read, for `within`

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(self.user_id, self.team_id, self.channel_id)

    @property
    def command_line(self) -> str:
        if self.command in REDACTED_COMMANDS:  # their arguments are one-time codes
            return f"{self.command} {self.text.split(' ', 1)[0]}".strip()
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

    async def post(self, text: str, blocks: Blocks | None = None, channel: str | None = None) -> str:
        """A message everyone in the channel sees; returns its ts for later updates."""
        response = await self.client.chat_postMessage(channel=channel or self.channel_id or self.user_id,
                                                      text=message_text(text), blocks=self.blocks(text, blocks))
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
                                      text=message_text(text), blocks=self.blocks(text, blocks))

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
        loop = asyncio.get_running_loop()
        if self._role_read_at is None or loop.time() - self._role_read_at >= within:
            asked_at = loop.time()  # what the read returns is the database as it was then
            self.role = await role_of(self.rt.db, self.user_id, self.rt.settings.admins)
            self._role_read_at = asked_at
        if not self.role.allows(self.required):
            if audit:
                await self.audit(action, target, "refused", f"role {self.role.name} < {self.required.name}")
            raise Refused(t("common.refused_now", role=self.role.name, required=self.required.name))

    async def audit(self, action: str, target: str | None, result: str, error: str | None = None) -> None:
        self.audited = True
        await audit.record(
            self.rt.db, self.actor, command=self.command_line, action=action, target=target, result=result, error=error
        )


Handler = Callable[[Request], Awaitable[None]]


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
    set_language(await user_language(rt, client, user_id))


NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
SLASH_COMMANDS: set[str] = set()  # every slash command registered; the manifest must list exactly these


@dataclass(frozen=True)
class Subcommand:
    name: str
    run: Handler
    role: Role = Role.viewer
    mutating: bool = False


def failure_text(exc: BaseException, context: str = "") -> str:
    """What to tell a user about a failure: plain, private, never a traceback (that goes to the log)."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, InputError):
        return t(exc.message_id, **exc.values)
    if isinstance(exc, WriteUnconfirmed):
        key = "common.write_unconfirmed_not_changed" if exc.changed is False else "common.write_unconfirmed_unknown"
        return t(key, detail=exc.detail, what=exc.what)
    if database_busy(exc):
        log.warning("database locked past its busy timeout in %s", context)
        return t("common.database_busy", command=context)
    if isinstance(exc, ServiceError):
        log.warning("SORACOM error in %s: %s", context, exc)
        return soracom_failure_text(exc)
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown")
        log.warning("Slack refused a call in %s: %s", context, error)
        hint = "common.slack_not_in_channel" if error in NOT_IN_CHANNEL else "common.slack_error"
        return t(hint, error=error)
    ref = secrets.token_hex(4)
    log.error("unexpected error, reference %s, in %s", ref, context, exc_info=exc)
    return t("common.internal_error", ref=ref)


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


def soracom_failure_text(exc: ServiceError) -> str:
    if exc.unavailable:
        return t("common.soracom_unavailable", message=exc.message)
    return t("common.soracom_error", message=str(exc))


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
    SLASH_COMMANDS.add(command)

    async def on_command(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond) -> None:
        await ack()
        lang, role = await asyncio.gather(user_language(rt, client, body["user_id"]),
                                          role_of(rt.db, body["user_id"], rt.settings.admins))
        set_language(lang)  # here, not in a task of gather's: their context dies with them
        request = Request(
            rt=rt,
            client=client,
            respond=respond,
            user_id=body["user_id"],
            team_id=body.get("team_id"),
            channel_id=body.get("channel_id"),
            trigger_id=body.get("trigger_id"),
            role=role,
            command=command,
            # Slack sends the &, < and > a user typed as entities (mentions as <@U…>): decoded once, here.
            text=unescape((body.get("text") or "").strip()),
            body=body,
        )
        sub: Subcommand | None = None
        try:
            args = split_args(request.text)
            sub, request.args = _choose(table, default, args)
            if sub is None:
                await _usage(request, usage_id, unknown=args[0] if args and args[0] != "help" else None)
                return
            if not request.role.allows(sub.role):
                await _refuse(request, sub)
                return
            await sub.run(request)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the user
            message = await report_failure(request, exc)
            if sub is not None and sub.mutating and not request.audited:
                refused = isinstance(exc, (UserError, InputError))
                await request.audit(_action_name(request, sub), " ".join(request.args) or None,
                              "refused" if refused else "error", message)

    app.command(command)(on_command)


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


def _action_name(request: Request, sub: Subcommand) -> str:
    return f"{request.command.lstrip('/')}.{sub.name}"


async def _refuse(request: Request, sub: Subcommand) -> None:
    if sub.mutating:
        await request.audit(_action_name(request, sub), " ".join(request.args) or None, "refused",
                      f"role {request.role.name} < {sub.role.name}")
    await request.reply(
        t("common.refused_role", role=request.role.name, command=request.command, sub=sub.name,
          required=sub.role.name, user=request.user_id)
    )


async def interaction_request(rt: Runtime, body: dict[str, Any], client: AsyncWebClient,
                              respond: AsyncRespond | None) -> Request:
    """A Request for a button press, select or modal submission, with the user's role as it is now."""
    user_id = body["user"]["id"]
    lang, role = await asyncio.gather(user_language(rt, client, user_id), role_of(rt.db, user_id, rt.settings.admins))
    set_language(lang)
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
        role=role,
        value=actions[0].get("value") or (actions[0].get("selected_option") or {}).get("value"),
        body=body,
    )


def register_action(
    app: AsyncApp, rt: Runtime, action_id: str | re.Pattern[str], run: Handler, *, role: Role = Role.viewer
) -> None:
    """A button or select; refused privately, with nothing done, below `role`."""

    async def on_action(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient,
                        respond: AsyncRespond) -> None:
        await ack()
        request = await interaction_request(rt, body, client, respond)
        try:
            if not request.role.allows(role):
                raise UserError(t("common.refused_button", role=request.role.name, required=role.name,
                                  user=request.user_id))
            await run(request)
        except Exception as exc:  # noqa: BLE001
            await report_failure(request, exc)

    app.action(action_id)(on_action)
