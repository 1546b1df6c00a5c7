"""/soracom: help, roles, audit."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.messages import catalogue, t
from bot.runtime import Runtime
from bot.jobs.rows import Pending
from bot.security.roles import Role
from bot.services import audit, roles
from handlers import gate, jobs
from handlers.common import Request, Subcommand, UserError, parse_user, register_command
from handlers.views import soracom as views
from handlers.views.common import text

COMMANDS = ("/sim", "/group", "/order", "/bill", "/mfa", "/alerts", "/soracom")
MAX_AUDIT = 100


async def show_help(request: Request) -> None:
    usages = [(c, t(f"{c[1:]}.usage")) for c in COMMANDS if f"{c[1:]}.usage" in catalogue()]
    await request.reply(t("soracom.help_title"), views.help_blocks(usages))


async def show_roles(request: Request) -> None:
    grants = await roles.list_roles(request.rt.db, request.rt.settings.admins)
    await request.reply(t("soracom.roles_title"), views.roles_blocks(grants))


async def ask_role(request: Request) -> None:
    if len(request.args) != 2:
        raise UserError(t("soracom.role_usage"))
    user = parse_user(request.args[0])
    try:
        role = Role.parse(request.args[1])
    except ValueError:
        raise UserError(t("soracom.role_bad", value=request.args[1])) from None
    current = await roles.role_of(request.rt.db, user, request.rt.settings.admins)
    summary = t("soracom.role_preview", user=user, role=role.name, current=current.name)
    await gate.ask(request, "soracom.role", {"user": user, "role": role.name}, [text(summary)], summary)


async def run_role(request: Request, pending: Pending) -> jobs.Outcome:
    user, role = pending.args["user"], Role.parse(pending.args["role"])
    async with request.audited("soracom.role", f"{user} {role.name}") as entry:
        previous = await roles.role_of(request.rt.db, user, request.rt.settings.admins)
        entry.target = f"{user} {previous.name}->{role.name}"
        await roles.set_role(request.rt.db, user, role, granted_by=request.user_id)
    values = {"user": user, "role": role.name, "previous": previous.name, "by": request.user_id}
    done = t("soracom.role_done", **values)
    await request.announce(request.for_channel(t, "soracom.role_done", **values))
    return jobs.Outcome(True, done)


async def show_audit(request: Request) -> None:
    count = 20
    if request.args:
        value = request.args[0]
        if not value.isdigit() or not 1 <= int(value) <= MAX_AUDIT:
            raise UserError(t("soracom.audit_bad", value=value))
        count = int(value)
    entries = await audit.latest(request.rt.db, count)
    await request.reply(t("soracom.audit_title", count=len(entries), tz=request.rt.settings.BOT_TIMEZONE),
                        views.audit_blocks(entries, request.rt.settings.timezone))


def register(app: AsyncApp, rt: Runtime) -> None:
    jobs.define(rt, jobs.GatedAction("soracom.role", run_role, role=Role.admin, requires_code=True))
    register_command(
        app,
        rt,
        "/soracom",
        [
            Subcommand("help", show_help),
            Subcommand("roles", show_roles),
            Subcommand("role", ask_role, role=Role.admin, mutating=True),
            Subcommand("audit", show_audit, role=Role.operator),
        ],
        usage_id="soracom.usage",
        default=Subcommand("help", show_help),
    )
