"""/group: list, show, create, delete (gated), and configuration parameters with typed values."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.messages import t
from bot.runtime import Runtime
from bot.jobs.rows import Pending
from bot.security.roles import Role
from bot.services import groups, intents
from bot.services.errors import InputError
from handlers import gate, jobs
from handlers.common import Request, Subcommand, UserError, register_command
from handlers.views import group as views

CREATE_ACTION = "group.create"
DELETE_ACTION = "group.delete"
CONFIG_ACTION = "group.config"
# Some clients turn quotes into typographic ones.
TYPOGRAPHIC_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def one_argument(request: Request, usage_id: str) -> str:
    if len(request.args) != 1:
        raise UserError(t(usage_id))
    return request.args[0]


# /group list, /group show


async def list_groups(request: Request) -> None:
    found = await groups.list_groups(request.rt.soracom)
    await request.reply(t("group.list_title", count=len(found)), views.list_blocks(found))


async def show_group(request: Request) -> None:
    detail = await groups.show_group(request.rt.soracom, one_argument(request, "group.show_usage"))
    await request.reply(t("group.show_title", name=views.label(detail.name), group_id=detail.group_id),
                        views.detail_blocks(detail))


# /group create


async def create_group(request: Request) -> None:
    name = one_argument(request, "group.create_usage")
    async with request.audited(CREATE_ACTION, name, readback={"name": name}) as entry:
        created = await groups.create_group(request.rt.soracom, name)
        entry.target = f"{created.name} {created.group_id}"
    await request.announce(request.for_channel(t, "group.created", user=request.user_id,
                                               name=views.escape(created.name or ""), group_id=created.group_id))


# /group delete (gated)


async def ask_delete(request: Request) -> None:
    group = await groups.find_group(request.rt.soracom, one_argument(request, "group.delete_usage"))
    await groups.ensure_empty(request.rt.soracom, group)
    blocks, summary = views.delete_preview(group.name_tag, group.id, len(group.configuration))
    await gate.ask(request, DELETE_ACTION, {"group_id": group.id, "name": group.name_tag},
                   blocks, summary)


async def run_delete(request: Request, pending: Pending) -> jobs.Outcome:
    group_id, name = pending.args["group_id"], pending.args["name"]
    async with request.audited(DELETE_ACTION, f"{name} {group_id}" if name else group_id):
        try:
            await groups.delete_group(request.rt.soracom, group_id)
        except InputError as exc:
            if not (pending.resumed and exc.message_id == "group.not_found"):  # else: deleted before the takeover
                raise
    done = t("group.deleted", user=request.user_id, name=views.label(name), group_id=group_id)
    await request.announce(request.for_channel(t, "group.deleted", user=request.user_id, name=views.label(name),
                                               group_id=group_id))
    return jobs.Outcome(True, done)


# /group config GROUP NAMESPACE [KEY=VALUE… -KEY…]


def config_words(text: str) -> list[str]:
    """The words of a config command. Unlike a shell, quotes stay in the word and {…}, […] or quotes may hold
    spaces, so `response={"format": "SoracomHarvest"}` reaches the value parser as typed."""
    words: list[str] = []
    current: list[str] = []
    depth, quote, escaping = 0, "", False
    for char in text.translate(TYPOGRAPHIC_QUOTES):
        if quote:
            current.append(char)
            if escaping:
                escaping = False
            elif char == "\\" and quote == '"':
                escaping = True
            elif char == quote:
                quote = ""
            continue
        if char.isspace() and depth == 0:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(char)
        if char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth = max(0, depth - 1)
    if quote or depth:
        raise UserError(t("group.unbalanced", text=text))
    if current:
        words.append("".join(current))
    return words


def unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


async def configure(request: Request) -> None:
    words = config_words(request.text)[1:]  # the first word is "config"
    if len(words) < 2:
        raise UserError(t("group.config_usage"))
    name_or_id, typed_namespace, tokens = unquote(words[0]), unquote(words[1]), words[2:]
    if not tokens:
        namespace = groups.namespace_named(typed_namespace)
        group = await groups.find_group(request.rt.soracom, name_or_id)
        await request.reply(t("group.namespace_title", namespace=namespace, group=group.name),
                            views.namespace_blocks(group.name, namespace,
                                                   groups.parameters(group, namespace)))
        return
    async with request.audited(CONFIG_ACTION, f"{name_or_id} {typed_namespace}") as entry:
        if not request.role.allows(Role.operator):
            raise UserError(t("common.refused_role", role=request.role.name, command=request.command,
                              sub="config … KEY=VALUE", required=Role.operator.name, user=request.user_id))
        change = groups.parse_change(groups.namespace_named(typed_namespace), tokens)
        group = await groups.find_group(request.rt.soracom, name_or_id)
        entry.target = f"{group.name} {group.id} {change.namespace}"
        after = await groups.configure(request.rt.soracom, group, change)
    handle = group.name
    shown = request.for_channel(views.configured_text, request.user_id, handle, change)
    await request.announce(shown, request.for_channel(views.configured_blocks, shown, handle, change.namespace, after))


def register(app: AsyncApp, rt: Runtime) -> None:
    async def created(args: dict[str, Any]) -> bool:
        return await groups.group_named_exists(rt.soracom, args["name"])

    rt.state(intents.ReadBacks)[CREATE_ACTION] = created
    jobs.define(rt, jobs.GatedAction(DELETE_ACTION, run_delete, role=Role.operator, requires_code=True,
                                 confirm_label="group.delete_confirm", danger=True))
    register_command(
        app,
        rt,
        "/group",
        [
            Subcommand("list", list_groups),
            Subcommand("show", show_group),
            Subcommand("create", create_group, role=Role.operator, mutating=True),
            Subcommand("delete", ask_delete, role=Role.operator, mutating=True),
            # Viewers may read a namespace; setting or removing parameters checks the operator role itself.
            Subcommand("config", configure),
        ],
        usage_id="group.usage",
    )
