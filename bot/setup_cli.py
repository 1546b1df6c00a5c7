"""`soracom-bot setup …` (also `python -m bot setup …`): account chores that do not belong in a channel.

With no SORACOM credentials configured, every run talks to an embedded emulator in this process and
says so: nothing real is touched, and what it holds is gone when the command exits.
Passwords are prompted without echo, never read from the command line; secrets are never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx
import segno

from bot.config import ConfigError, Settings, load_settings
from bot.messages import t, unescape
from bot.runtime import EMBEDDED_EMULATOR_ENDPOINT, client_from_settings, credentials_from_settings, embedded_emulator
from bot.services import account
from bot.services.errors import InputError
from bot.services.orders import ADDRESS_FIELDS, REQUIRED_ADDRESS_FIELDS
from bot.soracom import SoracomClient, SoracomError
from bot.soracom.models import ShippingAddress

PROG = "soracom-bot setup"
TOKEN_HELP = "the token from the mail (put -- before a token that begins with -)"
DEFAULT_ENV_FILE = ".env"
KEY_ID_NAME, KEY_NAME = "SORACOM_AUTH_KEY_ID", "SORACOM_AUTH_KEY"
ROOT_SECRET_NAMES = ("SORACOM_EMAIL", "SORACOM_PASSWORD")
CONSOLE_URL = "https://console.soracom.io"
SANDBOX_NOTICE = (
    "SORACOM: embedded emulator (sandbox) — no SORACOM credentials are set, so nothing real is touched; "
    "what it holds is gone when this command exits."
)
KEEP_OR_CLEAR = "Enter keeps the value in [brackets]; '-' clears it."

PAYER_LABELS = {"companyName": "Company name", "department": "Department", "fullName": "Full name"}
ADDRESS_LABELS = {
    "companyName": "Company name", "department": "Department", "fullName": "Full name", "zipCode": "Zip code",
    "state": "State (prefecture)", "city": "City", "addressLine1": "Address line 1",
    "addressLine2": "Address line 2", "building": "Building", "phoneNumber": "Phone number",
}


@dataclass
class Terminal:
    """Where the CLI writes and how it asks; tests pass their own."""

    out: TextIO
    err: TextIO
    ask: Callable[[str], str]  # shows the prompt, echoes the answer
    ask_secret: Callable[[str], str]  # no echo

    @classmethod
    def standard(cls) -> "Terminal":
        return cls(sys.stdout, sys.stderr, input, getpass.getpass)

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def note(self, text: str) -> None:
        print(text, file=self.err)

    def prompt(self, label: str, *, secret: bool = False) -> str:
        try:
            return (self.ask_secret if secret else self.ask)(f"{label}: ")
        except EOFError:
            raise Abort("input ended before every question was answered; nothing was sent") from None


class Abort(Exception):
    """The CLI stops with this one line and status; nothing (more) was sent."""

    def __init__(self, line: str, status: int = 1) -> None:
        super().__init__(line)
        self.line = line
        self.status = status


@dataclass
class Context:
    terminal: Terminal
    settings: Settings
    sandbox: bool


Command = Callable[[Context, SoracomClient, argparse.Namespace], Awaitable[None]]


def main(argv: list[str], *, terminal: Terminal | None = None, settings: Settings | None = None,
         transport: httpx.AsyncBaseTransport | None = None) -> int:
    terminal = terminal or Terminal.standard()
    parser = build_parser()
    if not argv or argv[0] == "help":
        parser.print_help(terminal.out)
        return 0 if argv else 2
    try:
        with redirect_stdout(terminal.out), redirect_stderr(terminal.err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = settings or load_settings()
    except ConfigError as exc:
        terminal.note(f"error: {exc}")
        return 2
    sandbox = settings.uses_emulator
    if sandbox:
        transport = transport or _embedded_emulator()
        settings = settings.model_copy(update={"SORACOM_ENDPOINT": EMBEDDED_EMULATOR_ENDPOINT})
        terminal.note(SANDBOX_NOTICE)
    with _quiet_http_log():
        return asyncio.run(_run(args.command, Context(terminal, settings, sandbox), args, transport))


@contextmanager
def _quiet_http_log() -> Iterator[None]:
    """httpx logs every request at INFO, which buries the answers in a terminal; DEBUG still shows them."""
    http_log = logging.getLogger("httpx")
    if http_log.level != logging.NOTSET or logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    http_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        http_log.setLevel(logging.NOTSET)


def _embedded_emulator() -> httpx.AsyncBaseTransport:
    return embedded_emulator()[1]


def open_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> SoracomClient:
    """A client for one setup run; `settings` must already point at the endpoint to use."""
    return client_from_settings(settings, transport, token_timeout_seconds=account.SETUP_TOKEN_TIMEOUT)


async def _run(command: Command, ctx: Context, args: argparse.Namespace,
               transport: httpx.AsyncBaseTransport | None) -> int:
    fail = ctx.terminal.note
    async with open_client(ctx.settings, transport) as client:
        try:
            await command(ctx, client, args)
        except Abort as exc:
            fail(f"error: {exc.line}")
            return exc.status
        except InputError as exc:
            fail(f"error: {unescape(t(exc.message_id, **exc.values))}")  # a terminal, not Slack mrkdwn
            return 2
        except account.BotUserIncomplete as exc:
            fail(f"error: {api_error_line(exc.error)}")
            fail(f"The SAM user {exc.user_name} exists now but is not ready: delete it in the User Console "
                 f"({CONSOLE_URL}) and run this again.")
            return 1
        except SoracomError as exc:
            fail(f"error: {api_error_line(exc)}")
            return 1
    return 0


def api_error_line(error: SoracomError) -> str:
    """`COM0006 Token is invalid.`: the API's code (else the HTTP status) and its message, one line."""
    label = error.code or (str(error.status) if error.status else "")
    return " ".join(f"{label} {error.message}".split())


# login


async def login(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    settings, say = ctx.settings, ctx.terminal.say
    check = await account.check_login(client, credentials_from_settings(settings))
    expires = check.token_expires_at.astimezone(settings.timezone)
    coverage: str = settings.SORACOM_COVERAGE
    if settings.SORACOM_ENDPOINT and not ctx.sandbox:
        coverage += " (SORACOM_ENDPOINT overrides it)"
    say("Credentials accepted.")
    say(f"operator:    {check.operator_id}")
    say(f"signed in:   {'SAM user ' + check.user_name if check.user_name else 'root user'} ({check.credentials})")
    say(f"coverage:    {coverage}")
    say(f"endpoint:    {settings.soracom_endpoint}{' (in this process)' if ctx.sandbox else ''}")
    say(f"token:       valid until {expires:%Y-%m-%d %H:%M %Z} ({account.SETUP_TOKEN_TIMEOUT // 60} min); never shown")


# sign-up and password reset


def new_password(terminal: Terminal) -> str:
    password = terminal.prompt("Password", secret=True)
    if not password:
        raise Abort("the password is empty; nothing was sent")
    if terminal.prompt("Password again", secret=True) != password:
        raise Abort("the two passwords differ; nothing was sent")
    return password


async def signup(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    password = new_password(ctx.terminal)
    try:
        await account.sign_up(client, args.email, password)
    except account.Unsupported:
        raise Abort(f"{ctx.settings.soracom_endpoint} does not offer sign-up: the public SORACOM API dropped "
                    f"POST /operators. Sign up in the SORACOM User Console ({CONSOLE_URL}) instead.") from None
    ctx.terminal.say(f"Sign-up sent for {args.email}: SORACOM mails a verification token to that address.")
    ctx.terminal.say(f"Then run: {PROG} verify TOKEN")


async def verify(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    try:
        await account.verify_sign_up(client, args.token)
    except account.Unsupported:
        raise Abort(f"{ctx.settings.soracom_endpoint} does not offer e-mail verification: the public SORACOM API "
                    "dropped POST /operators/verify. Follow the link of the verification mail instead.") from None
    ctx.terminal.say(f"E-mail address verified: the operator can sign in now. Check it with: {PROG} login")


async def password_reset_issue(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    await account.issue_password_reset(client, args.email)
    ctx.terminal.say(f"If {args.email} belongs to an operator, SORACOM has mailed it a password reset token.")
    ctx.terminal.say(f"Then run: {PROG} password-reset verify TOKEN")


async def password_reset_verify(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    ctx.terminal.say("Choose the new password of the root user.")
    await account.reset_password(client, args.token, new_password(ctx.terminal))
    ctx.terminal.say("Password changed. Update SORACOM_PASSWORD wherever the old one is configured.")


# payer information


async def payer_info_show(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    info = await account.payer_information(client)
    if info is None:
        ctx.terminal.say(f"No payer information is registered. Set it with: {PROG} payer-info set")
        return
    for name, label in PAYER_LABELS.items():
        ctx.terminal.say(f"{label + ':':<14}{getattr(info, name) or '-'}")


async def payer_info_set(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    current = await account.payer_information(client)
    known = {name: getattr(current, name) if current else None for name in PAYER_LABELS}
    given = {name: getattr(args, name) for name in PAYER_LABELS}
    if any(value is not None for value in given.values()):
        fields = {name: given[name] if given[name] is not None else known[name] for name in PAYER_LABELS}
    else:
        ctx.terminal.say(KEEP_OR_CLEAR)
        fields = {name: ask_field(ctx.terminal, label, known[name]) for name, label in PAYER_LABELS.items()}
    info = await account.set_payer_information(client, fields)
    ctx.terminal.say("Payer information registered:")
    for name, label in PAYER_LABELS.items():
        ctx.terminal.say(f"  {label + ':':<14}{getattr(info, name) or '-'}")


def ask_field(terminal: Terminal, label: str, current: str | None = None, *, required: bool = False) -> str | None:
    shown = f"{label}{' *' if required else ''}{f' [{current}]' if current else ''}"
    answer = terminal.prompt(shown).strip()
    if answer == "-":
        return None
    return answer or current


# shipping addresses


async def address_list(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    addresses = await account.shipping_addresses(client)
    if not addresses:
        ctx.terminal.say(f"No shipping addresses. Add one with: {PROG} shipping-address add")
        return
    for address in addresses:
        ctx.terminal.say(describe_address(address))


def describe_address(address: ShippingAddress) -> str:
    who = " / ".join(filter(None, (address.fullName, address.companyName, address.department)))
    where = " ".join(filter(None, (address.zipCode, address.state, address.city, address.addressLine1,
                                   address.addressLine2, address.building)))
    phone = f" tel {address.phoneNumber}" if address.phoneNumber else ""
    return f"{address.shippingAddressId}  {who}  {where}{phone}"


async def address_add(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    fields: dict[str, str | None] = {name: getattr(args, name) for name in ADDRESS_FIELDS}
    if all(value is None for value in fields.values()):
        ctx.terminal.say("New shipping address (* = required):")
        fields = {name: ask_field(ctx.terminal, ADDRESS_LABELS[name], required=name in REQUIRED_ADDRESS_FIELDS)
                  for name in ADDRESS_FIELDS}
    address = await account.add_shipping_address(client, fields)
    ctx.terminal.say(f"Shipping address added: {describe_address(address)}")


async def address_delete(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    await account.delete_shipping_address(client, args.id)
    ctx.terminal.say(f"Shipping address {args.id} deleted.")


# the operator's MFA


async def mfa_enable(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    uri = await account.enable_mfa(client)
    say = ctx.terminal.say
    say("Scan this QR code with an authenticator app (Google Authenticator, 1Password, …):")
    # A full QR code, never a Micro QR: authenticator apps read only the former.
    segno.make_qr(uri).terminal(out=ctx.terminal.out, compact=True)
    say("or enter this URI by hand (it holds the MFA secret: keep it to yourself):")
    say(f"  {uri}")
    say(f"MFA is not active until confirmed with a current code: {PROG} mfa verify CODE")


async def mfa_verify(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    codes = await account.verify_mfa(client, args.code)
    say = ctx.terminal.say
    say("MFA is active: signing in as the root user now needs a code from the authenticator.")
    say("Backup codes, shown this once. Store them offline (a password manager, or paper in a safe);")
    say("each one signs in once when the authenticator is lost:")
    for code in codes:
        say(f"  {code}")


async def mfa_status(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    ctx.terminal.say(f"MFA of the root user: {await account.mfa_status(client)}")


# the bot's SAM user


async def bot_user_create(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    env_path = Path(args.write_env) if args.write_env else None
    if env_path and ctx.sandbox:
        raise Abort(f"not writing {env_path}: a key of the embedded emulator is worthless once this command exits. "
                    "Configure the operator's credentials first.", status=2)
    user = await account.create_bot_user(client, args.name)
    say = ctx.terminal.say
    say(f"SAM user {user.user_name} created; its permission policy allows the {len(user.permissions)} API calls "
        f"the bot makes and nothing else ({PROG} bot-user policy shows them).")
    values = {KEY_ID_NAME: user.auth_key_id, KEY_NAME: user.auth_key}
    if env_path is None:
        say("Its AuthKey, shown this once: put both lines in the bot's environment (.env) and restart the bot.")
        for name, value in values.items():
            say(f"{name}={value}")
        return
    others = write_env(env_path, values)
    say(f"{KEY_ID_NAME}={user.auth_key_id} and its {KEY_NAME} written to {env_path} (mode 0600); restart the bot.")
    kept = [name for name in ROOT_SECRET_NAMES if name in others]
    if kept:
        say(f"note: {env_path} still holds {', '.join(kept)}: the bot uses the AuthKey first; "
            "remove the root user's credentials from it.")


async def bot_user_policy(ctx: Context, client: SoracomClient, args: argparse.Namespace) -> None:
    ctx.terminal.say(json.dumps(account.bot_permission_policy(), indent=2))


_ENV_NAME = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def write_env(path: Path, values: Mapping[str, str]) -> set[str]:
    """Sets these names in a .env file in place, keeping its other lines, readable by its owner only.

    Returns the other names the file holds.
    """
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pending, others, result = dict(values), set(), []
    for line in lines:
        found = _ENV_NAME.match(line)
        name = found.group(1) if found else None
        if name in values:
            if name in pending:
                result.append(f"{name}={pending.pop(name)}")
            continue  # a second assignment of a replaced name would win over it when read
        if name:
            others.add(name)
        result.append(line)
    result.extend(f"{name}={value}" for name, value in pending.items())
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an old temporary file had another mode
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(result) + "\n")
    os.replace(temporary, path)
    return others


# the command line


def _flag(field: str) -> str:
    return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", field).lower()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Account chores in the terminal: login check, sign-up, password reset, payer "
        "information, shipping addresses, the root user's MFA, and the bot's least-privilege SAM user. "
        "With no SORACOM credentials configured it runs against an embedded emulator.")
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    def add(name: str, run: Command, help_text: str, under: argparse._SubParsersAction = commands
            ) -> argparse.ArgumentParser:
        sub = under.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=run)
        return sub

    def group(name: str, help_text: str) -> argparse._SubParsersAction:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest="action", required=True, metavar="ACTION")

    add("login", login, "check the configured credentials: operator, coverage, endpoint, token expiry")
    add("signup", signup, "sign up a new operator (password prompted) where the endpoint still offers it"
        ).add_argument("email")
    add("verify", verify, "verify a sign-up with the token of the verification mail"
        ).add_argument("token", help=TOKEN_HELP)

    reset = group("password-reset", "reset the root user's password by e-mail")
    add("issue", password_reset_issue, "mail a password reset token to this address", reset).add_argument("email")
    add("verify", password_reset_verify, "set a new password (prompted) with the mailed token", reset
        ).add_argument("token", help=TOKEN_HELP)

    payer = group("payer-info", "payer information of the accounting statements")
    add("show", payer_info_show, "show the registered payer information", payer)
    payer_set = add("set", payer_info_set, "register payer information (prompted when no flag is given)", payer)
    for name, label in PAYER_LABELS.items():
        payer_set.add_argument(_flag(name), dest=name, metavar="TEXT", help=label.lower())

    addresses = group("shipping-address", "shipping addresses for SIM orders")
    add("list", address_list, "list the shipping addresses", addresses)
    address = add("add", address_add, "add a shipping address (prompted when no flag is given)", addresses)
    for name in ADDRESS_FIELDS:
        required = " (required)" if name in REQUIRED_ADDRESS_FIELDS else ""
        address.add_argument(_flag(name), dest=name, metavar="TEXT", help=ADDRESS_LABELS[name].lower() + required)
    add("delete", address_delete, "delete a shipping address", addresses).add_argument("id")

    mfa = group("mfa", "MFA of the root user")
    add("enable", mfa_enable, "start enabling MFA: prints the otpauth URI and its QR code", mfa)
    add("verify", mfa_verify, "confirm with a current code; prints the backup codes once", mfa).add_argument("code")
    add("status", mfa_status, "show whether MFA is active", mfa)

    bot_user = group("bot-user", "the least-privilege SAM user the bot runs as")
    create = add("create", bot_user_create, "create it with its permission policy and an AuthKey", bot_user)
    create.add_argument("name", nargs="?", default=account.DEFAULT_BOT_USER,
                        help=f"SAM user name (default {account.DEFAULT_BOT_USER})")
    create.add_argument("--write-env", nargs="?", const=DEFAULT_ENV_FILE, metavar="PATH",
                        help=f"write the AuthKey to this .env file (default {DEFAULT_ENV_FILE}) instead of showing it")
    add("policy", bot_user_policy, "print the permission policy the bot's user gets", bot_user)
    return parser
