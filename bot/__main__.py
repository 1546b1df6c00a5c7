"""python -m bot serve | console | emulator | setup | db"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import SORACOM_CREDENTIAL_NAMES, ConfigError, Settings, load_settings
from bot.console_folder import DEFAULT_CONSOLE_DIR, ConsoleFolder

log = logging.getLogger("bot")

SERVE_HELP = """\
Runs the bot for a Slack workspace: POST /slack/events (Slack's requests, signed), GET /healthz (database and
Slack: ok, unreachable or token rejected), POST /soracom/events (SORACOM Event Handler alerts), on $HOST:$PORT.

Set (in the environment or .env):
  SLACK_BOT_TOKEN         the app's Bot User OAuth Token (xoxb-…); checked with auth.test at start
  SLACK_SIGNING_SECRET    the app's signing secret (or SLACK_APP_TOKEN, xapp-…, for Socket Mode)
  SORACOM_AUTH_KEY_ID and SORACOM_AUTH_KEY (or SORACOM_EMAIL and SORACOM_PASSWORD, or a SAM user):
                          without any, the bot serves the embedded emulator and every reply says Sandbox
  DATABASE_URL            sqlite:///data/bot.db (default) or postgresql://…
  BOT_PUBLIC_URL          the bot's https:// URL, for alerts and MFA enrollment links
  BOT_ADMINS              Slack user IDs that are admins, comma-separated
  HOST, PORT              where to listen (0.0.0.0:3000)
See README.md for the rest (BOT_LANG, BOT_TIMEZONE, BOT_SECRET_KEY, BOT_EVENTS_TOKEN, …).
"""
EMULATOR_HELP = """\
Serves the embedded SORACOM API emulator over HTTP: the API under /v1 (seeded demo data: 25 SIMs, groups, bills),
and its control API under /_emulator (faults, clock, request log). Point a bot at it with
SORACOM_ENDPOINT=http://HOST:PORT and the demo operator's AuthKey (DEMO_AUTH_KEY_ID and DEMO_AUTH_KEY in
bot/emulator/seed.py). Its data lives in memory and starts from the seed each time; nothing reaches SORACOM.
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["setup"]:  # the setup CLI parses its own options, --help included
        from bot.setup_cli import main as setup_main

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return setup_main(argv[1:])
    parser = argparse.ArgumentParser(prog="soracom-bot", description="Slack chat-ops for the SORACOM IoT platform.")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default INFO; WARNING for the console)")
    commands = parser.add_subparsers(dest="mode", required=True)

    commands.add_parser("serve", help="run the bot: POST /slack/events and GET /healthz on $PORT",
                        formatter_class=argparse.RawDescriptionHelpFormatter, description=SERVE_HELP)

    console = commands.add_parser("console", help="the bot, the SORACOM emulator and a local Slack in one terminal")
    console.add_argument("--user", default="U_LOCAL", help="Slack user ID that types (default U_LOCAL)")
    console.add_argument("--channel", default="C_LOCAL", help="channel ID (default C_LOCAL)")
    console.add_argument("-c", dest="command", help="run one line (e.g. \"/sim list\") and exit")
    console.add_argument("--script", help="run the lines of a file and exit")
    console.add_argument("--data", default=str(DEFAULT_CONSOLE_DIR),
                         help=f"the console's own data folder: its database and the emulator's state, kept across "
                              f"restarts (default {DEFAULT_CONSOLE_DIR}; never serve's DATABASE_URL)")

    emulator = commands.add_parser("emulator", help="serve the embedded SORACOM API emulator alone",
                                   formatter_class=argparse.RawDescriptionHelpFormatter, description=EMULATOR_HELP)
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    emulator.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")

    commands.add_parser("setup", help="account-level chores: login, payer info, addresses, MFA, bot user")

    db = commands.add_parser("db", help="database migrations of DATABASE_URL (the bot also applies them at start)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate to the newest revision (stamps a database made before migrations)")
    db_commands.add_parser("current", help="print the revision the database is at")
    revision = db_commands.add_parser("revision", help="for developers: autogenerate a revision from the models")
    revision.add_argument("-m", "--message", required=True, help='what it changes, e.g. "add jobs table"')

    args = parser.parse_args(argv)
    quiet = args.mode == "console" or getattr(args, "db_command", None) == "current"
    level = args.log_level or ("WARNING" if quiet else "INFO")
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    try:
        if args.mode == "emulator":
            from bot.emulator import serve_emulator

            serve_emulator(host=args.host, port=args.port)
            return 0
        if args.mode == "db" and args.db_command == "revision":  # works on a scratch database, needs no settings
            return run_db(args, "")
        # The console is the local trial: it always runs on the emulator, whatever SORACOM credentials are around.
        console_only = {name: None for name in SORACOM_CREDENTIAL_NAMES} if args.mode == "console" else {}
        settings = load_settings(**console_only)
        if args.mode == "db":
            return run_db(args, settings.DATABASE_URL)
        if args.mode == "serve":
            from bot.serve import serve

            return serve(settings)
        return asyncio.run(run_console(settings, args))
    except ConfigError as exc:
        print(f"soracom-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_db(args: argparse.Namespace, url: str) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import migrations

    try:
        if args.db_command == "revision":
            print(f"wrote {migrations.revision(args.message)}")
            return 0
        revision = migrations.upgrade(url) if args.db_command == "upgrade" else migrations.current(url)
    except (SQLAlchemyError, migrations.UnknownSchema) as exc:
        # The driver's own message (host, port, what failed) without SQLAlchemy's SQL echo; URLs are not in it.
        print(f"soracom-bot: database: {getattr(exc, 'orig', None) or exc}", file=sys.stderr)
        return 1
    head = migrations.head()
    print(f"{revision or 'none'}{' (head)' if revision == head else f' (head is {head})'}")
    return 0


async def run_console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.emulator.persist import UnreadableState

    admins = ",".join(filter(None, [settings.BOT_ADMINS, args.user]))
    folder = ConsoleFolder(Path(args.data))
    settings = folder.settings(settings.model_copy(update={"BOT_ADMINS": admins}))
    lines = [args.command] if args.command else None
    if args.script:
        with open(args.script, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    note = ""
    while True:  # once, or again after :reset
        if folder.half_kept():
            folder.wipe()
            note = f"\n(the console's data in {folder.path} was incomplete: started afresh)"
        try:
            lines, reset = await _console_session(settings, args, folder, lines, note)
        except UnreadableState as exc:
            print(f"soracom-bot: {folder.emulator_state} is unreadable ({exc}); start afresh with "
                  f"`:reset`, or delete the files in {folder.path}", file=sys.stderr)
            return 1
        if not reset:
            return 0
        folder.wipe()
        note = ""


async def _console_session(settings: Settings, args: argparse.Namespace, folder: ConsoleFolder,
                           lines: list[str] | None, note: str) -> tuple[list[str] | None, bool]:
    """One run of the console; returns the script lines left and whether :reset ended it."""
    from bot.local import LocalBot
    from bot.localslack.console import Console

    async with LocalBot(settings, scheduler=True, sweeper=True, serve_http=True,
                        emulator_file=folder.emulator_state) as local:
        assert local.sender is not None
        banner = (
            "SORACOM Bot console — you are an admin here. Type /soracom help, /sim list …; "
            "a number presses a button; :help for more, :quit to leave."
            + ("" if not local.rt or not local.rt.sandbox else "\nSORACOM: embedded emulator (sandbox).")
            + f"\nThe console's data (database and emulator) is kept in {folder.path}; :reset starts afresh." + note
        )
        console = Console(local.sender, local.fake, local.settle, user_id=args.user, channel_id=args.channel,
                          banner=banner, traffic=local.add_traffic, device=local.device,
                          authenticator=folder.authenticator)
        if lines is None:
            await console.run_interactive()
            return None, console.reset_requested
        if note:
            console.say(note.strip())
        left = await console.run_script(lines)
        return left, console.reset_requested


if __name__ == "__main__":
    sys.exit(main())
